import BridgeCore
import BridgeServer
import BridgeTesting
import BridgeWire
import Foundation
import NIOConcurrencyHelpers
import SierraFormat
import Testing

extension BridgeSuites {
    @Suite("Bars and rate-capped subscriptions")
    struct BarsAndRateCapTests {
        @Test("bars:1s equal the file's trades grouped by second: live, in the snapshot, after a reconnect and a bridge restart")
        func barsFromTheFile() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try folder.advance(by: 30)
            let contract = "NQZ25-CME"
            var bridge = try await TestBridge.start(settings(folder.path))
            let client = try await TestWSClient(url: bridge.ws + "/ws")
            try await client.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["bars:1s"]])
            let (snapshot, _) = try await client.until("snapshot")
            let epoch = try #require(snapshot["epoch"] as? String)
            // The snapshot carries the last 20 closed bars, as the file says.
            let inSnapshot = try #require((snapshot["bars"] as? [String: Any])?["1s"] as? [JSON])
            #expect(inSnapshot.count == 20)
            expectBars(inSnapshot, match: fileBars(try folder.records(contract), period: 1))

            try await folder.stream(seconds: 3, steps: 15)
            let live = try await client.collect("bar", count: 3)
            #expect(live.count == 3)
            #expect(live.allSatisfy { $0["period_s"] as? Int == 1 && $0["contract"] as? String == contract })
            expectBars(live, match: fileBars(try folder.records(contract), period: 1))
            let lastSeq = try #require(live.last?["seq"] as? Int)
            await client.close()

            // Offline: the market goes on, the bridge restarts, the market goes on.
            try folder.advance(by: 2)
            await bridge.stop()
            try folder.advance(by: 2)
            bridge = try await TestBridge.start(settings(folder.path))
            defer { Task { [bridge] in await bridge.stop() } }
            let again = try await TestWSClient(url: bridge.ws + "/ws")
            defer { Task { await again.close() } }
            try await again.send([
                "op": "subscribe", "symbols": ["NQ"], "channels": ["bars:1s"],
                "resume": ["NQ": ["epoch": epoch, "seq": lastSeq, "bars": ["1s": lastSeq]]],
            ])
            let (resumed, replayed) = try await again.until("resumed")
            #expect(resumed["channel"] as? String == "bars:1s")
            let records = try folder.records(contract)
            let missed = fileBars(records, period: 1).filter { ($0["seq"] as? Int ?? 0) > lastSeq }
            let replayedBars = replayed.filter { $0["type"] as? String == "bar" }
            // Every bar that closed while the client was away, in order, none before its last.
            #expect(replayedBars.count == missed.count && missed.count >= 3)
            expectBars(replayedBars, match: missed)
            #expect(replayedBars.map { $0["seq"] as? Int ?? 0 } == missed.map { $0["seq"] as? Int ?? 0 })
            #expect(resumed["replayed"] as? Int == missed.count)
        }

        @Test("a quiet market's last bar closes on the clock, a grace after its end")
        func timerClosesTheLastBar() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.barCloseGraceMilliseconds = 200 }) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                try await client.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["bars:1s"]])
                _ = try await client.until("snapshot")
                try await folder.stream(seconds: 2, steps: 10)
                // No record comes after the last one: the bar holding the last trade closes anyway.
                let records = try folder.records("NQZ25-CME")
                let lastTrade = try #require(records.lastIndex { $0.isTrade })
                var bars: [JSON] = []
                while bars.last?["seq"] as? Int != lastTrade, let bar = try? await client.until("bar", timeout: 5).match { bars.append(bar) }
                #expect(bars.last?["seq"] as? Int == lastTrade)
            }
        }

        @Test("a root's bars follow a rollover to the new contract")
        func barsFollowARollover() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], script: [.rollover(at: 2, root: "NQ")])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                try await client.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["bars:1s"]])
                _ = try await client.until("snapshot")
                try await folder.stream(seconds: 4, steps: 20)
                _ = try await client.until("rollover")
                var bars: [JSON] = []
                while let message = try? await client.next(timeout: 1.5) {
                    if message["type"] as? String == "bar" { bars.append(message) }
                }
                let fromNew = bars.filter { $0["contract"] as? String == "NQH26-CME" }
                #expect(fromNew.count >= 2 && fromNew.count == bars.count)
                // The last one closes on the clock (the market stopped).
                expectBars(fromNew, match: fileBars(try folder.records("NQH26-CME"), period: 1, last: true))
            }
        }

        @Test("max_rate: state channels at most N a second under a burst, ending on the latest state; trades all arrive")
        func rateCap() async throws {
            // About 60 records per flush, 50 flushes a second.
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 3_000, flushMilliseconds: 20)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let capped = try await TestWSClient(url: bridge.ws + "/ws")
                let free = try await TestWSClient(url: bridge.ws + "/ws/live_data/NQ")
                defer { Task { await capped.close() } }
                defer { Task { await free.close() } }
                try await capped.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades", "quotes", "depth", "stats"], "max_rate": 4])
                let (snapshot, _) = try await capped.until("snapshot")
                let start = Date()
                let from = try #require(snapshot["seq"] as? Int)
                try await folder.stream(seconds: 3, steps: 30)
                // Whatever is held goes out within 1/N s of the last write.
                try await Task.sleep(for: .milliseconds(600))
                let end = Date()
                var received: [JSON] = []
                while let message = try? await capped.next(timeout: 0.3) { received.append(message) }
                let seconds = end.timeIntervalSince(start) + 0.3
                for type in ["quote", "depth", "stats"] {
                    let count = received.filter { $0["type"] as? String == type }.count
                    #expect(count >= 8 && Double(count) <= 4 * seconds + 1, "\(count) \(type) messages in \(seconds) s")
                }
                // The uncapped client of the same market got far more of them: at least twice the
                // capped one's (a fixed count would depend on how the machine's flushes fall).
                var uncapped = 0
                while let message = try? await free.next(timeout: 0.3) { if message["type"] as? String == "quote" { uncapped += 1 } }
                let cappedQuotes = received.filter { $0["type"] as? String == "quote" }.count
                #expect(uncapped >= 2 * cappedQuotes, "\(uncapped) uncapped quotes against \(cappedQuotes) capped")
                // Trades are never capped.
                expectTrades(received.filter { $0["type"] as? String == "trade" }, match: try folder.records("NQZ25-CME"), after: from)
                // What the capped client holds at the end is the latest state.
                let latest = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)
                let lastQuote = try #require(received.last { $0["type"] as? String == "quote" })
                #expect(lastQuote["full"] as? Bool == true)
                #expect((lastQuote["bid"] as? NSNumber)?.floatValue == (latest["bid"] as? NSNumber)?.floatValue)
                #expect((lastQuote["ask"] as? NSNumber)?.floatValue == (latest["ask"] as? NSNumber)?.floatValue)
                let lastStats = try #require(received.last { $0["type"] as? String == "stats" })
                #expect(lastStats["volume"] as? Int == latest["volume"] as? Int)
                // Each capped message is the channel's whole state; stats carry the last trade, as a snapshot does.
                #expect(received.filter { ["quote", "depth", "stats"].contains($0["type"] as? String) }.allSatisfy { $0["full"] as? Bool == true })
                #expect((lastStats["last"] as? JSON)?["seq"] as? Int == (latest["last"] as? JSON)?["seq"] as? Int)
                var book = Book(snapshot["depth"] as? JSON ?? [:])
                for depth in received where depth["type"] as? String == "depth" { book.apply(depth) }
                #expect(book == Book(latest["depth"] as? JSON ?? [:]))
            }
        }

        @Test("bad options are refused with a reason: max_rate out of range or not a number, an unknown bar period")
        func badOptions() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                for (request, code) in [
                    (#"{"op":"subscribe","symbols":["NQ"],"max_rate":0}"#, "bad_request"),
                    (#"{"op":"subscribe","symbols":["NQ"],"max_rate":"fast"}"#, "bad_request"),
                    (#"{"op":"subscribe","symbols":["NQ"],"max_rate":5000}"#, "bad_request"),
                    (#"{"op":"subscribe","symbols":["NQ"],"channels":["bars:2m"]}"#, "unknown_channel"),
                ] {
                    try await client.send(request)
                    let (error, _) = try await client.until("error")
                    #expect(error["code"] as? String == code, "\(request)")
                    #expect((error["message"] as? String)?.isEmpty == false)
                }
                let refused = try await TestWSClient(url: bridge.ws + "/ws/live_data/NQ?max_rate=abc")
                #expect(try await refused.closed() == 1008)
                let sse = try RawHTTP.get(port: bridge.port, "/sse?symbols=NQ&max_rate=-1")
                #expect(sse.status == 400 && sse.body.contains("max_rate"))
            }
        }

        @Test("SSE: bars and max_rate in the query; the first event carries no empty id line")
        func sseBarsAndCap() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let stream = try RawHTTP(port: bridge.port)
                stream.request("/sse?symbols=NQ&channels=bars:1s,quotes&max_rate=2", close: false)
                let (status, _) = try stream.head()
                #expect(status == 200)
                _ = try stream.nextEvent()  // retry
                let subscribed = try stream.nextEvent()
                #expect(subscribed["event"] == "subscribed" && subscribed["id"] == nil, "\(subscribed)")
                let snapshot = try stream.nextEvent()
                #expect(snapshot["event"] == "snapshot" && snapshot["id"]?.isEmpty == false)
                let writer = Task { try await folder.stream(seconds: 3, steps: 15) }
                let events = try await blocking { stream.events(for: 3) }
                _ = await writer.result
                let bars = events.filter { $0["event"] == "bar" }.map { parseJSON($0["data"] ?? "") }
                #expect(bars.count >= 2)
                expectBars(bars, match: fileBars(try folder.records("NQZ25-CME"), period: 1))
                #expect(events.filter { $0["event"] == "quote" }.count <= 2 * 3 + 2)
            }
        }
    }
}

/// A client's depth book: the snapshot's, then each depth message applied (a full one replaces
/// it; in a delta a quantity of 0 removes the level).
struct Book: Equatable {
    var bids: [Double: [Double]] = [:]
    var asks: [Double: [Double]] = [:]

    init(_ depth: JSON) {
        bids = Self.levels(depth["bids"])
        asks = Self.levels(depth["asks"])
    }

    static func levels(_ value: Any?) -> [Double: [Double]] {
        var result: [Double: [Double]] = [:]
        // `[price, quantity, orders]`, or `[price, 0]` for a removed level.
        for level in value as? [[NSNumber]] ?? [] where level.count >= 2 {
            result[level[0].doubleValue] = [level[1].doubleValue, level.count > 2 ? level[2].doubleValue : 0]
        }
        return result
    }

    mutating func apply(_ message: JSON) {
        let newBids = Self.levels(message["bids"])
        let newAsks = Self.levels(message["asks"])
        if message["full"] as? Bool == true {
            bids = newBids
            asks = newAsks
            return
        }
        for (price, level) in newBids { bids[price] = level[0] == 0 ? nil : level }
        for (price, level) in newAsks { asks[price] = level[0] == 0 ? nil : level }
    }
}
