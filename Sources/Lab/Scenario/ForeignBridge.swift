/// A bridge BridgeLab did not build, as an arm runs it (docs/PROFILES.md): the command that
/// starts it, the profile that says how to talk to it, and how to tell it is ready. The runner
/// fills the placeholders, starts it on a free port, samples its whole process tree, probes its
/// health route, restarts it after a `kill` fault and stops it like the reference bridge.
public struct ForeignBridge: Sendable, Codable, Equatable {
    /// The command and its arguments, with `{data_dir}`, `{port}`, `{host}`, `{package}` (the
    /// folder holding `scenarios/`) and `{bin_dir}` (where the runner's own executables are, such
    /// as `floor-bridge`) filled in. A first word without a `/` is looked up on `PATH`.
    public var command: [String]
    /// The URL that answers 200 once the bridge serves (default: the profile's health URL).
    public var ready: String?
    /// Seconds the bridge has to answer `ready` after it starts.
    public var readyTimeout: Double = 30
    /// Environment variables added to the runner's (placeholders filled).
    public var environment: [String: String] = [:]
    /// The working directory (default: `{package}`).
    public var workingDirectory: String?

    public init(command: [String]) { self.command = command }

    public static let placeholders = ["data_dir", "port", "host", "package", "bin_dir"]
}
