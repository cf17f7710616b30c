import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The bridge as a process loadgen starts itself (`--bridge-command`), so that a run can kill it
/// with SIGKILL and start it again, to measure recovery.
final class BridgeProcessController: Sendable {
    let command: [String]
    private let process = NIOLockedValueBox<Process?>(nil)
    let restarts = NIOLockedValueBox(0)

    init(command: [String]) {
        self.command = command
    }

    func start() throws {
        guard let executable = command.first else { throw SwarmError("--bridge-command is empty") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(command.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw SwarmError("cannot start the bridge (\(executable)): \(error)")
        }
        self.process.withLockedValue { $0 = process }
    }

    /// SIGKILL: no close frames, no flushing, as a crash.
    func kill() {
        process.withLockedValue { process in
            if let process, process.isRunning {
                Glibc.kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    func restart() throws {
        try start()
        restarts.withLockedValue { $0 += 1 }
    }

    /// SIGTERM at the end of the run.
    func stop() {
        process.withLockedValue { process in
            if let process, process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
    }
}
