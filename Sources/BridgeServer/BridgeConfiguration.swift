import BridgeCore

/// How `/api/live_data` is served, and whether push exists at all.
public enum BridgeMode: String, Sendable, CaseIterable {
    /// File watching, state in memory, WebSocket and SSE push (the default).
    case event
    /// The old bridge: every request reads the file from disk; no cache, no limit, long keep-alive.
    case pollingNaive = "polling-naive"
    /// The plan's Phase 1 fix: 3 s TTL cache, identical concurrent reads merged, at most 10 requests
    /// in flight, 1 s keep-alive, `Connection: close`.
    case pollingCached = "polling-cached"
}

/// Everything the bridge can be told. Defaults are the documented command-line defaults.
public struct BridgeConfiguration: Sendable {
    public var dataDirectory: String
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests).
    public var port = 8080
    public var mode = BridgeMode.event
    public var watch = WatchMode.events(safetyPollMilliseconds: 250)
    /// Required on every route but `/health` when set.
    public var token: String?
    /// Web pages on these origins (`http://localhost:3000`) may read `/api` and `/sse` (CORS).
    /// Once any is listed, a WebSocket upgrade whose `Origin` is neither listed nor the bridge's
    /// own is refused; a client that sends no `Origin` (not a browser) is unaffected.
    public var allowedOrigins: [String] = []
    /// How long past a bar's end, with no record since, the bar is closed anyway (ms).
    public var barCloseGraceMilliseconds = 1_000
    /// Concurrent WebSocket and SSE connections; beyond it, 503.
    public var maxConnections = 2_000
    public var maxSubscriptionsPerClient = 64
    /// Largest inbound WebSocket message, in bytes.
    public var maxInboundMessageBytes = 16 * 1024
    /// Inbound messages per second per client (burst: twice that).
    public var inboundMessagesPerSecond = 20.0
    /// Refused messages (malformed, unknown op, over the rate) a client may send before it is closed.
    public var maxClientViolations = 50
    /// Heartbeat period: a `heartbeat` message (WebSocket) or comment (SSE), and a WebSocket ping
    /// whose pong must arrive within the same period.
    public var heartbeatSeconds = 15.0
    public var dashboardIntervalSeconds = 5.0
    /// Event mode: an HTTP connection idle this long (no request, or between keep-alive requests)
    /// is closed, so connections a client leaks cannot pile up to the descriptor limit.
    public var httpIdleTimeoutSeconds = 10.0
    /// Market updates carry the bridge's wake-up and queued times (`tw`, `tq`, Unix µs).
    public var traceTimestamps = false
    /// Event loops serving the connections (nil: NIO's shared group, one per core). The files are
    /// watched on one of them: its clients get each update on the thread that read it.
    public var eventLoops: Int? = nil
    /// Connections the kernel may queue before the bridge accepts them: a burst of connects (a
    /// flood, every client reconnecting at once) waits in the queue instead of being dropped.
    public var listenBacklog = 4_096
    /// After this many connections have closed, freed memory is handed back to the system
    /// (`malloc_trim`), checked once a second: without it, a thousand clients leaving leave the
    /// resident memory where it was (0: never).
    public var trimMemoryAfterCloses = 64
    /// Messages a client may fall behind on trades before it is closed as a slow consumer.
    public var clientBacklog = 20_000
    public var depthLevels = 10
    public var historyLimit = 50_000
    public var maxReplay = 10_000
    public var priceMultipliers: [String: Float] = [:]
    public var includeRoots: Set<String>?
    /// Seconds a contract nobody needs stays tailed before its files are closed.
    public var idleCloseSeconds = 30.0
    /// Polling-cached mode: TTL, requests in flight.
    public var cacheTTLSeconds = 3.0
    public var maxRequestsInFlight = 10

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    var hubConfiguration: HubConfiguration {
        var hub = HubConfiguration(dataDirectory: dataDirectory)
        hub.depthLevels = depthLevels
        hub.historyLimit = historyLimit
        hub.maxReplay = maxReplay
        hub.priceMultipliers = priceMultipliers
        hub.maxSubscriptionsPerClient = maxSubscriptionsPerClient
        hub.includeRoots = includeRoots
        hub.idleCloseSeconds = idleCloseSeconds
        hub.traceTimestamps = traceTimestamps
        hub.barCloseGraceMicroseconds = Int64(barCloseGraceMilliseconds) * 1_000
        return hub
    }
}
