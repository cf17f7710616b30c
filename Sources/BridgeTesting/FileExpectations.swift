import Foundation
import SierraFormat
import Testing

/// The file's trades after `seq`, as (seq, record).
public func trades(in records: [IntradayRecord], after seq: Int) -> [(Int, IntradayRecord)] {
    records.enumerated().filter { $0.offset > seq && $0.element.isTrade }.map { ($0.offset, $0.element) }
}

/// Checks trade messages against the file's records, one by one.
public func expectTrades(_ messages: [JSON], match records: [IntradayRecord], after seq: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = trades(in: records, after: seq)
    #expect(messages.count == expected.count, "\(messages.count) trades received, \(expected.count) in the file", sourceLocation: sourceLocation)
    var previous = records.enumerated().last { $0.offset <= seq && $0.element.isTrade }?.offset ?? -1
    for (message, (index, record)) in zip(messages, expected) {
        #expect(message["seq"] as? Int == index, sourceLocation: sourceLocation)
        #expect(message["prev"] as? Int == previous, sourceLocation: sourceLocation)
        #expect((message["price"] as? NSNumber)?.floatValue == record.close, sourceLocation: sourceLocation)
        #expect((message["size"] as? Int).map(UInt32.init) == record.totalVolume, sourceLocation: sourceLocation)
        #expect(message["side"] as? String == record.tradeSide.rawValue, sourceLocation: sourceLocation)
        #expect((message["t"] as? NSNumber)?.int64Value == record.dateTime.unixMicroseconds, sourceLocation: sourceLocation)
        previous = index
    }
}

/// The closed bars of a file, computed the plain way: trades grouped by `floor(t / period)`; a bar
/// is closed once a record (of any kind) is stamped at or after its end (with `last`, the bar
/// still open is listed too: the timer closes it when the market has gone quiet).
public func fileBars(_ records: [IntradayRecord], period: Int, last: Bool = false) -> [JSON] {
    let length = Int64(period) * 1_000_000
    var bars: [(t: Int64, open: Float, high: Float, low: Float, close: Float, volume: Int, trades: Int, seq: Int)] = []
    for (index, record) in records.enumerated() where record.isTrade {
        let t = record.dateTime.unixMicroseconds / length * length
        if let last = bars.last, last.t == t {
            bars[bars.count - 1] = (
                t, last.open, max(last.high, record.close), min(last.low, record.close), record.close, last.volume + Int(record.totalVolume),
                last.trades + 1, index
            )
        } else {
            bars.append((t, record.close, record.close, record.close, record.close, Int(record.totalVolume), 1, index))
        }
    }
    let newest = records.map(\.dateTime.unixMicroseconds).max() ?? 0
    return bars.filter { last || $0.t + length <= newest }.map {
        ["t": $0.t, "open": $0.open, "high": $0.high, "low": $0.low, "close": $0.close, "volume": $0.volume, "trades": $0.trades, "seq": $0.seq]
    }
}

/// Checks bar messages (or a snapshot's bars) against the file's bars with the same `t`.
public func expectBars(_ received: [JSON], match expected: [JSON], sourceLocation: SourceLocation = #_sourceLocation) {
    let byTime = Dictionary(expected.map { (($0["t"] as? Int64) ?? 0, $0) }, uniquingKeysWith: { a, _ in a })
    for bar in received {
        let t = (bar["t"] as? NSNumber)?.int64Value ?? -1
        guard let want = byTime[t] else {
            Issue.record("bar at \(t) is not a closed bar of the file", sourceLocation: sourceLocation)
            continue
        }
        for field in ["open", "high", "low", "close"] {
            #expect((bar[field] as? NSNumber)?.floatValue == want[field] as? Float, "\(field) of bar \(t)", sourceLocation: sourceLocation)
        }
        for field in ["volume", "trades", "seq"] {
            #expect(bar[field] as? Int == want[field] as? Int, "\(field) of bar \(t)", sourceLocation: sourceLocation)
        }
    }
}
