import BridgeCore
import BridgeTesting
import BridgeWire
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import BridgeServer

#if canImport(Glibc)
import Glibc
#endif

/// Weak references to what one connection held, taken while it was open.
final class HeldObjects: @unchecked Sendable {
    private let lock = NIOLock()
    private var references: [(name: String, get: () -> AnyObject?)] = []

    func hold(_ name: String, _ object: AnyObject?) {
        guard let object else {
            Issue.record("\(name): nothing to hold")
            return
        }
        weak var weakObject = object
        lock.withLock { references.append((name, { weakObject })) }
    }

    var count: Int { lock.withLock { references.count } }

    /// The names of the objects still alive.
    var alive: [String] { lock.withLock { references.filter { $0.get() != nil }.map(\.name) } }

    /// Waits (generously: this is no timing bound) until everything held is released.
    func released(within seconds: Double = 20) async throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        while !alive.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return alive
    }
}

/// A WebSocket over a raw socket: it upgrades, may send one text frame, and then does exactly what
/// a test says (nothing at all, not even a pong, unless told).
final class RawWebSocket: @unchecked Sendable {
    let http: RawHTTP

    init(port: Int, path: String = "/ws", receiveBuffer: Int? = nil) throws {
        http = try RawHTTP(port: port, receiveBuffer: receiveBuffer)
        http.requestUpgrade(path)
        let (status, _) = try http.head()
        guard status == 101 else { throw Timeout(description: "upgrade answered \(status)") }
    }

    /// A masked text frame, as a client must send.
    func send(text: String) {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [1, 2, 3, 4]
        http.send(bytes: [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
    }

    /// Whether the bridge ends the connection within `seconds` (bytes on the way are read).
    func ends(within seconds: Double) -> Bool { http.ends(within: seconds) }
}

extension BridgeSuites {
    /// A closed connection must leave nothing behind: its outbox, its writer and its channel are
    /// released, and the hub's and the registry's tables are as before it came.
    @Suite("Closed connections are released")
    struct ConnectionReleaseTests {
        /// Holds the open connections' outbox, writer and channel weakly; waits until `expected` are open.
        func holdOpen(_ bridge: TestBridge, _ held: HeldObjects, expected: Int = 1) async throws {
            let deadline = Date().addingTimeInterval(10)
            while bridge.app.registry.openOutboxes.count < expected, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let outboxes = bridge.app.registry.openOutboxes
            try #require(outboxes.count == expected, "connections open: \(outboxes.count)")
            for outbox in outboxes {
                held.hold("outbox", outbox)
                if let writer = outbox.consumer as? WebSocketOutboxWriter {
                    held.hold("writer", writer)
                    held.hold("channel", writer.channel)
                }
            }
        }

        func expectTablesEmpty(_ bridge: TestBridge, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let deadline = Date().addingTimeInterval(10)
            while !bridge.app.registry.counts.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(bridge.app.registry.counts.isEmpty, sourceLocation: sourceLocation)
            #expect(bridge.app.registry.openOutboxes.isEmpty, sourceLocation: sourceLocation)
            #expect(bridge.app.registry.reservations == 0, sourceLocation: sourceLocation)
            let tables = try #require(bridge.app.hub).clientTableSizes
            #expect(tables.clients == 0 && tables.subscriptions == 0, "hub tables: \(tables)", sourceLocation: sourceLocation)
        }

        /// Every upgraded channel and its connection handler, held weakly.
        func observeChannels(_ bridge: TestBridge, _ held: HeldObjects) {
            bridge.app.registry.observeUpgrades { channel, connection in
                held.hold("upgraded channel", channel)
                held.hold("connection handler", connection)
            }
        }

        @Test("a WebSocket that only reads hello, and one that subscribes, are released when they close")
        func webSocket() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let held = HeldObjects()
                observeChannels(bridge, held)
                for subscribe in [false, true] {
                    let client = try await TestWSClient(url: bridge.ws + "/ws")
                    _ = try await client.until("hello")
                    if subscribe {
                        try await client.send(["op": "subscribe", "symbols": ["NQ"]])
                        _ = try await client.until("snapshot")
                    }
                    try await holdOpen(bridge, held)
                    await client.close()
                    #expect(try await held.released() == [])
                    try await expectTablesEmpty(bridge)
                }
                #expect(held.count == 10)  // outbox, writer, channel, the upgraded channel and its handler, twice
            }
        }

        @Test("an SSE stream is released as soon as its client leaves")
        func sse() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            // A long heartbeat: the stream must end on the client's leaving, not at its next write.
            try await withBridge(settings(folder.path) { $0.heartbeatSeconds = 600 }) { bridge in
                let held = HeldObjects()
                let stream = try RawHTTP(port: bridge.port)
                stream.request("/sse?symbols=NQ", close: false)
                _ = try stream.head()
                while try stream.nextEvent()["event"] != "snapshot" {}
                try await holdOpen(bridge, held)
                shutdown(stream.fd, Int32(SHUT_RDWR))
                #expect(try await held.released() == [])
                try await expectTablesEmpty(bridge)
            }
        }

