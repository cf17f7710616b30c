import Histogram
import NIOConcurrencyHelpers
import SierraFormat

/// Latency histograms (HdrHistogram, microseconds), shared by every client of the swarm.
///
/// Update latency is taken from the simulator's journal: the moment the write carrying the record
/// reached the file, to the moment the client decoded the message. A sample whose journal line is
/// not read yet waits, and is resolved when it is.
public final class LatencyRecorder: Sendable {
    /// `update`: write → decode for well-behaved clients (ws and sse together; `update_ws` and
    /// `update_sse` apart); `update_slow`: the same for deliberately slow readers, kept apart so
    /// they do not hide the others' latency.
    public static let histogramNames = [
        "update", "update_ws", "update_sse", "update_slow", "poll_request", "poll_staleness", "poll_delivery", "delivery", "connect",
        "subscribe_to_snapshot",
        "reconnect", "stage_write_to_wake", "stage_wake_to_queued", "stage_queued_to_decoded",
    ]

    /// Histograms also kept per time window (the run's timeline): reset by ``takeWindow()``.
    public static let windowNames = ["update", "poll_request"]

    private struct State {
        var histograms: [String: Histogram<UInt64>] = [:]
        /// Two significant digits are plenty for a one-second window, and keep it small.
        var windows: [String: Histogram<UInt64>] = [:]
        var pending: [Sample] = []
        var unresolved = 0
        var clampedNegative = 0
    }

    /// A decoded update waiting for its journal line.
    struct Sample {
        var histogram: String
        /// A String of its own (small, kept inline), not a slice that would keep the whole
        /// message alive until the journal resolves it.
        var contract: String
        var seq: Int
        var receivedAt: Int64
        /// For a poll answer's delivery: every record after this one up to `seq` arrived with it.
        var after: Int?
    }

    private let state = NIOLockedValueBox(State())
    public let journal: JournalIndex?

