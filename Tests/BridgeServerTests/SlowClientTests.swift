import BridgeCore
import BridgeTesting
import BridgeWire
import Foundation
import NIOCore
import Testing

extension BridgeSuites {
    @Suite("Fan-out: encode once, bounded queues, conflation, slow consumers")
    struct SlowClientTests {
        func message(_ type: String, contract: String = "NQZ25-CME", seq: Int) -> OutboundMessage {
            OutboundMessage(bytes: ByteBuffer(string: "{\"type\":\"\(type)\",\"seq\":\(seq)}"), event: type, contract: contract, epoch: "e", seq: seq)
        }

        @Test("state channels conflate: an unsent delta is replaced by the newest full value")
        func conflation() async {
            let outbox = ClientOutbox(id: 1, maxBacklog: 100)
            outbox.enqueue(message("quote", seq: 1), channel: .quotes) { self.message("quote-full", seq: 1) }
            outbox.enqueue(message("trade", seq: 2), channel: .trades)
            outbox.enqueue(message("quote", seq: 3), channel: .quotes) { self.message("quote-full", seq: 3) }
            outbox.enqueue(message("quote", seq: 4), channel: .quotes) { self.message("quote-full", seq: 4) }
            outbox.enqueue(message("quote", contract: "ESZ25-CME", seq: 5), channel: .quotes) {
                self.message("quote-full", contract: "ESZ25-CME", seq: 5)
            }
            let items = await outbox.next()
            let events: [String] = items.compactMap { if case .message(let m) = $0 { return "\(m.event):\(m.seq)" } else { return nil } }
            #expect(events == ["quote-full:4", "trade:2", "quote:5"])
            #expect(outbox.conflatedCount == 2)
            // Once taken, the next quote is a delta again.
            outbox.enqueue(message("quote", seq: 6), channel: .quotes) { self.message("quote-full", seq: 6) }
            let next = await outbox.next()
            guard case .message(let m) = next.first else {
                Issue.record("expected the next quote, got \(next)")
                return
            }
            #expect(m.event == "quote")
        }

        @Test("trades are never dropped: past the backlog the client is closed as a slow consumer")
        func slowConsumer() async {
            let outbox = ClientOutbox(id: 1, maxBacklog: 5)
            for seq in 0..<5 { #expect(outbox.enqueue(message("trade", seq: seq), channel: .trades)) }
            #expect(!outbox.enqueue(message("trade", seq: 5), channel: .trades))
            #expect(outbox.isClosed)
            let items = await outbox.next()
            #expect(items.count == 1)
            if case .close(let code, _) = items.first { #expect(code == CloseCode.slowConsumer) } else { Issue.record("expected a close") }
            #expect(await outbox.next().isEmpty)
        }

        @Test("one update's bytes are shared by all subscribers, not copied per client")
        func sharedBytes() async throws {
            let a = ClientOutbox(id: 1, maxBacklog: 10)
            let b = ClientOutbox(id: 2, maxBacklog: 10)
            let shared = message("trade", seq: 1)
            a.enqueue(shared, channel: .trades)
            b.enqueue(shared, channel: .trades)
            guard case .message(let x) = await a.next().first, case .message(let y) = await b.next().first else {
                Issue.record("nothing queued")
                return
            }
            x.bytes.withUnsafeReadableBytes { px in
                y.bytes.withUnsafeReadableBytes { py in #expect(px.baseAddress == py.baseAddress) }
            }
        }

        @Test("a client that never reads is closed as a slow consumer; the others get every trade")
        func neverReadingClient() async throws {
            // Enough data (~10 MB of trades, ~150 bytes each) to fill the kernel's socket buffers and
            // then the backlog.
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 50_000, flushMilliseconds: 20)
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.clientBacklog = 5_000 }) { bridge in
                // Connected with a tiny receive buffer, subscribed, and then never read from again.
                let stuck = try RawHTTP(port: bridge.port, receiveBuffer: 2048)
                stuck.requestUpgrade("/ws/live_data/NQ")
                #expect(try await blocking { try stuck.head() }.status == 101)

                let good = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await good.close() } }
                try await good.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades", "quotes"]])
                let (snapshot, _) = try await good.until("snapshot")
                let start = try #require(snapshot["seq"] as? Int)
                try await folder.stream(seconds: 3, steps: 30)
                let records = try folder.records("NQZ25-CME")
                let received = try await good.collect("trade", count: trades(in: records, after: start).count, timeout: 30)
                expectTrades(received, match: records, after: start)

                let metrics = try await RawHTTP.fetch(port: bridge.port, "/metrics").body
                #expect(metrics.contains("bridge_disconnects_total{reason=\"slow_consumer\"}"), "\(metrics)")
            }
        }
    }
}
