import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the runner sets on a bridge process before it starts: a descriptor limit (the old
/// bridge's crash came from running out of them) and an allocator loaded with `LD_PRELOAD`.
/// The runner starts the bridge through `bridgelab launch`, which applies these and then execs it,
/// so they hold from the process's first instruction.
public struct Launch: Sendable, Codable, Equatable {
    /// `RLIMIT_NOFILE` (soft and hard).
    public var descriptorLimit: Int?
    /// `system` or `jemalloc`.
    public var allocator = "system"

    public init(descriptorLimit: Int? = nil, allocator: String = "system") {
        self.descriptorLimit = descriptorLimit
        self.allocator = allocator
    }

    public var isDefault: Bool { descriptorLimit == nil && allocator == "system" }

    public static let allocators = ["system", "jemalloc"]

    /// Where Debian's (or another distribution's) jemalloc shared library is.
    public static let jemallocCandidates = [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2", "/usr/lib/x86_64-linux-gnu/libjemalloc.so",
    ]

    /// The library to preload, or an error saying how to get it.
    public func preloadPath(candidates: [String] = Launch.jemallocCandidates) throws -> String? {
        guard allocator == "jemalloc" else { return nil }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw RunnerError(
                "allocator jemalloc: no libjemalloc.so.2 found (looked in \(candidates.joined(separator: ", "))); install it: apt-get install -y libjemalloc-dev"
            )
        }
        return path
    }

    /// The command line that starts `executable` under these settings through `launcher`
    /// (`bridgelab`), or the command itself when nothing is to be set.
    public func commandLine(launcher: String, executable: String, arguments: [String]) throws -> (String, [String]) {
        guard !isDefault else { return (executable, arguments) }
        var prefix = ["launch"]
        if let descriptorLimit { prefix += ["--nofile", String(descriptorLimit)] }
        if let preload = try preloadPath() { prefix += ["--preload", preload] }
        return (launcher, prefix + ["--", executable] + arguments)
    }

    /// Applies the limit and the preload to this process and replaces it with `command`; returns
    /// only on failure, with what failed.
    public static func exec(descriptorLimit: Int?, preload: String?, command: [String]) -> String {
        guard let executable = command.first else { return "launch needs a command after --" }
        if let descriptorLimit {
            var limit = rlimit(rlim_cur: rlim_t(descriptorLimit), rlim_max: rlim_t(descriptorLimit))
            guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
                return "setrlimit(RLIMIT_NOFILE, \(descriptorLimit)) failed: \(String(cString: strerror(errno)))"
            }
        }
        if let preload {
            guard FileManager.default.fileExists(atPath: preload) else { return "\(preload) does not exist" }
            setenv("LD_PRELOAD", preload, 1)
        }
        var arguments: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) }
        arguments.append(nil)
        execv(executable, &arguments)
        return "cannot start \(executable): \(String(cString: strerror(errno)))"
    }
}