    public init(journal: JournalIndex?) {
        self.journal = journal
        state.withLockedValue { s in
            for name in Self.histogramNames {
                var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
                histogram.autoResize = true
                s.histograms[name] = histogram
            }
            for name in Self.windowNames {
                var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .two)
                histogram.autoResize = true
                s.windows[name] = histogram
            }
        }
    }

    /// Records `value` in `name`, the aggregate it belongs to, and their windows.
    private static func record(_ name: String, _ value: Int64, count: Int = 1, in s: inout State) {
        if value < 0 { s.clampedNegative += count }
        let value = UInt64(max(0, value))
        let count = UInt64(count)
        _ = s.histograms[name]?.record(value, count: count)
        // Comparing a few short names is cheaper than hashing one, on a path taken per message.
        if windowNames.contains(name) { _ = s.windows[name]?.record(value, count: count) }
        if let aggregate = aggregate(of: name) {
            _ = s.histograms[aggregate]?.record(value, count: count)
            _ = s.windows[aggregate]?.record(value, count: count)
        }
    }

    /// The aggregate histogram a per-kind one also counts in (`update_ws` and `update_sse` in
    /// `update`).
    static func aggregate(of name: String) -> String? {
        name == "update_ws" || name == "update_sse" ? "update" : nil
    }

    /// Records a run of values of one histogram (with its aggregate and windows).
    private static func record(_ name: String, _ values: ArraySlice<(String, Int64, count: Int)>, in s: inout State) {
        func add(_ histogram: inout Histogram<UInt64>?) {
            guard histogram != nil else { return }
            for (_, value, count) in values { _ = histogram!.record(UInt64(max(0, value)), count: UInt64(count)) }
        }
        for (_, value, count) in values where value < 0 { s.clampedNegative += count }
        add(&s.histograms[name])
        if windowNames.contains(name) { add(&s.windows[name]) }
        if let aggregate = aggregate(of: name) {
            add(&s.histograms[aggregate])
            add(&s.windows[aggregate])
        }
    }

    /// The window histograms since the last call (empty ones included), and a fresh window.
    public func takeWindow() -> [String: Histogram<UInt64>] {
        state.withLockedValue { s in
            let taken = s.windows
            for name in s.windows.keys { s.windows[name]?.reset() }
            return taken
        }
    }

    /// The bridge's two inner stages of one update (µs), under one lock.
    public func recordStages(wakeToQueued: Int64, queuedToDecoded: Int64) {
        state.withLockedValue { s in
            Self.record("stage_wake_to_queued", wakeToQueued, in: &s)
            Self.record("stage_queued_to_decoded", queuedToDecoded, in: &s)
        }
    }

    /// Records a measured value (µs).
    public func record(_ name: String, microseconds: Int64) {
        state.withLockedValue { s in Self.record(name, microseconds, in: &s) }
    }

    /// An update decoded at `receivedAt` that carries record `seq` of `contract`'s `.scid` file.
    public func update(contract: Substring, seq: Int, receivedAt: Int64, histogram: String = "update") {
        state.withLockedValue { $0.pending.append(Sample(histogram: histogram, contract: String(contract), seq: seq, receivedAt: receivedAt)) }
    }

    /// A poller's answer, received at `receivedAt`, whose newest record is `seq`: how old its data was.
    public func staleness(contract: Substring, seq: Int, receivedAt: Int64) {
        state.withLockedValue { $0.pending.append(Sample(histogram: "poll_staleness", contract: String(contract), seq: seq, receivedAt: receivedAt)) }
    }

    /// A poller's answer carried records `after + 1 … seq` for the first time: each was delivered
    /// now, however long ago it was written (a record written just after a poll waits for the next).
    /// `histogram`: `poll_delivery` for pollers, `delivery` for pushed updates (the same measure:
    /// write → the first message that carried the record, whatever the message).
    public func delivery(contract: Substring, after: Int, seq: Int, receivedAt: Int64, histogram: String = "poll_delivery") {
        state.withLockedValue {
            $0.pending.append(Sample(histogram: histogram, contract: String(contract), seq: seq, receivedAt: receivedAt, after: after))
        }
    }

    /// Reads the journal and resolves what it can; with `final`, the rest count as unresolved.
    public func resolve(final: Bool = false) {
        guard let journal else {
            state.withLockedValue { s in
                if final {
                    s.unresolved += s.pending.count
                    s.pending.removeAll()
                }
            }
            return
        }
        let pending = state.withLockedValue { s -> [Sample] in
            defer { s.pending.removeAll(keepingCapacity: true) }
            return s.pending
        }
        journal.refresh()
        var waiting: [Sample] = []
        var values: [(String, Int64, count: Int)] = []
        values.reserveCapacity(pending.count)
        for sample in pending {
            if let after = sample.after {
                guard let writes = journal.writes(file: sample.contract, after: after, through: sample.seq) else {
                    waiting.append(sample)
                    continue
                }
                for write in writes { values.append((sample.histogram, sample.receivedAt - write.at, write.count)) }
            } else if let at = journal.writtenAt(file: sample.contract, index: sample.seq) {
                values.append((sample.histogram, sample.receivedAt - at, 1))
            } else {
                waiting.append(sample)
            }
        }
        state.withLockedValue { s in
            // Runs of one histogram (most samples are the same kind) are recorded together, so
            // the histograms are looked up once per run, not per sample.
            var start = 0
            while start < values.count {
                let name = values[start].0
                var end = start + 1
                while end < values.count, values[end].0 == name { end += 1 }
                Self.record(name, values[start..<end], in: &s)
                start = end
            }
            if final {
                s.unresolved += waiting.count + s.pending.count
                s.pending.removeAll()
            } else {
                s.pending.append(contentsOf: waiting)
            }
        }
    }

    public func histogram(_ name: String) -> Histogram<UInt64>? {
        state.withLockedValue { $0.histograms[name] }
    }

    public var unresolved: Int { state.withLockedValue { $0.unresolved } }
    /// Samples that came out negative (clock trouble) and were recorded as 0.
    public var negative: Int { state.withLockedValue { $0.clampedNegative } }
}
