import Foundation

/// Where the bridge, simulator and loadgen binaries are, and which build configuration they are.
public struct Executables: Sendable, Codable, Equatable {
    public var directory: String
    public var bridge: String { directory + "/bridge" }
    public var simulator: String { directory + "/simulator" }
    public var loadgen: String { directory + "/loadgen" }
    /// The runner itself: `bridgelab launch` starts bridges with limits and an allocator.
    public var bridgelab: String { directory + "/bridgelab" }
    /// `release` or `debug`, read from the build folder's name; a debug build measures the compiler
    /// as much as the design, and the report says so.
    public var configuration: String

    /// `floor-bridge` is the per-update yardstick some scenarios run beside the bridge (`{bin_dir}`).
    public static let names = ["bridge", "simulator", "loadgen", "floor-bridge"]

    public init(directory: String) {
        self.directory = directory
        let folder = URL(fileURLWithPath: directory).lastPathComponent
        configuration = folder == "debug" || folder == "release" ? folder : "unknown"
    }

    public var missing: [String] {
        Self.names.filter { !FileManager.default.isExecutableFile(atPath: directory + "/" + $0) }
    }

    /// The folder of the running executable (`bridgelab` sits beside the others in `.build/…/release`).
    public static func besideThisExecutable() -> Executables {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return Executables(directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// The package folder above `directory` (where `Package.swift` is), if any.
    public var packageRoot: String? {
        var url = URL(fileURLWithPath: directory)
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return nil
    }

    /// Builds the missing executables with `swift build` in the same configuration, so that
    /// `swift run -c release bridgelab` works on a fresh clone.
    public func buildMissing(log: (String) -> Void) throws {
        let missing = self.missing
        guard !missing.isEmpty else { return }
        guard let root = packageRoot, configuration != "unknown" else {
            throw RunnerError("\(missing.joined(separator: ", ")) not found in \(directory); build them, or pass --bin-dir")
        }
        for name in missing {
            log("building \(name) (\(configuration))…")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["swift", "build", "-c", configuration, "--product", name]
            process.currentDirectoryURL = URL(fileURLWithPath: root)
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw RunnerError("swift build --product \(name) failed (status \(process.terminationStatus))")
            }
        }
        guard self.missing.isEmpty else { throw RunnerError("\(self.missing.joined(separator: ", ")) still missing in \(directory) after building") }
    }
}

/// The harness itself failed (exit code 2): a missing binary, a bridge that never started.
public struct RunnerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
