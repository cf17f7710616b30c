import BridgeCore
import BridgeTesting
import BridgeWire
import Logging
import Metrics
import NIOCore
import NIOEmbedded
import Testing

@testable import BridgeServer

/// The upgrade without sockets: a connection is set up on an in-memory channel, upgraded, and
/// then lives on as handlers on its loop — the server's task for it has already returned.
@Suite("WebSocketUpgradeChannel: an upgraded connection holds no task")
struct WebSocketUpgradeChannelTests {
    static let upgradeRequest =
        "GET /ws/live_data/NQ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    /// Everything the channel wrote so far, as one byte string.
    static func written(_ channel: NIOAsyncTestingChannel) async throws -> String {
        var bytes: [UInt8] = []
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("handle returns at the upgrade; hello and the snapshot follow from the loop; the client's close ends it and frees its slot")
    func handleReturnsAtUpgrade() async throws {
        let folder = try SimulatedFolder()
        defer { folder.cleanup() }
        let logger = {
            var logger = Logger(label: "upgrade-test")
            logger.logLevel = .critical
            return logger
        }()
        let configuration = settings(folder.path)
        let metrics = BridgeMetrics(factory: NOOPMetricsHandler.instance)
        let hub = MarketHub(configuration: configuration.hubConfiguration, metrics: metrics, logger: logger)
        hub.refresh()
        let registry = ConnectionRegistry(maxConnections: 10, backlog: 1_000, metrics: metrics)
        let session = WebSocketSession(hub: hub, registry: registry, configuration: configuration, logger: logger)
        let upgrade = WebSocketUpgradeChannel(responder: { _, _, _ in }, http1: .init(), session: session, origins: AllowedOrigins([]))

        let channel = NIOAsyncTestingChannel()
        let value = try await channel.testingEventLoop.executeInContext { upgrade.setup(channel: channel, logger: logger) }.get()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40_000)).get()
        try await channel.writeInbound(ByteBuffer(string: Self.upgradeRequest))

        // Hummingbird runs `handle` as the connection's task: it must end while the connection
        // stays open. (The sleep only keeps a regression from hanging the suite.)
        let returned = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await upgrade.handle(value: value, logger: logger)
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return false
            }
            let first = await group.next() ?? false
            if !first { try? await channel.close() }
            group.cancelAll()
            return first
        }
        #expect(returned, "handle returned with the connection open")
        #expect(channel.isActive)
        #expect(registry.counts == ["ws": 1])

        await channel.testingEventLoop.run()
        let written = try await Self.written(channel)
        #expect(written.hasPrefix("HTTP/1.1 101 Switching Protocols"))
        #expect(written.contains(#""type":"hello""#))
        #expect(written.contains(#""type":"snapshot""#))

        // The client's close (masked, code 1000): echoed, then the connection ends.
        try await channel.writeInbound(ByteBuffer(bytes: [0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2]))
        await channel.testingEventLoop.run()
        var reply: [UInt8] = []
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) { reply += buffer.readableBytesView }
        #expect(reply == [0x88, 0x02, 0x03, 0xE8])
        await channel.testingEventLoop.run()
        #expect(!channel.isActive)
        #expect(registry.counts.isEmpty)
        #expect(hub.clientTableSizes.clients == 0)
    }
}
