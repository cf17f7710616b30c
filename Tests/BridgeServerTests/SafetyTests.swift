import BridgeServer
import BridgeTesting
import Foundation
import Testing

extension BridgeSuites {
    @Suite("Bridge safety: bad input is answered, never crashes the bridge")
    struct SafetyTests {
        @Test("with a token, every route but /health needs it; a wrong one gets 401 and no data")
        func token() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.token = "s3cret" }) { bridge in
                let port = bridge.port
                #expect(try await RawHTTP.fetch(port: port, "/health").status == 200)
                for path in ["/api/symbols", "/api/live_data/NQ", "/metrics", "/sse?symbols=NQ", "/api/stream/dashboard"] {
                    let refused = try await RawHTTP.fetch(port: port, path)
                    #expect(refused.status == 401, "\(path)")
                    #expect(!refused.body.contains("NQZ25"), "\(path) leaked data")
                    #expect(try await RawHTTP.fetch(port: port, path, headers: ["Authorization": "Bearer wrong"]).status == 401)
                }
                #expect(try await RawHTTP.fetch(port: port, "/api/live_data/NQ", headers: ["Authorization": "Bearer s3cret"]).status == 200)
                #expect(try await RawHTTP.fetch(port: port, "/api/live_data/NQ?token=s3cret").status == 200)
                // A WebSocket without the token is closed at once with 4401, before any data.
                for url in [bridge.ws + "/ws", bridge.ws + "/ws?token=wrong", bridge.ws + "/ws/live_data/NQ"] {
                    let refused = try await TestWSClient(url: url)
                    #expect(try await refused.closed() == 4401)
                    #expect(try await refused.next() == nil, "no data before the close")
                }
                let client = try await TestWSClient(url: bridge.ws + "/ws?token=s3cret")
                #expect(try await client.next()?["type"] as? String == "hello")
                await client.close()
            }
        }

        @Test(
            "a symbol is a name from the discovered set, never a path",
            arguments: [
                ("/api/live_data/..%2F..%2Fetc%2Fpasswd", 400),
                ("/api/live_data/%2Fetc%2Fpasswd", 400),
                ("/api/live_data/NQ%00", 400),
                ("/api/live_data/" + String(repeating: "A", count: 65), 400),
                ("/api/live_data/..", 400),
                ("/api/live_data/NOPE", 404),
                ("/api/live_data/bridgelab-journal", 404),
                ("/sse?symbols=..%2Fx", 400),
                ("/sse?symbols=NOPE", 404),
                ("/sse", 400),
            ]
        )
        func symbolNames(path: String, status: Int) async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let response = try await RawHTTP.fetch(port: bridge.port, path)
                #expect(response.status == status, "\(path): \(response.status) \(response.body)")
                #expect(try await RawHTTP.fetch(port: bridge.port, "/health").status == 200)
            }
        }

        @Test("/ws/live_data/{symbol} with an unknown or unacceptable symbol is closed with 4404", arguments: ["NOPE", "..%2F..%2Fetc", "NQ%00"])
        func unknownShorthandSymbol(symbol: String) async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws/live_data/" + symbol)
                #expect(try await client.closed() == 4404)
            }
        }

        @Test("a refusal's close frame is not followed by a FIN until the client answers it")
        func refusalWaitsForCloseReply() async throws {
            // A FIN on the heels of the 101 is lost by clients still switching protocols, which then
            // hang: the close handshake must end the connection, not an early half-close.
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                // Expectations are checked here, not on the blocking thread, so a failure names this test.
                let wire = try await blocking {
                    let raw = try RawHTTP(port: bridge.port)
                    raw.requestUpgrade("/ws/live_data/NOPE")
                    let status = try raw.head().status
                    let header = try raw.bytes(2)
                    let payload = try raw.bytes(Int(header[1] & 0x7F))
                    let endedEarly = raw.ends(within: 0.3)
                    // The client's reply: a masked close frame echoing the code (mask 0).
                    raw.send(bytes: [0x88, 0x82, 0, 0, 0, 0] + payload.prefix(2))
                    return (status, header[0], payload, endedEarly, raw.ends(within: 3))
                }
                #expect(wire.0 == 101)
                #expect(wire.1 == 0x88, "a final close frame")
                #expect(wire.2.count >= 2 && UInt16(wire.2[0]) << 8 | UInt16(wire.2[1]) == 4404)
                #expect(!wire.3, "no FIN before the client's close reply")
                #expect(wire.4, "closed once the client answered")
            }
        }

        @Test("malformed JSON, unknown ops, channels and symbols get an error and the connection stays usable")
        func badMessages() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                defer { Task { await client.close() } }
                let cases: [(String, String)] = [
                    ("{not json", "bad_json"),
                    ("[1,2,3]", "bad_json"),
                    (#"{"symbols":["NQ"]}"#, "bad_request"),
                    (#"{"op":"explode"}"#, "unknown_op"),
                    (#"{"op":"subscribe","symbols":["NQ"],"channels":["gossip"]}"#, "unknown_channel"),
                    (#"{"op":"subscribe","symbols":"NQ"}"#, "bad_request"),
                    (#"{"op":"subscribe","symbols":[]}"#, "bad_request"),
                    (#"{"op":"subscribe","symbols":["ZZZ"]}"#, "unknown_symbol"),
                    (#"{"op":"subscribe","symbols":["../../etc/passwd"]}"#, "unknown_symbol"),
                    ("{\"op\":\"subscribe\",\"symbols\":[\"NQ\\u0000\"]}", "unknown_symbol"),
                    (#"{"op":"subscribe","symbols":["NQ"],"resume":{"NQ":{"epoch":5}}}"#, "bad_request"),
                ]
                for (text, code) in cases {
                    try await client.send(text)
                    let (error, _) = try await client.until("error")
                    #expect(error["code"] as? String == code, "\(text) -> \(error)")
                }
                try await client.send(["op": "ping", "id": "still-here"])
                let (pong, _) = try await client.until("pong")
                #expect(pong["id"] as? String == "still-here")
                try await client.send(["op": "subscribe", "symbols": ["NQ"]])
                _ = try await client.until("snapshot")
            }
        }

        @Test("limits: connections (503 beyond), subscriptions per client, message size, message rate")
        func limits() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES", "VX"])
            defer { folder.cleanup() }
            try await withBridge(
                settings(folder.path) {
                    $0.maxConnections = 2
                    $0.maxSubscriptionsPerClient = 2
                    $0.maxInboundMessageBytes = 1024
                    $0.inboundMessagesPerSecond = 5
                    $0.maxClientViolations = 15
                }
            ) { bridge in
                let a = try await TestWSClient(url: bridge.ws + "/ws")
                let b = try await TestWSClient(url: bridge.ws + "/ws")
                _ = try await a.until("hello")
                _ = try await b.until("hello")
                // A third streaming connection is refused: 503 for SSE, close code 1013 for WebSocket.
                #expect(try await RawHTTP.fetch(port: bridge.port, "/sse?symbols=NQ").status == 503)
                let third = try await TestWSClient(url: bridge.ws + "/ws")
                #expect(try await third.closed() == 1013)
                #expect(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").status == 200)

                // Subscriptions per client.
                try await a.send(["op": "subscribe", "symbols": ["NQ", "ES", "VX"]])
                let (error, _) = try await a.until("error")
                #expect(error["code"] as? String == "too_many_subscriptions")

                // Message rate: a burst past the bucket gets rate_limited errors, then abuse closes.
                for i in 0..<40 { try? await b.send(["op": "ping", "id": i]) }
                let (limited, _) = try await b.until("error")
                #expect(limited["code"] as? String == "rate_limited")
                #expect(try await b.closed() == 1008)

                // An over-long message closes with 1009.
                try await a.send(String(repeating: "x", count: 4096))
                #expect(try await a.closed() == 1009)

                // Slots are given back when connections end.
                try await Task.sleep(for: .milliseconds(200))
                let c = try await TestWSClient(url: bridge.ws + "/ws")
                #expect(try await c.next()?["type"] as? String == "hello")
                await c.close()
            }
        }

        @Test("a corrupt file is refused and logged; the bridge serves the other symbols")
        func corruptFile() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try Data("SCIXgarbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage".utf8).write(
                to: URL(fileURLWithPath: folder.path + "/ESZ25-CME.scid")
            )
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: folder.path + "/YMZ25-CBOT.scid"))
            try await withBridge(folder.path) { bridge in
                #expect(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").status == 200)
                let es = try await RawHTTP.fetch(port: bridge.port, "/api/live_data/ESZ25-CME")
                #expect(es.status == 200)
                #expect(parseJSON(es.body)["seq"] as? Int == -1)
                try folder.advance(by: 0.5)
                let client = try await TestWSClient(url: bridge.ws + "/ws/live_data/NQ")
                _ = try await client.until("snapshot")
                try await folder.stream(seconds: 0.5, steps: 5)
                #expect(!(try await client.collect("trade", count: 1)).isEmpty)
                await client.close()
            }
        }
    }
}
