import BridgeClient
import BridgeTesting
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Swarm
import Testing

extension BridgeSuites {
    @Suite("BridgeClient library")
    struct BridgeClientTests {
        func logger() -> Logger {
            var logger = Logger(label: "client-test")
            logger.logLevel = .critical
            return logger
        }

        @Test("errors are counted under stable names, not type names; a refused connection is connection_refused")
        func errorNames() async throws {
            struct Odd: Error {}
            #expect(ErrorName.of(IOError(errnoCode: ECONNREFUSED, reason: "connect")) == "connection_refused")
            #expect(ErrorName.of(IOError(errnoCode: 9_999, reason: "x")) == "errno_9999")
            #expect(ErrorName.of(CancellationError()) == "cancelled")
            #expect(ErrorName.of(ChannelError.connectTimeout(.seconds(1))) == "connect_timeout")
            #expect(ErrorName.of(LoopWebSocket.Failure.refused(status: 503)) == "upgrade_refused_503")
            #expect(ErrorName.of(Odd()) == "other")
            // A port nothing listens on: the client counts what happened by name.
            let port = try freeLoopbackPort()
            var configuration = BridgeClientConfiguration(url: "ws://127.0.0.1:\(port)", symbols: ["NQ"])
            configuration.fallbackAfterFailures = 1_000
            configuration.initialBackoff = 0.02
            let client = BridgeClient(configuration: configuration, logger: logger())
            let run = Task { await client.run() }
            let deadline = Date().addingTimeInterval(10)
            while client.statistics.connectFailures < 2, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            run.cancel()
            _ = await run.value
            let names = Set(client.statistics.errors.keys)
            #expect(!names.isEmpty)
            #expect(names.allSatisfy { $0 == $0.lowercased() && !$0.contains(" ") && !$0.contains("(") }, "\(names)")
            #expect(names.contains("connection_refused") || names.contains("connect_failed"), "\(names)")
        }

