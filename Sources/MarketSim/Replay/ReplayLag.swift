import Histogram

/// How far behind its schedule a replay wrote: actual write time − due time, over every write
/// (from HdrHistogram). A replay that keeps up shows a lag of a flush's own cost; one that could
/// not (a slow disk, a speed the machine cannot write) says so here.
public struct ReplayLag: Sendable, Equatable, Codable {
    public var writes: Int
    public var p50Microseconds: Int64
    public var p99Microseconds: Int64
    public var maxMicroseconds: Int64

    /// The lag of every write in a replay's journal that carries a due time (nil: none does).
    public static func read(journal: [JournalEntry]) -> ReplayLag? {
        var recorder = Recorder()
        for entry in journal {
            if let due = entry.scheduledAt { recorder.record(entry.writtenAt - due) }
        }
        return recorder.figures
    }

    /// Collects lags as they happen.
    public struct Recorder: Sendable {
        private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

        public init() {}

        /// A write `lag` µs after it was due (early writes count as on time).
        public mutating func record(_ lag: Int64) {
            _ = histogram.record(UInt64(min(3_600_000_000, max(0, lag))))
        }

        public var figures: ReplayLag? {
            guard histogram.totalCount > 0 else { return nil }
            return ReplayLag(
                writes: Int(histogram.totalCount),
                p50Microseconds: Int64(histogram.valueAtPercentile(50)),
                p99Microseconds: Int64(histogram.valueAtPercentile(99)),
                maxMicroseconds: Int64(histogram.max)
            )
        }
    }
}
