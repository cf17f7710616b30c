import BridgeCore
import BridgeWire
import Clocks
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import SierraFormat

/// Why the bridge could not start.
public struct BridgeStartError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The reference bridge: a data folder in, WebSocket, SSE and HTTP out.
///
/// ``run(handleSignals:onRunning:)`` loads the folder, starts watching it and serves until SIGTERM
/// or SIGINT (or ``shutdown()``): then every WebSocket gets a "going away" close frame, SSE
/// streams end, and the process exits within a few seconds.
public final class BridgeApplication: Sendable {
    public let configuration: BridgeConfiguration
    public let metrics: BridgeMetrics
    public let prometheus: PrometheusCollectorRegistry
    /// Present in event mode only.
    public let hub: MarketHub?
    let dashboardSampler: DashboardSampler?
    let watcher: FileWatcher?
    /// The loops serving the connections; the watcher runs on one of them.
    let eventLoopGroup: any EventLoopGroup
    /// Whether the group is the bridge's own (`eventLoops`), shut down when it stops.
    let ownsEventLoops: Bool
    let registry: ConnectionRegistry
    let logger: Logger
    let startedAt = WallClock.monotonicNanoseconds()
    private let serviceGroup = NIOLockedValueBox<ServiceGroup?>(nil)
    private let extraServices: [any Service]

