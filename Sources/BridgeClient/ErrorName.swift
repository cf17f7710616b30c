import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A stable, snake_case name for an error, for counters in statistics and summaries: the same
/// failure gets the same key across runs and library versions (a type's printed name does not).
public enum ErrorName {
    public static func of(_ error: any Error) -> String {
        switch error {
        case is CancellationError:
            return "cancelled"
        case let io as IOError:
            return errno(io.errnoCode)
        case let channel as ChannelError:
            switch channel {
            case .connectTimeout: return "connect_timeout"
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof: return "closed"
            default: return "channel_error"
            }
        case is NIOConnectionError:
            return "connect_failed"
        case let failure as LoopWebSocket.Failure:
            switch failure {
            case .refused(let status): return "upgrade_refused_\(status)"
            case .messageTooLarge: return "message_too_large"
            case .invalidFrame: return "invalid_frame"
            }
        case let failure as HTTPConnection.Failure:
            switch failure {
            case .closed: return "closed"
            case .unexpected: return "unexpected_response"
            }
        case let refused as EventSource.Refused:
            return "refused_\(refused.status)"
        case is MessageTooLarge:
            return "message_too_large"
        default:
            return "other"
        }
    }

    static func errno(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: return "connection_refused"
        case ECONNRESET: return "connection_reset"
        case EPIPE: return "broken_pipe"
        case ETIMEDOUT: return "timed_out"
        case EMFILE, ENFILE: return "too_many_open_files"
        case EADDRNOTAVAIL: return "address_not_available"
        default: return "errno_\(code)"
        }
    }
}
