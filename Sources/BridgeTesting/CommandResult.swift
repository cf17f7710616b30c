import Foundation

/// What a command printed and how it ended.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` to its end, both outputs read at once (a full pipe never stalls it); blocks.
public func runCommand(_ executable: URL, _ arguments: [String]) throws -> CommandResult {
    let (process, out, err) = pipedProcess(executable, arguments)
    try process.run()
    let errors = ErrorsRead()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        errors.data = err.fileHandleForReading.readDataToEndOfFile()
        done.signal()
    }
    let output = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus,
        stdout: String(decoding: output, as: UTF8.self),
        stderr: String(decoding: errors.data, as: UTF8.self)
    )
}

/// A process for `executable` whose standard output and error are pipes, not yet started.
func pipedProcess(_ executable: URL, _ arguments: [String]) -> (Process, out: Pipe, err: Pipe) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    return (process, out, err)
}

/// The same, on a thread of its own (off the concurrency pool).
public func runCommand(_ executable: URL, _ arguments: [String]) async throws -> CommandResult {
    try await blocking { try runCommand(executable, arguments) }
}

/// The package's built executable `name` (`.build/debug/NAME`).
public func builtExecutable(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/" + name)
}

/// Written by one thread, read after it signalled.
private final class ErrorsRead: @unchecked Sendable {
    var data = Data()
}