        @Test("a refused upgrade (unknown symbol) is released")
        func refused() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let held = HeldObjects()
                observeChannels(bridge, held)
                let client = try await TestWSClient(url: bridge.ws + "/ws/live_data/NOSUCH")
                #expect(try await client.closed() == Int(CloseCode.unknownSymbol))
                #expect(held.count == 2)
                #expect(try await held.released() == [])
                try await expectTablesEmpty(bridge)
            }
        }

        @Test("a slow consumer cut off with 4008 is released")
        func slowConsumer() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 2_000, flushMilliseconds: 10)
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.clientBacklog = 20 }) { bridge in
                let held = HeldObjects()
                observeChannels(bridge, held)
                // A client with a tiny receive buffer that never reads: its socket fills at once.
                let client = try RawWebSocket(port: bridge.port, receiveBuffer: 2048)
                client.send(text: #"{"op":"subscribe","symbols":["NQ"],"channels":["trades"]}"#)
                try await holdOpen(bridge, held)
                // Trades arrive far faster than a full socket takes them: the backlog passes 20.
                for _ in 0..<100 where !bridge.app.registry.openOutboxes.isEmpty {
                    try folder.advance(by: 0.5)
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await held.released() == [])
                try await expectTablesEmpty(bridge)
                let disconnects = String(decoding: bridge.app.prometheus.emitToBuffer(), as: UTF8.self)
                #expect(disconnects.contains(#"bridge_disconnects_total{reason="slow_consumer"} 1"#))
                withExtendedLifetime(client) {}
            }
        }

        @Test("a peer that stops answering pings is closed and released")
        func pingTimeout() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            // Heartbeats every 0.1 s, so a ping every 0.4 s: a silent peer is closed at the second.
            try await withBridge(settings(folder.path) { $0.heartbeatSeconds = 0.1 }) { bridge in
                let held = HeldObjects()
                observeChannels(bridge, held)
                let client = try RawWebSocket(port: bridge.port)
                try await holdOpen(bridge, held)
                #expect(try await blocking { client.ends(within: 20) })
                #expect(try await held.released() == [])
                try await expectTablesEmpty(bridge)
                let metrics = String(decoding: bridge.app.prometheus.emitToBuffer(), as: UTF8.self)
                #expect(metrics.contains(#"bridge_disconnects_total{reason="ping_timeout"} 1"#))
            }
        }

        @Test("a client that answers pings stays connected through many ping rounds")
        func pingsAnswered() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.heartbeatSeconds = 0.1 }) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                _ = try await client.until("hello")
                // 2 s is five ping rounds; swift-websocket's client answers each with a pong.
                let heartbeats = try await client.collect("heartbeat", count: 15, timeout: 20)
                #expect(heartbeats.count == 15)
                #expect(bridge.app.registry.counts["ws"] == 1)
                await client.close()
            }
        }
    }
}
