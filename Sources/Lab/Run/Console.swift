import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// Where the runner talks to its user: a status line redrawn in place on a terminal, plain
/// periodic lines otherwise (CI logs), and messages either way.
public final class Console: Sendable {
    public let isTerminal: Bool
    private let lastPlain = NIOLockedValueBox<Double>(0)
    private let quiet: Bool

    public init(quiet: Bool = false) {
        isTerminal = isatty(STDERR_FILENO) == 1
        self.quiet = quiet
    }

    /// A line that stays.
    public func say(_ line: String) {
        write((isTerminal ? "\r\u{1B}[2K" : "") + line + "\n")
    }

    /// The progress line: redrawn on a terminal; every 5 s as a plain line elsewhere.
    public func status(_ line: String) {
        guard !quiet else { return }
        if isTerminal {
            write("\r\u{1B}[2K" + line)
            return
        }
        let now = Date().timeIntervalSince1970
        let due = lastPlain.withLockedValue { last -> Bool in
            guard now - last >= 5 else { return false }
            last = now
            return true
        }
        if due { write(line + "\n") }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Ctrl-C (SIGINT) and SIGTERM: the run stops its children and still writes a partial report.
public final class Interruption: Sendable {
    private let flag = NIOLockedValueBox<Int64?>(nil)

    public init() {}

    public var isSet: Bool { flag.withLockedValue { $0 != nil } }
    /// Unix µs when it came.
    public var at: Int64? { flag.withLockedValue { $0 } }

    public func set() {
        flag.withLockedValue { if $0 == nil { $0 = Int64(Date().timeIntervalSince1970 * 1e6) } }
    }
}