    public init(configuration: BridgeConfiguration, logger: Logger, services: [any Service] = []) throws(BridgeStartError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.dataDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BridgeStartError(description: "data folder '\(configuration.dataDirectory)' does not exist or is not a folder")
        }
        guard FileManager.default.isReadableFile(atPath: configuration.dataDirectory) else {
            throw BridgeStartError(description: "data folder '\(configuration.dataDirectory)' is not readable")
        }
        self.configuration = configuration
        self.logger = logger
        self.extraServices = services
        let prometheus = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: prometheus)
        let stageBuckets: [Duration] = [
            .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(100),
        ]
        factory.durationHistogramBuckets["bridge_detect_to_send_seconds"] = stageBuckets
        factory.durationHistogramBuckets["bridge_queued_to_written_seconds"] = stageBuckets
        self.prometheus = prometheus
        self.metrics = BridgeMetrics(factory: factory)
        // The shared group already has the loops asked for when the bridge's command sized it
        // (and runs Swift's tasks on them): only a different count needs a group of its own.
        if let loops = configuration.eventLoops, loops != NIOSingletons.groupLoopCountSuggestion {
            self.eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: loops)
            self.ownsEventLoops = true
        } else {
            self.eventLoopGroup = MultiThreadedEventLoopGroup.singleton
            self.ownsEventLoops = false
        }
        self.registry = ConnectionRegistry(maxConnections: configuration.maxConnections, backlog: configuration.clientBacklog, metrics: metrics)
        if configuration.mode == .event {
            let hub = MarketHub(configuration: configuration.hubConfiguration, metrics: metrics, logger: logger)
            self.hub = hub
            self.watcher = FileWatcher(hub: hub, mode: configuration.watch, logger: logger, eventLoop: eventLoopGroup.next())
            self.dashboardSampler = DashboardSampler(hub: hub, interval: configuration.dashboardIntervalSeconds)
        } else {
            self.hub = nil
            self.watcher = nil
            self.dashboardSampler = nil
        }
    }

    /// Serves until shut down. `onRunning` gets the bound port (useful with port 0).
    public func run(handleSignals: Bool = true, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // The folder is listed before the server answers (its first /health already knows the
        // contracts); the watcher's service then keeps it current.
        hub?.refresh()
        let router = buildRouter()
        var server: HTTPServerBuilder
        switch configuration.mode {
        case .event:
            guard let hub else { preconditionFailure("event mode has a hub") }
            let idle = TimeAmount.milliseconds(Int64(configuration.httpIdleTimeoutSeconds * 1000))
            let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [MalformedRequestHandler()], idleTimeout: idle)
            let session = WebSocketSession(hub: hub, registry: registry, configuration: configuration, logger: logger)
            let origins = AllowedOrigins(configuration.allowedOrigins)
            // The first request of a connection is guarded from its first byte (see FirstRequestGuard).
            server = HTTPServerBuilder { responder in
                GuardedChildChannel(
                    base: WebSocketUpgradeChannel(responder: responder, http1: http1, session: session, origins: origins),
                    headTimeout: idle
                )
            }
        case .pollingNaive:
            // No idle timeout: long keep-alive, as the old bridge.
            server = .http1(configuration: .init(additionalChannelHandlers: [MalformedRequestHandler()]))
        case .pollingCached:
            server = .http1(configuration: .init(additionalChannelHandlers: [MalformedRequestHandler()], idleTimeout: .seconds(1)))
        }
        let configuration = self.configuration
        let logger = self.logger
        let hub = self.hub
        let app = Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "bridgelab-bridge",
                backlog: configuration.listenBacklog
            ),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                let contracts =
                    hub?.contractSummary
                    ?? DiskSnapshotReader(configuration: configuration, logger: logger).symbols().keys.sorted().joined(separator: ",")
                let watch: String
                switch (configuration.mode, configuration.watch) {
                case (.event, .events(let ms)): watch = "inotify + \(ms) ms safety poll"
                case (.event, .poll(let ms)): watch = "poll every \(ms) ms"
                default: watch = "none (reads files per request)"
                }
                logger.info(
                    "bridge serving \(configuration.dataDirectory) on http://\(configuration.host):\(port) mode=\(configuration.mode.rawValue) watch=\(watch) symbols=\(contracts)"
                )
                await onRunning(port)
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger
        )
        let lifecycle = ShutdownService(registry: registry)
        let watching: [any Service] = watcher.map { [FileWatcherService(watcher: $0)] } ?? []
        let heartbeats: [any Service] =
            configuration.mode == .event
            ? [SSEHeartbeatService(registry: registry, period: .milliseconds(Int64(configuration.heartbeatSeconds * 1000)))] : []
        let trimming = MemoryTrimService(registry: registry, threshold: configuration.trimMemoryAfterCloses, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app)]
                    + (watching + extraServices + (dashboardSampler.map { [$0] } ?? []) + heartbeats + [trimming]).map { .init(service: $0) }
                    + [.init(service: lifecycle)],
                gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                logger: logger
            )
        )
        serviceGroup.withLockedValue { $0 = group }
        defer {
            if ownsEventLoops { eventLoopGroup.shutdownGracefully { _ in } }
        }
        try await group.run()
    }

    /// Starts a graceful shutdown (as SIGTERM does).
    public func shutdown() async {
        let group = serviceGroup.withLockedValue { $0 }
        await group?.triggerGracefulShutdown()
    }

    // MARK: - Routes

    func buildRouter() -> Router<BridgeRequestContext> {
        let router = Router(context: BridgeRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        let origins = AllowedOrigins(configuration.allowedOrigins)
        // Before the token check: a browser's preflight carries no token.
        if !origins.origins.isEmpty { router.add(middleware: AllowedOrigins.Middleware(allowed: origins)) }
        if let token = configuration.token { router.add(middleware: TokenMiddleware(token: token)) }

        router.get("/health") { _, _ in self.health() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: self.prometheus.emitToBuffer()))
            )
        }
        router.get("/api/symbols") { _, _ in self.symbols() }

        switch configuration.mode {
        case .event:
            guard let hub else { break }
            router.get("/api/live_data/{symbol}") { _, context in
                let symbol = try Self.symbol(context)
                guard let bytes = hub.snapshotJSON(symbol) else { throw HTTPError(.notFound, message: "unknown symbol; see /api/symbols") }
                return Self.json(bytes)
            }
            // The WebSocket routes are upgraded before the router (WebSocketUpgradeChannel); a plain
            // request to them is told so.
            for path in ["/ws", "/ws/live_data/{symbol}"] {
                router.get(RouterPath(path)) { _, _ in
                    Response(status: .upgradeRequired, headers: [.upgrade: "websocket", .connection: "Upgrade"])
                }
            }
            let sse = SSEStreams(
                hub: hub,
                registry: registry,
                configuration: configuration,
                startedAt: startedAt,
                logger: logger,
                sampler: dashboardSampler
            )
            router.get("/sse") { request, context in try sse.updates(request, channel: context.channel) }
            router.get("/api/stream/dashboard") { request, context in try sse.dashboard(request, channel: context.channel) }
            DashboardPage.add(to: router)

        case .pollingNaive:
            let reader = DiskSnapshotReader(configuration: configuration, logger: logger, wholeFile: true)
            router.get("/api/live_data/{symbol}") { _, context in
                let symbol = try Self.symbol(context)
                guard let bytes = await reader.readOffPool(symbol) else { throw HTTPError(.notFound, message: "unknown symbol; see /api/symbols") }
                return Self.json(bytes)
            }

        case .pollingCached:
            let cache = CachedSnapshotReader(
                reader: DiskSnapshotReader(configuration: configuration, logger: logger),
                ttlSeconds: configuration.cacheTTLSeconds,
                maxInFlight: configuration.maxRequestsInFlight
            )
            router.get("/api/live_data/{symbol}") { _, context in
                let symbol = try Self.symbol(context)
                switch await cache.read(symbol) {
                case .hit(let bytes), .miss(let bytes):
                    var response = Self.json(bytes)
                    response.headers[.connection] = "close"
                    return response
                case .unknown:
                    throw HTTPError(.notFound, message: "unknown symbol; see /api/symbols")
                case .overloaded:
                    throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "1", .connection: "close"], message: "too many requests in flight")
                }
            }
        }
        return router
    }

    /// The `{symbol}` path parameter, refused (400) unless it is a plain name.
    static func symbol(_ context: some RequestContext) throws -> String {
        guard let symbol = context.parameters.get("symbol"), SymbolName.isAcceptable(symbol) else {
            throw HTTPError(.badRequest, message: "not a symbol name")
        }
        return symbol
    }

    static func json(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func health() -> Response {
        var w = JSONWriter()
        w.beginObject()
        w.key("status")
        w.string("ok")
        w.key("live")
        w.bool(true)
        w.key("ready")
        w.bool(hub.map { $0.contractCount > 0 } ?? true)
        w.key("bridge")
        BridgeHealth.write(&w, hub: hub, registry: registry, configuration: configuration, startedAt: startedAt)
        w.endObject()
        return Self.json(w.bytes)
    }

    func symbols() -> Response {
        var w = JSONWriter()
        w.beginObject()
        w.key("contracts")
        w.beginArray()
        if let hub {
            let roots = hub.activeRoots()
            // Every contract of the folder; one not tailed says what its listing says (no epoch
            // or seq: reading them would open every file).
            for entry in hub.catalog() {
                w.beginObject()
                if let state = entry.state {
                    BridgeHealth.writeIdentity(&w, state, active: entry.active)
                } else {
                    w.key("contract")
                    w.string(entry.contract)
                    w.key("root")
                    w.string(entry.root)
                    w.key("active")
                    w.bool(entry.active)
                }
                w.key("records")
                w.int(entry.records)
                w.key("tailed")
                w.bool(entry.state != nil)
                w.endObject()
            }
            w.endArray()
            w.key("roots")
            w.beginObject()
            for (root, contract) in roots.sorted(by: { $0.key < $1.key }) {
                w.key(root)
                w.string(contract)
            }
            w.endObject()
        } else {
            for (contract, root) in DiskSnapshotReader(configuration: configuration, logger: logger).symbols().sorted(by: { $0.key < $1.key }) {
                w.beginObject()
                w.key("contract")
                w.string(contract)
                w.key("root")
                w.string(root)
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
        return Self.json(w.bytes)
    }
}

/// On graceful shutdown: close every client with "going away".
struct ShutdownService: Service {
    let registry: ConnectionRegistry

    func run() async throws {
        try? await gracefulShutdown()
        registry.closeAll(code: CloseCode.goingAway, reason: "bridge shutting down")
        // A WebSocket is no task of the server's, which would wait for it: its close handshake is
        // waited for here (at most the handshake's timeout), before the event loops stop.
        await registry.waitUntilClosed(transport: "ws", timeout: .seconds(3))
    }
}

/// The file watcher as a service of the bridge's group: it watches from the group's start to its
/// graceful shutdown.
struct FileWatcherService: Service {
    let watcher: FileWatcher

    func run() async throws {
        try await watcher.start()
        try? await gracefulShutdown()
        await watcher.stop()
    }
}