        @Test("refused WebSocket: it polls over HTTP, then returns to the WebSocket when it can")
        func fallbackAndReturn() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.maxConnections = 1 }) { bridge in
                let occupant = try await TestWSClient(url: bridge.ws + "/ws")
                _ = try await occupant.until("hello")
                var configuration = BridgeClientConfiguration(url: bridge.ws, symbols: ["NQ"])
                configuration.fallbackAfterFailures = 2
                configuration.webSocketRetryInterval = 0.6
                configuration.pollInterval = 0.1
                configuration.initialBackoff = 0.02
                let client = BridgeClient(configuration: configuration, logger: logger())
                let task = Task { await client.run() }
                defer { task.cancel() }
                // Generous: under a loaded test run each refusal's close handshake can take a second or more.
                let deadline = Date().addingTimeInterval(20)
                while client.statistics.pollRequests < 3, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(client.statistics.pollRequests >= 3)
                #expect(client.statistics.closeCodes[1013, default: 0] >= 2)
                #expect(client.latest("NQ") != nil, "polling keeps the local view fresh")

                await occupant.close()
                let back = Date().addingTimeInterval(20)
                while client.statistics.connects < 2 || client.isPolling, Date() < back { try await Task.sleep(for: .milliseconds(20)) }
                #expect(!client.isPolling)
                try await folder.stream(seconds: 0.5, steps: 5)
                #expect((client.trackers["NQZ25-CME"]?.trades ?? 0) > 0)
                client.stop()
                await task.value
            }
        }

        @Test("latest(): answered locally while fresh (a hit), a miss once older than the TTL")
        func cache() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                var configuration = BridgeClientConfiguration(url: bridge.ws, symbols: ["NQ"])
                configuration.cacheTTL = 0.3
                let client = BridgeClient(configuration: configuration, logger: logger())
                let task = Task { await client.run() }
                let deadline = Date().addingTimeInterval(5)
                while client.latest("NQ") == nil, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
                let view = try #require(client.latest("NQ"))
                #expect(view.contract == "NQZ25-CME" && view.bid != nil && view.ask != nil)
                let hits = client.statistics.cacheHits
                try await Task.sleep(for: .milliseconds(500))  // nothing written: the view ages
                #expect(client.latest("NQ") == nil)
                #expect(client.statistics.cacheHits == hits && client.statistics.cacheMisses >= 1)
                client.stop()
                await task.value
            }
        }

        @Test("updates wait in a bounded queue while the application is busy; none is dropped")
        func boundedQueue() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 1_000)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                var configuration = BridgeClientConfiguration(url: bridge.ws, symbols: ["NQ"])
                configuration.channels = [.trades]
                configuration.transport = .updates
                configuration.queueLimit = 16
                let client = BridgeClient(configuration: configuration, logger: logger())
                let task = Task { await client.run() }
                try await folder.stream(seconds: 1, steps: 10)
                // The application was busy: the queue holds at most its limit.
                #expect(client.updates.count <= 16)
                // The subscription started after the snapshot's last trade: every trade after it is owed.
                var snapshotLastTrade: Int?
                var received: [Int] = []
                let deadline = Date().addingTimeInterval(15)
                while Date() < deadline {
                    guard let update = await client.updates.next() else { break }
                    if update.type == "trade", let seq = update.seq { received.append(seq) }
                    if snapshotLastTrade == nil { snapshotLastTrade = client.trackers["NQZ25-CME"]?.firstPosition }
                    if let start = snapshotLastTrade, received.count == trades(in: try folder.records("NQZ25-CME"), after: start).count { break }
                }
                let start = try #require(snapshotLastTrade)
                #expect(received == trades(in: try folder.records("NQZ25-CME"), after: start).map(\.0))
                #expect(received == received.sorted() && Set(received).count == received.count)
                #expect(client.trackers["NQZ25-CME"]?.gaps == 0)
                client.stop()
                client.updates.finish()
                await task.value
            }
        }

        @Test("bars resume across a bridge restart: the client asks from its last bar, and gets every bar once, in order")
        func barsAcrossARestart() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            var bridge = try await TestBridge.start(settings(folder.path))
            let port = bridge.port
            var configuration = BridgeClientConfiguration(url: bridge.ws, symbols: ["NQ"])
            configuration.channels = [.bars1s]
            let seen = NIOLockedValueBox<[Int]>([])
            let client = BridgeClient(configuration: configuration, logger: logger()) { message in
                if message.kind == .bar, let seq = message.seq { seen.withLockedValue { $0.append(seq) } }
            }
            let task = Task { await client.run() }
            try await folder.stream(seconds: 3, steps: 15)
            await bridge.stop()
            // Bars close while the bridge is down; a new one starts on the same port.
            try folder.advance(by: 3)
            bridge = try await TestBridge.start(settings(folder.path) { $0.port = port })
            try await folder.stream(seconds: 3, steps: 15)
            let deadline = Date().addingTimeInterval(10)
            let expected = fileBars(try folder.records("NQZ25-CME"), period: 1).map { $0["seq"] as? Int ?? -1 }
            while Date() < deadline, seen.withLockedValue({ $0.last }) != expected.last { try await Task.sleep(for: .milliseconds(100)) }
            client.stop()
            await task.value
            await bridge.stop()
            let received = seen.withLockedValue { $0 }
            // From the first bar it got, every closed bar of the file: none missed while away, none twice.
            let first = try #require(received.first)
            // (The bar still open when the market stopped may also close on the clock: one more at most.)
            let owed = expected.filter { $0 >= first }
            #expect(Array(received.prefix(owed.count)) == owed && received.count <= owed.count + 1)
            #expect(received == received.sorted() && Set(received).count == received.count)
            #expect(client.statistics.resumesRecovered >= 1 && client.statistics.resumesNotRecovered == 0)
        }

        @Test("a bridge gone silent (no data, no heartbeats) is dropped and reconnected")
        func heartbeatWatchdog() async throws {
            // A fake bridge: says hello with a 0.2 s heartbeat, then never sends anything (and
            // sends no pings), keeping the connection open.
            let connections = NIOLockedValueBox(0)
            let router = Router(context: BasicWebSocketRequestContext.self)
            router.ws("/ws") { _, outbound, _ in
                connections.withLockedValue { $0 += 1 }
                try? await outbound.write(.text(#"{"type":"hello","protocol":1,"heartbeat_s":0.2,"contracts":[],"roots":{}}"#))
                try? await Task.sleep(for: .seconds(30))
            }
            let (ports, continuation) = AsyncStream<Int>.makeStream()
            let app = Application(
                router: router,
                server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(autoPing: .disabled))),
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
                logger: logger()
            )
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())

            var configuration = BridgeClientConfiguration(url: "ws://127.0.0.1:\(port)", symbols: ["NQ"])
            configuration.initialBackoff = 0.02
            let client = BridgeClient(configuration: configuration, logger: logger())
            let task = Task { await client.run() }
            let deadline = Date().addingTimeInterval(6)
            while client.statistics.errors["heartbeat_timeout", default: 0] < 2, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(client.statistics.errors["heartbeat_timeout", default: 0] >= 2)
            #expect(connections.withLockedValue { $0 } >= 2, "it reconnected after each silent connection")
            client.stop()
            await task.value
        }

        @Test("backoff: the first retry is fast, then it doubles up to the cap, jitter only shortening it")
        func backoff() {
            var configuration = BridgeClientConfiguration(url: "ws://127.0.0.1:1", symbols: ["NQ"])
            configuration.initialBackoff = 0.1
            configuration.maxBackoff = 2
            configuration.jitter = 0.5
            let client = BridgeClient(configuration: configuration, logger: logger())
            for _ in 0..<200 {
                #expect((0.05...0.1).contains(client.backoff(0)))
                #expect((0.2...0.4).contains(client.backoff(2)))
                #expect((1...2).contains(client.backoff(20)))
            }
            let spread = Set((0..<50).map { _ in client.backoff(3) })
            #expect(spread.count > 10, "jittered")
        }
    }

}

