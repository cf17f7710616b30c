import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The built `bridge` executable, run as a process, as a user (or the runner) runs it.
public final class BridgeProcess: Sendable {
    public let process: Process
    private let output = NIOLockedValueBox("")
    private let errors = NIOLockedValueBox("")

    public static var executable: URL {
        get throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            for configuration in ["debug", "release"] {
                let url = root.appendingPathComponent(".build/\(configuration)/bridge")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
            throw Timeout(description: "the bridge executable is not built (swift build)")
        }
    }

    /// The bridge through `/bin/sh -c SCRIPT bridge ARGUMENTS…` (a script ending in
    /// `exec "$0" "$@"`), to set a limit before it starts.
    public convenience init(shell script: String, _ arguments: [String]) throws {
        try self.init(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", script, try Self.executable.path] + arguments)
    }

    public convenience init(_ arguments: [String]) throws {
        try self.init(executable: try Self.executable, arguments)
    }

    public init(executable: URL, _ arguments: [String]) throws {
        let (process, out, err) = pipedProcess(executable, arguments)
        self.process = process
        let output = self.output
        let errors = self.errors
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.withLockedValue { $0 += String(decoding: data, as: UTF8.self) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            errors.withLockedValue { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    public var stdout: String { output.withLockedValue { $0 } }
    public var stderr: String { errors.withLockedValue { $0 } }

    /// The port from the start-up line.
    public func port(timeout: Double = 20) async throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.contains("listening on http://") }),
                let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                let port = Int(line[range].split(separator: ":").last ?? "")
            {
                return port
            }
            guard process.isRunning else { throw Timeout(description: "bridge exited: \(stderr)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Timeout(description: "no start-up line: \(stdout) \(stderr)")
    }

    public func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the process to end; its exit status, or nil if it is still running.
    public func exit(timeout: Double) async throws -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
