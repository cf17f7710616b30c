import BridgeCore
import BridgeServer
import BridgeTesting
import Foundation
import HummingbirdWSClient
import Logging
import MarketSim
import NIOConcurrencyHelpers
import SierraFormat
import Testing

extension BridgeSuites {
    @Suite("Bridge streaming")
    struct StreamingTests {
        /// On NIO's shared loops, on one loop (the watcher's: no hop), and on three of the bridge's own.
        @Test("WebSocket: a snapshot, then every trade in file order with the file's values", arguments: [nil, 1, 3] as [Int?])
        func snapshotThenEveryTrade(eventLoops: Int?) async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.eventLoops = eventLoops }) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                let hello = try #require(try await client.next())
                #expect(hello["type"] as? String == "hello")
                try await client.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades"], "id": "s1"])
                let (subscribed, _) = try await client.until("subscribed")
                #expect(subscribed["id"] as? String == "s1")
                #expect((subscribed["symbols"] as? [String: String])?["NQ"] == "NQZ25-CME")
                let (snapshot, _) = try await client.until("snapshot")
                let start = try #require(snapshot["seq"] as? Int)
                #expect(start == (try folder.records("NQZ25-CME").count) - 1)

                try await folder.stream(seconds: 2, steps: 20)
                let records = try folder.records("NQZ25-CME")
                let expected = trades(in: records, after: start).count
                #expect(expected > 50)
                let received = try await client.collect("trade", count: expected)
                expectTrades(received, match: records, after: start)
                #expect(snapshot["root"] as? String == "NQ" && (snapshot["epoch"] as? String)?.isEmpty == false)
                // Updates name their contract; root and epoch are the snapshot's.
                #expect(received.allSatisfy { $0["contract"] as? String == "NQZ25-CME" && $0["root"] == nil && $0["epoch"] == nil })
            }
        }

        /// Every text frame a plain WebSocket client gets on `path` for `seconds` of a busy market.
        func frames(_ bridge: TestBridge, _ folder: SimulatedFolder, path: String) async throws -> [String] {
            let collected = NIOLockedValueBox<[String]>([])
            let writer = Task { try await folder.stream(seconds: 3, steps: 15) }
            _ = try await WebSocketClient.connect(url: bridge.ws + path, logger: Logger(label: "frames")) { inbound, outbound, _ in
                let end = Date().addingTimeInterval(2.5)
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    if case .text(let text) = message { collected.withLockedValue { $0.append(text) } }
                    if Date() > end { break }
                }
                try? await outbound.close(.normalClosure, reason: nil)
            }
            _ = await writer.result
            return collected.withLockedValue { $0 }
        }

        @Test("one JSON message per frame for a standard client; newline batches only with ?batch=1")
        func framing() async throws {
            // Flushes of ~60 records: what a batching client gets several to a frame.
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 3_000, flushMilliseconds: 20)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let plain = try await frames(bridge, folder, path: "/ws/live_data/NQ")
                #expect(plain.count > 100)
                for frame in plain {
                    // As JSON.parse(event.data) or json.loads(message) would read it.
                    let object = try? JSONSerialization.jsonObject(with: Data(frame.utf8)) as? [String: Any]
                    #expect(object?["type"] is String, "\(frame.prefix(300))")
                }
                #expect((try JSONSerialization.jsonObject(with: Data(plain[0].utf8)) as? [String: Any])?["batch"] as? Bool == false)
                let batched = try await frames(bridge, folder, path: "/ws/live_data/NQ?batch=1")
                // The first frame starts with hello (and may carry more).
                let hello = try JSONSerialization.jsonObject(with: Data((batched[0].split(separator: "\n").first ?? "").utf8)) as? [String: Any]
                #expect(hello?["type"] as? String == "hello" && hello?["batch"] as? Bool == true)
                #expect(batched.contains { $0.contains("\n") }, "a busy market batches frames when asked")
                let lines = batched.flatMap { $0.split(separator: "\n") }
                for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil) }
            }
        }

        @Test("a new day's depth file starts with a full book naming that file; depth deltas carry no file")
        func newDayDepthIsFull() async throws {
            let folder = try SimulatedFolder(roots: ["ES"], rate: 300, script: [.newDay(at: 2.0)])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws/live_data/ES")
                defer { Task { await client.close() } }
                let (snapshot, _) = try await client.until("snapshot")
                let firstDay = try #require((snapshot["depth"] as? JSON)?["file"] as? String)
                try await folder.stream(seconds: 3, steps: 30)
                var depths: [JSON] = []
                while let message = try? await client.next(timeout: 1) {
                    if message["type"] as? String == "depth" { depths.append(message) }
                }
                let newDay = try #require(depths.firstIndex { ($0["file"] as? String).map { $0 != firstDay } == true }, "no book from a new file")
                #expect(depths[newDay]["full"] as? Bool == true)
                #expect((depths[newDay]["bids"] as? [Any])?.isEmpty == false)
                for depth in depths where depth["full"] as? Bool != true { #expect(depth["file"] == nil) }
                #expect(depths.dropFirst(newDay + 1).contains { $0["full"] as? Bool != true }, "deltas continue after the new day's book")
            }
        }

        @Test("/ws/live_data/{symbol} subscribes to one symbol on connect; quotes and stats come as deltas")
        func shorthandRouteAndDeltas() async throws {
            let folder = try SimulatedFolder(roots: ["ES"], rate: 300)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws/live_data/ES")
                defer { Task { await client.close() } }
                let (snapshot, _) = try await client.until("snapshot")
                #expect(snapshot["contract"] as? String == "ESZ25-CME")
                #expect(snapshot["bid"] is NSNumber && snapshot["ask"] is NSNumber)
                let depth = try #require(snapshot["depth"] as? JSON)
                #expect((depth["bids"] as? [[Any]])?.count == 10)

                try await folder.stream(seconds: 2, steps: 10)
                var quotes: [JSON] = []
                var stats: [JSON] = []
                var depths: [JSON] = []
                while let message = try? await client.next(timeout: 1) {
                    switch message["type"] as? String {
                    case "quote": quotes.append(message)
                    case "stats": stats.append(message)
                    case "depth": depths.append(message)
                    default: break
                    }
                }
                #expect(!quotes.isEmpty && !stats.isEmpty && !depths.isEmpty)
                // A delta carries only what changed: a side that is present differs from the last
                // value seen (full values, after conflation, may repeat it).
                var lastBid = (snapshot["bid"] as? NSNumber)?.floatValue
                var lastAsk = (snapshot["ask"] as? NSNumber)?.floatValue
                for quote in quotes {
                    let full = quote["full"] as? Bool == true
                    let bid = (quote["bid"] as? NSNumber)?.floatValue
                    let ask = (quote["ask"] as? NSNumber)?.floatValue
                    #expect(bid != nil || ask != nil)
                    if !full {
                        if let bid { #expect(bid != lastBid, "a delta repeated an unchanged bid") }
                        if let ask { #expect(ask != lastAsk, "a delta repeated an unchanged ask") }
                    }
                    lastBid = bid ?? lastBid
                    lastAsk = ask ?? lastAsk
                }
                #expect(stats.allSatisfy { $0["volume"] != nil })
                #expect(stats.contains { $0["open"] == nil })
                // Depth deltas carry changed levels only, not the whole book.
                #expect(depths.contains { (($0["bids"] as? [Any])?.count ?? 0) + (($0["asks"] as? [Any])?.count ?? 0) < 20 })
                // Applying the deltas to the snapshot gives the bridge's current state.
                var bid = (snapshot["bid"] as? NSNumber)?.floatValue
                var ask = (snapshot["ask"] as? NSNumber)?.floatValue
                for quote in quotes {
                    if let value = quote["bid"] as? NSNumber { bid = value.floatValue }
                    if let value = quote["ask"] as? NSNumber { ask = value.floatValue }
                }
                let now = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/ES").body)
                #expect(bid == (now["bid"] as? NSNumber)?.floatValue)
                #expect(ask == (now["ask"] as? NSNumber)?.floatValue)
                // The depth deltas, compact as they are (removed levels `[price, 0]`, unchanged
                // sides left out), rebuild the bridge's book.
                var book = Book(depth)
                for message in depths { book.apply(message) }
                #expect(book == Book(now["depth"] as? JSON ?? [:]))
                #expect(depths.allSatisfy { $0["t"] == nil && ($0["bids"] != nil || $0["asks"] != nil) })
                var removals: [[NSNumber]] = []
                for message in depths {
                    let levels: [[NSNumber]] = ((message["bids"] as? [[NSNumber]]) ?? []) + ((message["asks"] as? [[NSNumber]]) ?? [])
                    removals += levels.filter { $0.count > 1 && $0[1].intValue == 0 }
                }
                #expect(!removals.isEmpty && removals.allSatisfy { $0.count == 2 })
            }
        }

        @Test("a client that drops and resumes misses nothing: from memory, and from the file", arguments: [50_000, 3])
        func resumeAfterDrop(historyLimit: Int) async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.historyLimit = historyLimit }) { bridge in
                let first = try await TestWSClient(url: bridge.ws + "/ws")
                try await first.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades"]])
                let (snapshot, _) = try await first.until("snapshot")
                let epoch = try #require(snapshot["epoch"] as? String)
                try await folder.stream(seconds: 0.5, steps: 5)
                let early = try await first.collect("trade", count: trades(in: try folder.records("NQZ25-CME"), after: snapshot["seq"] as! Int).count)
                let lastSeen = try #require(early.last?["seq"] as? Int)
                await first.close()

                // Written while nobody listened.
                try folder.advance(by: 1)
                try await Task.sleep(for: .milliseconds(300))

                let second = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await second.close() } }
                try await second.send([
                    "op": "subscribe", "symbols": ["NQ"], "channels": ["trades"], "resume": ["NQ": ["epoch": epoch, "seq": lastSeen]],
                ])
                let (resumed, before) = try await second.until("resumed")
                #expect(resumed["source"] as? String == (historyLimit > 100 ? "memory" : "file"))
                let replayed = before.filter { $0["type"] as? String == "trade" }
                let records = try folder.records("NQZ25-CME")
                expectTrades(replayed, match: records, after: lastSeen)
                #expect(resumed["replayed"] as? Int == replayed.count)
                let (snapshot2, _) = try await second.until("snapshot")
                #expect(snapshot2["seq"] as? Int == records.count - 1)
            }
        }

        @Test("a resume that cannot be honoured says so, then sends a fresh snapshot")
        func notRecovered() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                try await client.send(["op": "subscribe", "symbols": ["NQ"], "resume": ["NQ": ["epoch": "not-this-file", "seq": 3]]])
                let (refusal, _) = try await client.until("not_recovered")
                #expect(refusal["reason"] as? String == "epoch_changed")
                _ = try await client.until("snapshot")
                let live = try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ")
                let epoch = try #require(parseJSON(live.body)["epoch"] as? String)
                try await client.send(["op": "subscribe", "symbols": ["NQZ25-CME"], "resume": ["NQZ25-CME": ["epoch": epoch, "seq": 1_000_000]]])
                let (ahead, _) = try await client.until("not_recovered")
                #expect(ahead["reason"] as? String == "ahead_of_file")
            }
        }

        @Test("rollover: a root subscription follows the new contract")
        func rollover() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], script: [.rollover(at: 2, root: "NQ")])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                try await client.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades"]])
                let (snapshot, _) = try await client.until("snapshot")
                #expect(snapshot["contract"] as? String == "NQZ25-CME")
                try await folder.stream(seconds: 2, steps: 10)
                let (rollover, _) = try await client.until("rollover")
                #expect(rollover["from"] as? String == "NQZ25-CME")
                #expect(rollover["to"] as? String == "NQH26-CME")
                var newTrades: [JSON] = []
                while let message = try? await client.next(timeout: 1) {
                    if message["type"] as? String == "trade", message["contract"] as? String == "NQH26-CME" { newTrades.append(message) }
                }
                // Every trade of the new contract, from its first record.
                expectTrades(newTrades, match: try folder.records("NQH26-CME"), after: -1)
                let symbols = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/symbols").body)
                #expect((symbols["roots"] as? [String: String])?["NQ"] == "NQH26-CME")
            }
        }

        @Test("a rewritten file resets the contract; the bridge keeps serving the others")
        func rewrite() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES"], script: [.rewrite(at: 2, root: "ES", keepFraction: 0.3)])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                try await client.send(["op": "subscribe", "symbols": ["ES", "NQ"], "channels": ["trades"]])
                _ = try await client.until("snapshot")
                _ = try await client.until("snapshot")
                try await folder.stream(seconds: 1.5, steps: 10)
                let (reset, _) = try await client.until("reset")
                #expect(reset["contract"] as? String == "ESZ25-CME")
                let (snapshot, _) = try await client.until("snapshot")
                #expect(snapshot["contract"] as? String == "ESZ25-CME")
                // NQ keeps flowing after the reset.
                try await folder.stream(seconds: 0.5, steps: 5)
                let after = try await client.collect("trade", count: 1)
                #expect(!after.isEmpty)
                let es = try folder.records("ESZ25-CME")
                let now = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/ES").body)
                #expect(now["seq"] as? Int == es.count - 1)
            }
        }

        @Test("a partial record is not sent until it is whole")
        func partialRecord() async throws {
            let path = NSTemporaryDirectory() + "bridgelab-partial-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let t = SCDateTime(unixMicroseconds: 1_764_599_400_000_000)
            let records = (0..<3).map { i in
                IntradayRecord.trade(
                    at: SCDateTime(microseconds: t.microseconds + Int64(i) * 1000),
                    price: 100 + Float(i),
                    size: 1,
                    side: .ask,
                    bid: 99,
                    ask: 100 + Float(i)
                )
            }
            let bytes = IntradayFormat.encodeFile(records)
            let file = path + "/CLZ25-NYMEX.scid"
            FileManager.default.createFile(atPath: file, contents: Data(bytes[0..<(56 + 80 + 13)]))
            try await withBridge(path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws/live_data/CL")
                defer { Task { await client.close() } }
                let (snapshot, _) = try await client.until("snapshot")
                #expect(snapshot["seq"] as? Int == 1)
                #expect(try await client.collect("trade", count: 1, timeout: 0.5).isEmpty)
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(bytes[(56 + 80 + 13)...]))
                try handle.close()
                let trade = try await client.collect("trade", count: 1)
                #expect(trade.first?["seq"] as? Int == 2)
                #expect((trade.first?["price"] as? NSNumber)?.floatValue == 102)
                #expect(try await client.collect("trade", count: 1, timeout: 0.5).isEmpty)
            }
        }

        @Test("SSE: id on every event, retry, snapshot then trades; Last-Event-ID resumes without loss")
        func sse() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.heartbeatSeconds = 0.3 }) { bridge in
                let port = bridge.port
                let stream = try RawHTTP(port: port)
                stream.request("/sse?symbols=NQ,ES&channels=trades", close: false)
                let (status, headers) = try await blocking { try stream.head() }
                #expect(status == 200)
                #expect(headers["content-type"] == "text/event-stream")
                let retry = try await blocking { try stream.nextEvent() }
                #expect(retry["retry"] == "2000")
                var events: [[String: String]] = []
                for _ in 0..<3 { events.append(try await blocking { try stream.nextEvent() }) }
                #expect(events.map { $0["event"] } == ["subscribed", "snapshot", "snapshot"])
                try await folder.stream(seconds: 0.6, steps: 6)
                let seen = try await blocking { stream.events(for: 1) }
                let trades = seen.filter { $0["event"] == "trade" }
                let comments = seen.filter { $0[":"] != nil }.count
                #expect(!trades.isEmpty)
                #expect(trades.allSatisfy { ($0["id"] ?? "").contains("NQZ25-CME~") && ($0["id"] ?? "").contains("ESZ25-CME~") })
                #expect(comments > 0, "idle heartbeats are comment lines")
                let lastID = try #require(trades.last?["id"])

                // Gone; data is written; back with Last-Event-ID.
                try folder.advance(by: 1)
                try await Task.sleep(for: .milliseconds(300))
                let again = try RawHTTP(port: port)
                again.request("/sse?symbols=NQ,ES&channels=trades", headers: ["Last-Event-ID": lastID], close: false)
                _ = try await blocking { try again.head() }
                let replay = try await blocking { again.events(for: 1) }.filter { $0["event"] == "trade" }.map { parseJSON($0["data"] ?? "") }
                let positions = Dictionary(
                    uniqueKeysWithValues: lastID.split(separator: ";").map { part -> (String, Int) in
                        let fields = part.split(separator: "~")
                        return (String(fields[0]), Int(fields[2])!)
                    }
                )
                for contract in ["NQZ25-CME", "ESZ25-CME"] {
                    let mine = replay.filter { $0["contract"] as? String == contract }
                    expectTrades(mine, match: try folder.records(contract), after: positions[contract]!)
                }
            }
        }

        @Test("the dashboard stream sends every symbol and the bridge's health at its interval")
        func dashboard() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES", "VX"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.dashboardIntervalSeconds = 0.2 }) { bridge in
                let stream = try RawHTTP(port: bridge.port)
                stream.request("/api/stream/dashboard", close: false)
                _ = try await blocking { try stream.head() }
                _ = try await blocking { try stream.nextEvent() }  // retry
                let started = Date()
                let first = try await blocking { try stream.nextEvent() }
                let second = try await blocking { try stream.nextEvent() }
                #expect(first["event"] == "dashboard" && second["event"] == "dashboard")
                #expect(first["id"] == "0" && second["id"] == "1")
                #expect(Date().timeIntervalSince(started) >= 0.15)
                let data = parseJSON(second["data"] ?? "")
                #expect((data["symbols"] as? [JSON])?.count == 3)
                let health = try #require(data["bridge"] as? JSON)
                #expect(health["mode"] as? String == "event")
                #expect((health["connections"] as? JSON)?["sse"] as? Int == 1)
            }
        }

        @Test("a per-symbol price multiplier scales every price the bridge serves")
        func priceMultiplier() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.priceMultipliers = ["NQ": 0.5] }) { bridge in
                let records = try folder.records("NQZ25-CME")
                let nq = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)
                let es = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/ES").body)
                let last = try #require(records.last { $0.isTrade })
                #expect(((nq["last"] as? JSON)?["price"] as? NSNumber)?.floatValue == last.close * 0.5)
                let esLast = try #require(try folder.records("ESZ25-CME").last { $0.isTrade })
                #expect(((es["last"] as? JSON)?["price"] as? NSNumber)?.floatValue == esLast.close, "other roots unscaled")
                let depth = try #require(nq["depth"] as? JSON)
                let bestBid = try #require((depth["bids"] as? [[NSNumber]])?.first?.first?.floatValue)
                #expect(bestBid < 15_000, "depth prices are scaled too")
            }
        }

        @Test("heartbeats arrive on an idle WebSocket")
        func heartbeat() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.heartbeatSeconds = 0.2 }) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                let (beat, _) = try await client.until("heartbeat", timeout: 2)
                #expect(beat["t"] is NSNumber)
                try await client.send(["op": "ping", "id": 7])
                let (pong, _) = try await client.until("pong")
                #expect(pong["id"] as? String == "7")
            }
        }
    }
}
