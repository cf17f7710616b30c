import SierraFormat

/// The market model of one contract: a mid price that moves with the clock (Brownian, with the
/// instrument's ``Instrument/dailyVolatility``: the variance per second does not depend on how many
/// records are written), quoted on the tick grid with a spread of one or more ticks; trades at the
/// bid or the ask, bouncing between them without moving the mid; heavy-tailed trade sizes,
/// quote-only updates, unbundled trades, and a depth book that always agrees with the trades and
/// quotes (bid < ask, the top levels are the quoted prices).
///
/// Each ``step(at:random:intraday:depth:)`` appends the records of one market event to the
/// caller's buffers, so a long run allocates nothing per event.
public struct SymbolMarket: Sendable {
    public let instrument: Instrument
    public private(set) var contract: ContractSymbol
    /// Best bid, in ticks.
    public private(set) var bidTicks: Int
    /// Ask minus bid, in ticks (at least 1).
    public private(set) var spreadTicks = 1
    public private(set) var lastTradeTicks: Int
    public let depthLevels: Int

    public var askTicks: Int { bidTicks + spreadTicks }

    private var quantities: [Int: UInt32] = [:]
    private var publishedBids: [DepthLevel] = []
    private var publishedAsks: [DepthLevel] = []
    private var stamps = MillisecondStamp()
    /// The mid price in ticks, and when it was last moved (Unix µs).
    private var mid: Double
    private var midAt: Int64?
    /// The mid's standard deviation over one second, in ticks.
    private let ticksPerRootSecond: Double

    public init(instrument: Instrument, contract: ContractSymbol, depthLevels: Int = 10) {
        self.instrument = instrument
        self.contract = contract
        self.depthLevels = max(1, depthLevels)
        self.bidTicks = instrument.ticks(for: instrument.startPrice)
        self.lastTradeTicks = bidTicks
        self.mid = Double(bidTicks) + 0.5
        self.ticksPerRootSecond = instrument.dailyVolatility * instrument.startPrice / instrument.tickSize / Foundation_sqrt(86_400)
    }

    /// Moves the mid to `unixMicroseconds` (a step of the clock's Brownian motion) and quotes it.
    private mutating func move(to unixMicroseconds: Int64, random: inout SeededRandom) {
        if let midAt, unixMicroseconds > midAt {
            mid += random.normal() * ticksPerRootSecond * Foundation_sqrt(Double(unixMicroseconds - midAt) / 1e6)
        }
        midAt = unixMicroseconds
        mid = max(mid, Double(spreadTicks) + 2)
        bidTicks = Int((mid - Double(spreadTicks) / 2).rounded(.down))
    }

    /// Moves to a new contract file (rollover); the price carries on.
    public mutating func roll(to contract: ContractSymbol) {
        self.contract = contract
        stamps = MillisecondStamp()
    }

    /// A timestamp for the intraday file: the millisecond of `unixMicroseconds`, plus the 0–999
    /// counter of records within that millisecond, as Sierra Chart writes it.
    public mutating func stamp(unixMicroseconds: Int64) -> SCDateTime {
        stamps.stamp(unixMicroseconds: unixMicroseconds)
    }

    /// One market event: a quote change, a trade, or an unbundled trade, with its depth batch.
    public mutating func step(at unixMicroseconds: Int64, random: inout SeededRandom, intraday: inout [IntradayRecord], depth: inout [DepthRecord]) {
        event(at: unixMicroseconds, random: &random, intraday: &intraday)
        if random.chance(0.5) { jiggleQuantity(random: &random) }
        depthBatch(at: unixMicroseconds, random: &random, into: &depth)
    }

    /// The intraday records of one event: a quote change, a trade, or an unbundled trade.
    private mutating func event(at unixMicroseconds: Int64, random: inout SeededRandom, intraday: inout [IntradayRecord]) {
        // Every record carries the quote, so the clock's move shows in this event's record.
        move(to: unixMicroseconds, random: &random)
        let roll = random.unit()
        if roll < 0.35 {
            quoteUpdate(at: unixMicroseconds, random: &random, intraday: &intraday)
        } else if roll < 0.96 {
            trade(at: unixMicroseconds, random: &random, intraday: &intraday, fills: 1)
        } else {
            trade(at: unixMicroseconds, random: &random, intraday: &intraday, fills: 2 + Int(random.next() % 3))
        }
    }

