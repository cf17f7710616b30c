import Foundation
import SierraFormat
import Testing

@testable import Swarm

/// A data folder with one contract's file written record by record, for the matcher.
struct MatcherFolder {
    let path = NSTemporaryDirectory() + "bridgelab-matcher-" + UUID().uuidString
    static let start = Int64(1_764_599_400_000_000)

    /// Trades at `start + i ms` (µs counters within a millisecond for `sameMillisecond`), a quote between each.
    func write(_ contract: String, trades: [(price: Float, size: UInt32)], sameMillisecond: Bool = false) throws -> [Int] {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var bytes: [UInt8] = []
        IntradayFormat.encodeHeader(into: &bytes)
        var indexes: [Int] = []
        var record = 0
        for (i, trade) in trades.enumerated() {
            let micros = Self.start + (sameMillisecond ? Int64(i) : Int64(i) * 1000)
            IntradayFormat.encodeRecord(
                .quote(at: SCDateTime(unixMicroseconds: micros), bid: trade.price - 0.25, ask: trade.price, last: 0),
                into: &bytes
            )
            record += 1
            IntradayFormat.encodeRecord(
                .trade(
                    at: SCDateTime(unixMicroseconds: micros),
                    price: trade.price,
                    size: trade.size,
                    side: .ask,
                    bid: trade.price - 0.25,
                    ask: trade.price
                ),
                into: &bytes
            )
            indexes.append(record)
            record += 1
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + contract + ".scid"))
        return indexes
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("profiles: matching a foreign bridge's trades to their records")
struct TradeMatcherTests {
    static let trades: [(price: Float, size: UInt32)] = (0..<40).map { (Float(21000) + Float($0 % 7) * 0.25, UInt32(1 + $0 % 3)) }

    @Test("by time: the trade of that time, price and size; equal trades in a coarse time go to the nearest not yet received")
    func byTime() throws {
        let folder = MatcherFolder()
        defer { folder.cleanup() }
        let indexes = try folder.write("NQZ25-CME", trades: Self.trades)
        let matcher = TradeMatcher(dataDirectory: folder.path)
        for (i, trade) in Self.trades.enumerated() {
            let time = MessageTime(unixMicroseconds: MatcherFolder.start + Int64(i) * 1000, resolution: 1)
            #expect(matcher.match(contract: "NQZ25-CME", time: time, price: Double(trade.price), size: Double(trade.size), after: nil) == indexes[i])
        }
        // A wrong price or size matches nothing; a root means its active contract.
        let first = MessageTime(unixMicroseconds: MatcherFolder.start, resolution: 1)
        #expect(matcher.match(contract: "NQZ25-CME", time: first, price: 20000, size: 1, after: nil) == nil)
        #expect(matcher.match(contract: "NQZ25-CME", time: first, price: 21000, size: 9, after: nil) == nil)
        #expect(matcher.contract(named: "NQ") == "NQZ25-CME")
        #expect(matcher.match(contract: "NQ", time: first, price: 21000, size: 1, after: nil) == indexes[0])

        // Equal trades inside one millisecond, named only to the millisecond: each client's next one.
        let same = MatcherFolder()
        defer { same.cleanup() }
        let equal = try same.write("ESZ25-CME", trades: Array(repeating: (6000, 1), count: 5), sameMillisecond: true)
        let coarse = TradeMatcher(dataDirectory: same.path)
        let millisecond = MessageTime(unixMicroseconds: MatcherFolder.start, resolution: 1000)
        var matched: [Int] = []
        for _ in 0..<5 {
            let index = try #require(
                coarse.match(contract: "ESZ25-CME", time: millisecond, price: 6000, size: 1, after: matched.last) { matched.contains($0) }
            )
            matched.append(index)
        }
        #expect(matched == equal)
        // A sixth is a duplicate: every candidate is taken, the nearest is named.
        #expect(
            coarse.match(contract: "ESZ25-CME", time: millisecond, price: 6000, size: 1, after: matched.last) { matched.contains($0) } == equal[0]
        )
        // A time given to the second (no fraction) still finds the exact record before its equals.
        let second = MessageTime(unixMicroseconds: MatcherFolder.start + 3, resolution: 1_000_000)
        #expect(coarse.match(contract: "ESZ25-CME", time: second, price: 6000, size: 1, after: nil) == equal[3])
    }

    @Test("by order: the next equal trade after the client's last; records appended later are found")
    func byOrder() throws {
        let folder = MatcherFolder()
        defer { folder.cleanup() }
        let indexes = try folder.write("NQZ25-CME", trades: Self.trades)
        let matcher = TradeMatcher(dataDirectory: folder.path)
        var last = indexes[9]
        for i in 10..<20 {
            let index = try #require(
                matcher.match(contract: "NQZ25-CME", time: nil, price: Double(Self.trades[i].price), size: Double(Self.trades[i].size), after: last)
            )
            #expect(index == indexes[i])
            last = index
        }
        // The file grows after the matcher first read it.
        let more = Self.trades + [(21100, 7)]
        let grown = try folder.write("NQZ25-CME", trades: more)
        #expect(matcher.match(contract: "NQZ25-CME", time: nil, price: 21100, size: 7, after: last) == grown.last)
    }

    @Test("the ledger counts each drop, duplicate and reordering exactly, against the file's trades")
    func ledger() {
        var ledger = DeliveryLedger(contract: "NQZ25-CME")
        // Trades 1…10 at record indexes 2, 4, …, 20: 5 dropped, 7 twice, 9 before 8.
        let sent = [2, 4, 6, 8, 12, 14, 14, 18, 16, 20]
        let verdicts = sent.map { ledger.receive($0) }
        #expect(verdicts.filter { $0 == .duplicate }.count == 1)
        #expect(verdicts.filter { $0 == .outOfOrder }.count == 1)
        #expect(ledger.duplicates == 1)
        #expect(ledger.outOfOrder == 1)
        let owed = try? #require(ledger.owed)
        #expect(owed?.after == 1)
        #expect(owed?.through == 20)
        // 10 trades owed in 2…20, 9 distinct received: one lost.
        #expect(owed?.received == 9)
    }
}