extension BridgeSuites {
    @Suite("LoopWebSocket: the load generator's client, handled on its event loop")
    struct LoopWebSocketTests {
        @Test("messages arrive from the first (the hello behind the 101); a refusal's close code and a refused upgrade are told apart")
        func connectAndRefusals() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let loop = MultiThreadedEventLoopGroup.singleton.next()
                let texts = NIOLockedValueBox<[String]>([])
                let closers = NIOLockedValueBox<[LoopWebSocket.Closer]>([])
                let session = Task {
                    try await LoopWebSocket.connect(
                        host: "127.0.0.1",
                        port: bridge.port,
                        path: "/ws",
                        on: loop,
                        connectTimeout: .seconds(5),
                        onOpen: { closer, send in
                            closers.withLockedValue { $0.append(closer) }
                            send(#"{"op":"subscribe","symbols":["NQ"]}"#)
                        },
                        onText: { buffer in texts.withLockedValue { $0.append(String(buffer: buffer)) } }
                    )
                }
                let deadline = Date().addingTimeInterval(10)
                while !texts.withLockedValue({ $0.contains { $0.contains("\"type\":\"snapshot\"") } }), Date() < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let received = texts.withLockedValue { $0 }
                #expect(received.first?.contains("\"type\":\"hello\"") == true, "\(received.prefix(2))")
                #expect(received.contains { $0.contains("\"type\":\"snapshot\"") })
                closers.withLockedValue { $0 }.first?.close(code: 1000, reason: "done")
                #expect(try await session.value == 1000)

                // A connection that only waits to be closed (or refused).
                func silent(_ path: String) async throws -> UInt16 {
                    try await LoopWebSocket.connect(
                        host: "127.0.0.1",
                        port: bridge.port,
                        path: path,
                        on: loop,
                        connectTimeout: .seconds(5),
                        onOpen: { _, _ in },
                        onText: { _ in }
                    )
                }
                #expect(try await silent("/ws/live_data/NOPE") == 4404)
                await #expect(throws: LoopWebSocket.Failure.self) { try await silent("/no-such-route") }
            }
        }
    }
}