    /// One market event without its depth batch: what a past day's `.scid` holds (its depth file
    /// is not written), at a fraction of the cost.
    public mutating func historyStep(at unixMicroseconds: Int64, random: inout SeededRandom, intraday: inout [IntradayRecord]) {
        event(at: unixMicroseconds, random: &random, intraday: &intraday)
        // The book's levels are only kept near the quote: history moves far, so drop the rest now and then.
        if quantities.count > 4 * depthLevels + 16 { prune() }
    }

    /// Carries on from a file's last record: the quote and the last trade it holds, and its
    /// millisecond (so the same-millisecond counter stays valid).
    public mutating func carryOn(from record: IntradayRecord) {
        let bid = instrument.ticks(for: Double(record.low))
        let ask = instrument.ticks(for: Double(record.high))
        if bid > 1, ask > bid {
            bidTicks = bid
            spreadTicks = ask - bid
            mid = Double(bid) + Double(spreadTicks) / 2
        }
        midAt = record.dateTime.unixMicroseconds
        if record.close > 0 { lastTradeTicks = instrument.ticks(for: Double(record.close)) }
        stamps = MillisecondStamp(after: record.dateTime)
    }

    /// A full snapshot batch: clear, bids best first, asks best first, end-of-batch on the last.
    public mutating func depthSnapshot(at unixMicroseconds: Int64, random: inout SeededRandom, into depth: inout [DepthRecord]) {
        let time = depthTime(unixMicroseconds)
        let (bids, asks) = targetBook(random: &random)
        depth.append(contentsOf: DepthRecord.snapshotBatch(bids: bids, asks: asks, at: time))
        publishedBids = bids
        publishedAsks = asks
    }

    // MARK: - Events

    /// A quote-only update: the spread widens or narrows around the mid (the mid itself moves only
    /// with the clock).
    private mutating func quoteUpdate(at time: Int64, random: inout SeededRandom, intraday: inout [IntradayRecord]) {
        if spreadTicks > 1, random.chance(0.6) {
            spreadTicks -= 1
        } else if spreadTicks == 1, random.chance(0.12) {
            spreadTicks = 2
        }
        bidTicks = max(2, Int((mid - Double(spreadTicks) / 2).rounded(.down)))
        intraday.append(.quote(at: stamp(unixMicroseconds: time), bid: price(bidTicks), ask: price(askTicks), last: price(lastTradeTicks)))
    }

    private mutating func trade(at time: Int64, random: inout SeededRandom, intraday: inout [IntradayRecord], fills: Int) {
        // Buyers lift the ask, sellers hit the bid: the last price bounces, the mid does not move.
        let buy = random.chance(0.5)
        // Heavy-tailed size: Pareto with tail index 1.6, so most trades are small and a few are large.
        let raw = random.pareto(scale: instrument.typicalSize * 0.6, alpha: 1.6)
        var remaining = UInt32(min(max(1, raw.rounded()), 2_000)) * UInt32(fills)
        for fill in 0..<fills {
            let levelTicks = buy ? askTicks : bidTicks
            let size = fill == fills - 1 ? remaining : max(1, remaining / UInt32(fills - fill))
            remaining -= min(remaining, size)
            var record = IntradayRecord.trade(
                at: stamp(unixMicroseconds: time),
                price: price(levelTicks),
                size: size,
                side: buy ? .ask : .bid,
                bid: price(bidTicks),
                ask: price(askTicks)
            )
            if fills > 1 {
                if fill == 0 { record.open = IntradayRecord.firstSubTradeOpen }
                if fill == fills - 1 { record.open = IntradayRecord.lastSubTradeOpen }
            }
            intraday.append(record)
            lastTradeTicks = levelTicks
            consume(levelTicks, size: size, buy: buy, random: &random)
        }
    }

