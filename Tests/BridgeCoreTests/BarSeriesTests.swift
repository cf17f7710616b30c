import BridgeWire
import Testing

@testable import BridgeCore

/// A trade as the tests write it: time (µs), price, size, record index.
struct TestTrade {
    var t: Int64
    var price: Float
    var size: UInt64
    var seq: Int
}

/// Bars computed the plain way, for comparison: group the trades by `floor(t / period)`.
func expectedBars(_ trades: [TestTrade], period: Int) -> [Bar] {
    let length = Int64(period) * 1_000_000
    var bars: [Int64: Bar] = [:]
    for trade in trades {
        let start = trade.t / length * length
        if var bar = bars[start] {
            bar.high = max(bar.high, trade.price)
            bar.low = min(bar.low, trade.price)
            bar.close = trade.price
            bar.volume += trade.size
            bar.trades += 1
            bar.seq = trade.seq
            bars[start] = bar
        } else {
            bars[start] = Bar(
                periodSeconds: period,
                t: start,
                open: trade.price,
                high: trade.price,
                low: trade.price,
                close: trade.price,
                volume: trade.size,
                trades: 1,
                seq: trade.seq
            )
        }
    }
    return bars.values.sorted { $0.t < $1.t }
}

/// Trades at irregular times (some seconds empty), prices on a walk; seeded.
func tradeStream(count: Int, seed: UInt64, from start: Int64 = 1_764_600_000_000_000) -> [TestTrade] {
    var state = seed
    func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
    var t = start
    var price: Float = 21_000
    return (0..<count).map { index in
        t += Int64(next() % 700_000)
        price += Float(Int(next() % 5) - 2) * 0.25
        return TestTrade(t: t, price: price, size: 1 + next() % 9, seq: index * 2 + 1)
    }
}

@Suite("Bar series")
struct BarSeriesTests {
    @Test("bars of every period equal the plain grouping of the trades by period", arguments: MarketChannel.bars)
    func matchesGrouping(channel: MarketChannel) {
        let trades = tradeStream(count: 3_000, seed: 11)
        var series = BarSeries(channel: channel, keep: 10_000)
        var sent: [Bar] = []
        for trade in trades {
            if let bar = series.add(price: trade.price, size: trade.size, at: trade.t, seq: trade.seq) { sent.append(bar) }
        }
        let expected = expectedBars(trades, period: channel.barPeriodSeconds!)
        // Every bar but the last has closed (a later trade passed its end).
        #expect(sent == Array(expected.dropLast()))
        #expect(series.current == expected.last)
        #expect(series.advance(toDataTime: expected.last!.end - 1) == nil)
        #expect(series.advance(toDataTime: expected.last!.end) == expected.last)
        #expect(Array(series.closed) == expected)
    }

    @Test("a trade stamped in the bar the timer closed revises it; a clock stepping back stays in the open bar")
    func lateTrades() {
        var series = BarSeries(channel: .bars1s, keep: 10)
        let second: Int64 = 1_000_000
        let base: Int64 = 1_764_600_000 * second
        #expect(series.add(price: 10, size: 1, at: base + 100, seq: 1) == nil)
        let closed = series.advance(toDataTime: base + second + 500_000)
        #expect(closed?.trades == 1)
        // Written after the timer closed the bar: the bar again, with it.
        let revised = series.add(price: 12, size: 2, at: base + 900_000, seq: 3)
        #expect(revised?.t == base && revised?.trades == 2 && revised?.high == 12 && revised?.close == 12 && revised?.seq == 3)
        #expect(series.closed.count == 1 && series.current == nil)
        // The next bar opens; a trade stamped before it but after the closed one's end stays in it.
        #expect(series.add(price: 11, size: 1, at: base + 2 * second + 10, seq: 5) == nil)
        #expect(series.add(price: 9, size: 1, at: base + 2 * second + 5, seq: 7) == nil)
        #expect(series.current?.trades == 2 && series.current?.low == 9)
    }

    @Test("a read that starts mid-file keeps no bar that may miss trades, and resumes only what memory covers")
    func coverage() throws {
        // About 12 minutes of trades.
        let trades = tradeStream(count: 2_000, seed: 5)
        // The feed started reading at trades[0]: a 1 m bar opening at or before it may hold older trades.
        var series = BarSeries(channel: .bars1m, keep: 3, firstIndex: trades[0].seq, firstTime: trades[0].t)
        var sent: [Bar] = []
        for trade in trades {
            if let bar = series.add(price: trade.price, size: trade.size, at: trade.t, seq: trade.seq) { sent.append(bar) }
        }
        let expected = expectedBars(trades, period: 60)
        // The first minute is incomplete: never sent, never kept.
        #expect(sent == Array(expected.dropFirst().dropLast()))
        try #require(series.closed.count == 3)
        let kept = Array(series.closed)
        // From the seq of a kept bar: the ones after it.
        #expect(series.closedBars(after: kept[0].seq) == Array(kept.dropFirst()))
        #expect(series.closedBars(after: kept[2].seq) == [])
        // A client holding the newest bar dropped from memory gets every kept one; one further
        // behind would miss that bar: not known.
        let dropped = sent[sent.count - 4]
        #expect(series.closedBars(after: dropped.seq) == kept)
        #expect(series.closedBars(after: dropped.seq - 1) == nil)
        #expect(series.closedBars(after: -1) == nil)
    }

    @Test("a series read from the file's first record covers every resume")
    func fullCoverage() {
        var series = BarSeries(channel: .bars5s, keep: 100)
        for trade in tradeStream(count: 200, seed: 2) {
            _ = series.add(price: trade.price, size: trade.size, at: trade.t, seq: trade.seq)
        }
        #expect(series.closedBars(after: -1) == Array(series.closed))
    }

    @Test("bar open times align to the period from the Unix epoch, before 1970 too")
    func alignment() {
        let bar = Bar(periodSeconds: 60, tradeAt: 1_764_600_061_500_000, price: 1, size: 1, seq: 0)
        #expect(bar.t == 1_764_600_060_000_000 && bar.end == 1_764_600_120_000_000)
        let early = Bar(periodSeconds: 60, tradeAt: -1, price: 1, size: 1, seq: 0)
        #expect(early.t == -60_000_000)
    }
}
