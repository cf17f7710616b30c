import BridgeWire
import DequeModule

/// The bars of one period for one contract, built from its trades as the feed reads them: the bar
/// being built, and the last closed ones (for snapshots and resumes).
///
/// A bar closes when the file's clock passes its end: a record stamped at or after the end is
/// read, or ``advance(toDataTime:)`` says the data's time is past it (the hub's timer, for a
/// market gone quiet). A trade stamped inside the bar closed last (a write later than the timer's
/// grace) revises that bar, which is sent again with the same `t`: the later one replaces it.
public struct BarSeries: Sendable {
    public let channel: MarketChannel
    public let periodSeconds: Int
    /// The bar being built.
    public private(set) var current: Bar?
    /// The most recent closed bars, oldest first, at most ``keep``.
    public private(set) var closed: Deque<Bar> = []
    public let keep: Int
    /// Bars opening at or before the first record read may miss trades the feed never read (it
    /// started mid-file): bars opening before this time (Unix µs) are not kept.
    public private(set) var completeFrom: Int64
    /// Every bar whose seq is above this one is in ``closed`` (or still being built): a resume from
    /// an older seq cannot be served from memory.
    public private(set) var coveredAfter: Int

    /// Bars of trades read from record `firstIndex` on, that record stamped `firstTime` (Unix µs):
    /// a bar opening at or before `firstTime` may hold trades before `firstIndex`, never read.
    public init(channel: MarketChannel, keep: Int, firstIndex: Int = 0, firstTime: Int64 = .min) {
        self.channel = channel
        self.periodSeconds = channel.barPeriodSeconds ?? 60
        self.keep = max(1, keep)
        self.completeFrom = firstIndex == 0 ? .min : firstTime + 1
        self.coveredAfter = firstIndex - 1
    }

    /// Adds a trade; returns the bar it closed or revised, if any, to send.
    public mutating func add(price: Float, size: UInt64, at t: Int64, seq: Int) -> Bar? {
        let inLastClosed = closed.last.map { t >= $0.t && t < $0.end } ?? false
        if var bar = current, t < bar.end, t >= bar.t || !inLastClosed {
            // In the bar being built (a clock that stepped back stays in it too).
            bar.add(price: price, size: size, seq: seq)
            current = bar
            return nil
        }
        if inLastClosed, var last = closed.last {
            last.add(price: price, size: size, seq: seq)
            closed[closed.count - 1] = last
            return last
        }
        let finished = close()
        current = Bar(periodSeconds: periodSeconds, tradeAt: t, price: price, size: size, seq: seq)
        return finished
    }

    /// The data's clock reached `t` (a record stamped `t`, or the timer's estimate): closes the
    /// bar being built if `t` is past its end. Returns the closed bar, to send.
    public mutating func advance(toDataTime t: Int64) -> Bar? {
        guard let bar = current, t >= bar.end else { return nil }
        return close()
    }

    /// When the bar being built ends (Unix µs), if one is.
    public var currentEnd: Int64? { current?.end }

    /// Closes the bar being built; returns it unless it is incomplete.
    private mutating func close() -> Bar? {
        guard let bar = current else { return nil }
        current = nil
        guard bar.t >= completeFrom else {
            coveredAfter = max(coveredAfter, bar.seq)
            return nil
        }
        closed.append(bar)
        if closed.count > keep {
            coveredAfter = closed.removeFirst().seq
        }
        return bar
    }

    /// The closed bars whose seq is above `seq`, oldest first; nil when some may be missing (the
    /// resume is older than what memory holds).
    public func closedBars(after seq: Int) -> [Bar]? {
        guard seq >= coveredAfter else { return nil }
        return closed.filter { $0.seq > seq }
    }

    /// Forgets every bar: the file is read again from `firstIndex` (after a rewrite).
    public mutating func reset(firstIndex: Int, firstTime: Int64) {
        self = BarSeries(channel: channel, keep: keep, firstIndex: firstIndex, firstTime: firstTime)
    }

    /// The last `count` closed bars, oldest first.
    public func last(_ count: Int) -> [Bar] {
        Array(closed.suffix(max(0, count)))
    }
}
