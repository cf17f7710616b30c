/// A problem the simulator reports to its user: always a sentence, never a stack trace.
public enum SimulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownRoot(String, known: [String])
    case noSymbols
    case invalidRate(Double)
    case invalidDuration(Double)
    case invalidFlushInterval(Int)
    case invalidOption(String)
    case invalidScript(String)
    case unwritableFolder(path: String, errno: Int32)
    case io(path: String, operation: String, errno: Int32)
    /// A replay that cannot start: no such capture, no data for a symbol, a window outside the data.
    case replay(String)

    public var description: String {
        switch self {
        case .unknownRoot(let root, let known):
            return "unknown symbol root '\(root)'; known roots: \(known.joined(separator: ", "))"
        case .noSymbols:
            return "no symbols given; name at least one root, e.g. --symbols NQ,ES"
        case .invalidRate(let rate):
            return "rate must be a positive number of records per second, got \(rate)"
        case .invalidDuration(let duration):
            return "duration must be a positive number of seconds, got \(duration)"
        case .invalidFlushInterval(let ms):
            return "flush interval must be 0 (every record) or a positive number of milliseconds, got \(ms)"
        case .invalidOption(let message):
            return message
        case .invalidScript(let message):
            return "invalid scripted event: \(message)"
        case .unwritableFolder(let path, let errno):
            return "cannot write to data folder '\(path)': \(describe(errno))"
        case .io(let path, let operation, let errno):
            return "\(operation) '\(path)' failed: \(describe(errno))"
        case .replay(let message):
            return "cannot replay: \(message)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

func describe(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text) + " (errno \(code))"
}
