import BridgeServer
import BridgeTesting
import Foundation
import SierraFormat
import Testing

@testable import BridgeCore

/// A `.scid` of several days: earlier days' records, then today's session, in time order.
struct HistoryFile {
    let folder: String
    let path: String
    let records: [IntradayRecord]
    /// Index of today's first record.
    let sessionStart: Int

    /// `days` days of `perDay` records (a trade, then every fourth record a quote), each day's
    /// prices drifting, written straight to `NQZ25-CME.scid`.
    init(days: Int, perDay: Int) throws {
        folder = NSTemporaryDirectory() + "bridgelab-history-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        path = folder + "/NQZ25-CME.scid"
        var generator = SystemRandomNumberGenerator()
        var records: [IntradayRecord] = []
        records.reserveCapacity(days * perDay)
        let firstDay: Int64 = 1_764_547_200_000_000  // 2025-12-01 00:00 UTC
        var price: Float = 21_000
        for day in 0..<days {
            let open = firstDay + Int64(day) * SCDateTime.microsecondsPerDay + 3_600_000_000
            for i in 0..<perDay {
                let time = SCDateTime(unixMicroseconds: open + Int64(i) * 500_000)
                price += Float(Int.random(in: -2...2, using: &generator)) * 0.25
                if i % 4 == 3 {
                    records.append(.quote(at: time, bid: price - 0.25, ask: price + 0.25, last: price))
                } else {
                    let size = UInt32.random(in: 1...20, using: &generator)
                    records.append(.trade(at: time, price: price, size: size, side: i % 2 == 0 ? .ask : .bid, bid: price - 0.25, ask: price + 0.25))
                }
            }
        }
        self.records = records
        sessionStart = (days - 1) * perDay
        try Data(IntradayFormat.encodeFile(records)).write(to: URL(fileURLWithPath: path))
    }

    func append(_ more: [IntradayRecord]) throws {
        var bytes: [UInt8] = []
        for record in more { IntradayFormat.encodeRecord(record, into: &bytes) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: folder) }
}

extension BridgeSuites {
    @Suite("Files with history: the bridge reads the current session, and resumes from file positions")
    struct LargeFileTests {
        @Test("the snapshot is today's session, read without parsing the earlier days")
        func sessionFromHistory() async throws {
            let file = try HistoryFile(days: 4, perDay: 30_000)
            defer { file.cleanup() }
            try await withBridge(settings(file.folder)) { bridge in
                let (status, _, body) = try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ")
                #expect(status == 200)
                let snapshot = parseJSON(body)
                let today = file.records[file.sessionStart...]
                let trades = today.filter(\.isTrade)
                #expect(snapshot["seq"] as? Int == file.records.count - 1)
                #expect(snapshot["epoch"] as? String == ContractFeed.epoch(of: file.records[0]))
                #expect(snapshot["volume"] as? Int == Int(trades.map(\.totalVolume).reduce(0, +)))
                #expect(snapshot["trades"] as? Int == trades.count)
                #expect((snapshot["open"] as? NSNumber)?.floatValue == trades.first?.close)
                #expect((snapshot["high"] as? NSNumber)?.floatValue == trades.map(\.close).max())
                #expect((snapshot["low"] as? NSNumber)?.floatValue == trades.map(\.close).min())
                let last = try #require(snapshot["last"] as? JSON)
                #expect(last["seq"] as? Int == file.records.lastIndex(where: \.isTrade))
                // What it read: today's records and the look-back before them, not 120,000.
                let metrics = String(decoding: bridge.app.prometheus.emitToBuffer(), as: UTF8.self)
                let read = metrics.split(separator: "\n").first { $0.hasPrefix("bridge_records_read_total ") }
                let count = read.flatMap { Int($0.split(separator: " ").last ?? "") }
                #expect(count == file.records.count - file.sessionStart + ContractFeed.lookbackRecords)
            }
        }

        @Test("the polling modes answer the same session from a file with history", arguments: [BridgeMode.pollingCached, .pollingNaive])
        func pollingSession(mode: BridgeMode) async throws {
            let file = try HistoryFile(days: 3, perDay: 20_000)
            defer { file.cleanup() }
            var event: JSON = [:]
            try await withBridge(settings(file.folder)) { bridge in
                event = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)
            }
            try await withBridge(settings(file.folder) { $0.mode = mode }) { bridge in
                let polled = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)
                for key in ["seq", "epoch", "session", "volume", "trades", "open", "high", "low", "bid", "ask"] {
                    #expect((polled[key] as? NSObject) == (event[key] as? NSObject), "\(key): \(polled[key] ?? "nil") vs \(event[key] ?? "nil")")
                }
                #expect(event["trades"] as? Int == file.records[file.sessionStart...].filter(\.isTrade).count)
            }
        }

        /// A trades subscription to NQ resuming from (epoch, seq).
        func resume(epoch: String, seq: Int) -> JSON {
            ["op": "subscribe", "symbols": ["NQ"], "channels": ["trades"], "resume": ["NQ": ["epoch": epoch, "seq": seq]]]
        }

        @Test("a resume older than memory is read back from the file; one too far back is refused; live trades follow")
        func resumeFromFile() async throws {
            let file = try HistoryFile(days: 3, perDay: 30_000)
            defer { file.cleanup() }
            try await withBridge(settings(file.folder) { $0.historyLimit = 100 }) { bridge in
                let epoch = ContractFeed.epoch(of: file.records[0])
                // 2,000 records back: far older than the 100 trades in memory, within today.
                let point = file.records.count - 2_000
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                try await client.send(resume(epoch: epoch, seq: point))
                let (resumed, before) = try await client.until("resumed", timeout: 20)
                #expect(resumed["source"] as? String == "file")
                expectTrades(before.filter { $0["type"] as? String == "trade" }, match: file.records, after: point)
                _ = try await client.until("snapshot")

                // Live trades carry on from the last one in the file.
                let lastTime = file.records[file.records.count - 1].dateTime.unixMicroseconds
                let more = (1...5).map { i in
                    IntradayRecord.trade(
                        at: SCDateTime(unixMicroseconds: lastTime + Int64(i) * 1000),
                        price: 21_000,
                        size: UInt32(i),
                        side: .bid,
                        bid: 20_999.75,
                        ask: 21_000.25
                    )
                }
                try file.append(more)
                let live = try await client.collect("trade", count: 5, timeout: 20)
                expectTrades(live, match: file.records + more, after: file.records.count - 1)
                await client.close()

                // A point in the first day: more trades after it than one resume replays.
                let old = try await TestWSClient(url: bridge.ws + "/ws")
                try await old.send(resume(epoch: epoch, seq: 10))
                let (refusal, _) = try await old.until("not_recovered", timeout: 20)
                #expect(refusal["reason"] as? String == "too_old")
                await old.close()
            }
        }
    }
}
