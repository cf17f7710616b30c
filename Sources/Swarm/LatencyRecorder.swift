import Histogram
import NIOConcurrencyHelpers
import SierraFormat

/// Latency histograms (HdrHistogram, microseconds), shared by every client of the swarm.
///
/// Update latency is taken from the simulator's journal: the moment the write carrying the record
/// reached the file, to the moment the client decoded the message. A sample whose journal line is
/// not read yet waits, and is resolved when it is.
public final class LatencyRecorder: Sendable {
    /// `update`: write → decode for well-behaved clients (ws, sse); `update_slow`: the same for
    /// deliberately slow readers, kept apart so they do not hide the others' latency.
    public static let histogramNames = ["update", "update_slow", "poll_request", "poll_staleness", "connect", "subscribe_to_snapshot", "reconnect"]

    private struct State {
        var histograms: [String: Histogram<UInt64>] = [:]
        var pending: [Sample] = []
        var unresolved = 0
        var clampedNegative = 0
    }

    /// A decoded update waiting for its journal line.
    struct Sample {
        var histogram: String
        var contract: Substring
        var seq: Int
        var receivedAt: Int64
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
        }
    }

    /// Records a measured value (µs).
    public func record(_ name: String, microseconds: Int64) {
        state.withLockedValue { s in
            if microseconds < 0 { s.clampedNegative += 1 }
            _ = s.histograms[name]?.record(UInt64(max(0, microseconds)))
        }
    }

    /// An update decoded at `receivedAt` that carries record `seq` of `contract`'s `.scid` file.
    public func update(contract: Substring, seq: Int, receivedAt: Int64, histogram: String = "update") {
        state.withLockedValue { $0.pending.append(Sample(histogram: histogram, contract: contract, seq: seq, receivedAt: receivedAt)) }
    }

    /// A poller's answer, received at `receivedAt`, whose newest record is `seq`: how old its data was.
    public func staleness(contract: Substring, seq: Int, receivedAt: Int64) {
        state.withLockedValue { $0.pending.append(Sample(histogram: "poll_staleness", contract: contract, seq: seq, receivedAt: receivedAt)) }
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
        var values: [(String, Int64)] = []
        values.reserveCapacity(pending.count)
        for sample in pending {
            if let at = journal.writtenAt(file: String(sample.contract), index: sample.seq) {
                values.append((sample.histogram, sample.receivedAt - at))
            } else {
                waiting.append(sample)
            }
        }
        state.withLockedValue { s in
            for (name, value) in values {
                if value < 0 { s.clampedNegative += 1 }
                _ = s.histograms[name]?.record(UInt64(max(0, value)))
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
