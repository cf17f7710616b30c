import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A process the runner starts and stops: its output goes to a log file, and how it ended
/// (exit status or signal, and when) is kept — a crash is evidence for the report.
public final class ChildProcess: Sendable {
    public struct Ending: Sendable, Codable, Equatable {
        /// Exit status, or the signal that ended it.
        public var status: Int32
        public var signal: Bool
        /// Unix µs.
        public var at: Int64
        /// Whether the runner asked it to stop (else it ended by itself: a crash or an exit).
        public var requested: Bool

        public init(status: Int32, signal: Bool, at: Int64, requested: Bool) {
            self.status = status
            self.signal = signal
            self.at = at
            self.requested = requested
        }

        public var description: String {
            signal ? "killed by signal \(status) (\(Self.signalName(status)))" : "exited with status \(status)"
        }

        static func signalName(_ signal: Int32) -> String {
            switch signal {
            case SIGKILL: return "SIGKILL"
            case SIGTERM: return "SIGTERM"
            case SIGSEGV: return "SIGSEGV"
            case SIGABRT: return "SIGABRT"
            case SIGILL: return "SIGILL (a Swift trap)"
            case SIGTRAP: return "SIGTRAP (a Swift trap)"
            case SIGBUS: return "SIGBUS"
            case SIGINT: return "SIGINT"
            default: return "signal \(signal)"
            }
        }
    }

    public let name: String
    public let executable: String
    public let arguments: [String]
    /// Where its output goes (nil: nowhere).
    public let logPath: String?
    private let process = Process()
    private struct State {
        var ending: Ending?
        var stopRequested = false
    }
    private let state = NIOLockedValueBox(State())

    public init(
        name: String,
        executable: String,
        arguments: [String],
        logPath: String?,
        environment: [String: String] = [:],
        workingDirectory: String? = nil
    ) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    }

    /// The command line, as a person would type it.
    public var commandLine: String {
        ([executable] + arguments).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    public func start() throws {
        let log: FileHandle
        if let logPath {
            _ = FileManager.default.createFile(atPath: logPath, contents: Data("$ \(commandLine)\n".utf8))
            log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            log.seekToEndOfFile()
        } else {
            log = FileHandle.nullDevice
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let state = self.state
        process.terminationHandler = { process in
            let signalled = process.terminationReason == .uncaughtSignal
            state.withLockedValue { s in
                s.ending = Ending(
                    status: process.terminationStatus,
                    signal: signalled,
                    at: Int64(Date().timeIntervalSince1970 * 1e6),
                    requested: s.stopRequested
                )
            }
            if log !== FileHandle.nullDevice { try? log.close() }
        }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var ending: Ending? { state.withLockedValue { $0.ending } }
    public var isRunning: Bool { ending == nil }

    /// SIGTERM, then SIGKILL if it has not ended within `grace` seconds.
    public func stop(grace: Double = 5) async {
        guard isRunning else { return }
        state.withLockedValue { $0.stopRequested = true }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }

    /// SIGKILL at once (a fault the runner injects: the ending counts as asked for).
    public func forceKill() async {
        guard isRunning else { return }
        state.withLockedValue { $0.stopRequested = true }
        kill(pid, SIGKILL)
        while isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// Waits for it to end by itself, at most `seconds`; true if it ended.
    public func wait(seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return !isRunning
    }

    /// The last lines of its log, for an error message.
    public func logTail(lines: Int = 5) -> String {
        guard let logPath, let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
