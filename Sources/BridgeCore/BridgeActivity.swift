import Histogram
import NIOConcurrencyHelpers
import Synchronization

/// What the bridge did lately, for its own dashboard: records read, messages sent and the
/// wake → queued time of each file read, taken per interval. Counting costs an atomic add per
/// write batch and one histogram record per file read, never a lookup.
public final class BridgeActivity: Sendable {
    private let records = Atomic<Int>(0)
    private let messages = Atomic<Int>(0)
    private let window = NIOLockedValueBox(BridgeActivity.emptyWindow())

    static func emptyWindow() -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
        histogram.autoResize = true
        return histogram
    }

    public init() {}

    public func read(records count: Int) {
        records.add(count, ordering: .relaxed)
    }

    public func sent(messages count: Int) {
        messages.add(count, ordering: .relaxed)
    }

    /// One file read: from the watcher's wake-up to the last subscriber's queue.
    public func detectToSend(microseconds: UInt64) {
        window.withLockedValue { _ = $0.record(microseconds) }
    }

    /// Totals since start, and the wake → queued times since the last call.
    public func take() -> (records: Int, messages: Int, detectToSend: Histogram<UInt64>) {
        let histogram = window.withLockedValue { window in
            defer { window = Self.emptyWindow() }
            return window
        }
        return (records.load(ordering: .relaxed), messages.load(ordering: .relaxed), histogram)
    }
}
