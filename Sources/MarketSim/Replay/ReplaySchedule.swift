/// When each replayed record is due on the wall clock, anchored to the first record:
/// due = anchor + (record time − first record time) ÷ speed, with quiet stretches longer than
/// `maxGap` cut to it. Every due time is computed from the anchor, never from the previous write,
/// so a late write (an oversleep, a slow disk) delays only itself: lateness never piles up into drift.
public struct ReplaySchedule: Sendable, Equatable {
    /// Wall-clock Unix µs at which the first record is due.
    public let anchor: Int64
    public let speed: Double
    /// Source µs: the longest quiet stretch kept.
    public let maxGap: Int64?
    /// Source µs since the first record, with the long gaps cut.
    public private(set) var offset: Int64 = 0
    private var lastSource: Int64?

    public init(anchor: Int64, speed: Double, maxGap: Int64? = nil) {
        precondition(speed > 0, "a schedule needs a positive speed")
        self.anchor = anchor
        self.speed = speed
        self.maxGap = maxGap
    }

    /// The due time of the next record, whose own time is `source` (Unix µs). Records come in
    /// time order; one earlier than the last (a file edited by hand) is due with it.
    public mutating func due(source: Int64) -> Int64 {
        if let lastSource {
            var gap = max(0, source - lastSource)
            if let maxGap { gap = min(gap, maxGap) }
            offset += gap
        }
        lastSource = source
        return anchor + Int64((Double(offset) / speed).rounded())
    }

    /// Starts the window again (a loop): its first record comes `gap` source µs after the last.
    public mutating func restart(gap: Int64) {
        offset += max(0, gap)
        lastSource = nil
    }
}