    /// Takes liquidity at a level; a level eaten through is replenished (the quote follows the mid,
    /// not the trades).
    private mutating func consume(_ ticks: Int, size: UInt32, buy: Bool, random: inout SeededRandom) {
        let available = quantity(at: ticks, random: &random)
        quantities[ticks] = size >= available ? nil : available - size
    }

    private mutating func jiggleQuantity(random: inout SeededRandom) {
        let offset = Int(random.next() % UInt64(depthLevels))
        let ticks = random.chance(0.5) ? bidTicks - offset : askTicks + offset
        let current = quantity(at: ticks, random: &random)
        let change = Int(random.next() % 5) - 2
        quantities[ticks] = UInt32(max(1, Int(current) + change))
    }

    // MARK: - Depth

    /// Emits the difference between the last published book and the current one as one batch.
    private mutating func depthBatch(at unixMicroseconds: Int64, random: inout SeededRandom, into depth: inout [DepthRecord]) {
        let time = depthTime(unixMicroseconds)
        let (bids, asks) = targetBook(random: &random)
        let start = depth.count
        Self.diff(old: publishedBids, new: bids, time: time, delete: .deleteBid, add: .addBid, modify: .modifyBid, into: &depth)
        Self.diff(old: publishedAsks, new: asks, time: time, delete: .deleteAsk, add: .addAsk, modify: .modifyAsk, into: &depth)
        if depth.count > start { depth[depth.count - 1].flags |= DepthRecord.endOfBatchFlag }
        publishedBids = bids
        publishedAsks = asks
        if quantities.count > depthLevels * 8 { prune() }
    }

    private static func diff(
        old: [DepthLevel],
        new: [DepthLevel],
        time: SCDateTime,
        delete: DepthCommand,
        add: DepthCommand,
        modify: DepthCommand,
        into depth: inout [DepthRecord]
    ) {
        for level in old where !new.contains(where: { $0.price == level.price }) {
            depth.append(DepthRecord(dateTime: time, command: delete, price: level.price))
        }
        for level in new {
            if let previous = old.first(where: { $0.price == level.price }) {
                if previous != level {
                    depth.append(
                        DepthRecord(dateTime: time, command: modify, numOrders: level.numOrders, price: level.price, quantity: level.quantity)
                    )
                }
            } else {
                depth.append(DepthRecord(dateTime: time, command: add, numOrders: level.numOrders, price: level.price, quantity: level.quantity))
            }
        }
    }

    private mutating func targetBook(random: inout SeededRandom) -> ([DepthLevel], [DepthLevel]) {
        var bids: [DepthLevel] = []
        var asks: [DepthLevel] = []
        bids.reserveCapacity(depthLevels)
        asks.reserveCapacity(depthLevels)
        for i in 0..<depthLevels {
            bids.append(level(bidTicks - i, random: &random))
            asks.append(level(askTicks + i, random: &random))
        }
        return (bids.filter { $0.price > 0 }, asks)
    }

    private mutating func level(_ ticks: Int, random: inout SeededRandom) -> DepthLevel {
        let q = quantity(at: ticks, random: &random)
        return DepthLevel(price: price(ticks), quantity: q, numOrders: UInt16(min(9_999, max(1, q / 3))))
    }

    private mutating func quantity(at ticks: Int, random: inout SeededRandom) -> UInt32 {
        if let q = quantities[ticks] { return q }
        let q = UInt32(min(500, max(1, random.pareto(scale: instrument.typicalSize * 4, alpha: 1.8).rounded())))
        quantities[ticks] = q
        return q
    }

    private mutating func prune() {
        let low = bidTicks - depthLevels * 2
        let high = askTicks + depthLevels * 2
        quantities = quantities.filter { $0.key >= low && $0.key <= high }
    }

    private func price(_ ticks: Int) -> Float { instrument.price(ticks: ticks) }

    /// Depth records carry the millisecond; Sierra's same-millisecond counter is a tick-file convention.
    private func depthTime(_ unixMicroseconds: Int64) -> SCDateTime {
        SCDateTime(unixMicroseconds: unixMicroseconds - unixMicroseconds % 1000)
    }
}
