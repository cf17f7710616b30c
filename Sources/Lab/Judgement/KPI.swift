/// The KPIs by name: the ids scenarios, summaries and history use. An enum, so a judge that
/// forgets one, or a misspelt one, does not compile (rather than reading "n/a").
public enum KPIID: String, Sendable, Codable, CaseIterable {
    case latencyE2E = "latency_e2e"
    case detection = "detection"
    case cpu = "cpu"
    case cpuVsBaseline = "cpu_vs_baseline"
    case memory = "memory"
    case memoryTrend = "memory_trend"
    case memoryPerClosed = "memory_per_closed"
    case descriptorTrend = "descriptor_trend"
    case socketTrend = "socket_trend"
    case wsClients = "ws_clients"
    case requestsPerHour = "requests_per_hour"
    case pollingLoops = "polling_loops"
    case reconnect = "reconnect"
    case loss = "loss"
    case deltaSize = "delta_size"
    case sync = "sync"
    case cacheHit = "cache_hit"
    case staleness = "staleness"
    case dashboard = "dashboard"
    case leaks = "leaks"
    case uptime = "uptime"
}

/// One of the plan's KPIs: what is measured, which way is better, the plan's target and
/// BridgeLab's own tighter one.
public struct KPI: Sendable, Equatable {
    public enum Direction: String, Sendable, Codable {
        /// The measured value must stay below the target (latency, CPU).
        case below
        /// The measured value must reach at least the target (hit rate, uptime).
        case atLeast
    }

    public var id: KPIID
    public var title: String
    public var unit: String
    public var direction: Direction
    public var plan: Double
    public var lab: Double
    /// Where the figure comes from, for the report's reader.
    public var source: String

    /// The plan's KPIs (../shared/plan: Phase 2–5 success criteria and its KPI table).
    public static let catalog: [KPI] = [
        KPI(
            id: .latencyE2E,
            title: "End-to-end latency p99",
            unit: "ms",
            direction: .below,
            plan: 100,
            lab: 10,
            source: "write → client decode (streaming) or write → poll answer (staleness), HdrHistogram p99"
        ),
        KPI(
            id: .detection,
            title: "Change detection p99",
            unit: "ms",
            direction: .below,
            plan: 50,
            lab: 5,
            source: "upper bound: write → client decode p99 (detection is one stage of it)"
        ),
        KPI(
            id: .cpu,
            title: "Bridge CPU",
            unit: "% of a core",
            direction: .below,
            plan: 30,
            lab: 10,
            source: "/proc/PID/stat user+system over the measured window"
        ),
        KPI(
            id: .cpuVsBaseline,
            title: "CPU below the polling baseline",
            unit: "% lower",
            direction: .atLeast,
            plan: 60,
            lab: 80,
            source: "1 − CPU ÷ the baseline arm's CPU"
        ),
        KPI(
            id: .memory,
            title: "Bridge memory (peak RSS)",
            unit: "MB",
            direction: .below,
            plan: 100,
            lab: 60,
            source: "/proc/PID/status VmHWM"
        ),
        KPI(
            id: .memoryTrend,
            title: "Memory growth (95 % upper bound)",
            unit: "MB/min",
            direction: .below,
            plan: 1,
            lab: 0.25,
            source: "least-squares slope of RSS after warm-up"
        ),
        KPI(
            id: .memoryPerClosed,
            title: "Memory kept per closed connection",
            unit: "KB",
            direction: .below,
            plan: 1,
            lab: 0.1,
            source: "RSS regressed on connections closed (bridge_disconnects_total) after warm-up, 95 % upper bound; "
                + "else (RSS after the clients left − before they came) ÷ connections closed"
        ),
        KPI(
            id: .descriptorTrend,
            title: "Descriptor growth (95 % upper bound)",
            unit: "per min",
            direction: .below,
            plan: 1,
            lab: 0.25,
            source: "least-squares slope of open descriptors after warm-up"
        ),
        KPI(
            id: .socketTrend,
            title: "Socket growth (95 % upper bound)",
            unit: "per min",
            direction: .below,
            plan: 1,
            lab: 0.25,
            source: "least-squares slope of ESTABLISHED + CLOSE_WAIT sockets on the port after warm-up"
        ),
        KPI(
            id: .wsClients,
            title: "WebSocket clients held",
            unit: "clients",
            direction: .atLeast,
            plan: 10,
            lab: 10,
            source: "median of the bridge's websocket connection gauge (/metrics) over the measured window"
        ),
        KPI(
            id: .requestsPerHour,
            title: "Requests to the bridge",
            unit: "per hour",
            direction: .below,
            plan: 100,
            lab: 100,
            source: "bridge_http_requests_total after warm-up (not /health, /metrics, the dashboard), scaled to an hour"
        ),
        KPI(
            id: .pollingLoops,
            title: "Client polling loops",
            unit: "requests",
            direction: .below,
            plan: 0.5,
            lab: 0.5,
            source: "HTTP polls the clients made (pollers and HTTP fallbacks)"
        ),
        KPI(
            id: .reconnect,
            title: "Reconnection p99",
            unit: "s",
            direction: .below,
            plan: 5,
            lab: 1,
            source: "connection lost → next connection accepted, per client"
        ),
        KPI(
            id: .loss,
            title: "Lost or misordered trades",
            unit: "trades",
            direction: .below,
            plan: 0.5,
            lab: 0.5,
            source: "lost (against the .scid files) + gaps + duplicates + out of order"
        ),
        KPI(
            id: .deltaSize,
            title: "Deltas smaller than snapshots",
            unit: "% smaller",
            direction: .atLeast,
            plan: 80,
            lab: 90,
            source: "1 − mean delta message bytes ÷ mean snapshot bytes"
        ),
        KPI(
            id: .sync,
            title: "New-client sync p99",
            unit: "ms",
            direction: .below,
            plan: 200,
            lab: 50,
            source: "connected → first snapshot"
        ),
        KPI(
            id: .cacheHit,
            title: "Client cache hit rate",
            unit: "%",
            direction: .atLeast,
            plan: 70,
            lab: 90,
            source: "BridgeClient.latest() answered from the local view"
        ),
        KPI(
            id: .staleness,
            title: "Stale data p99",
            unit: "ms",
            direction: .below,
            plan: 1000,
            lab: 100,
            source: "age of the newest record a client held when it got it"
        ),
        KPI(
            id: .dashboard,
            title: "Dashboard interval (max)",
            unit: "s",
            direction: .below,
            plan: 5.5,
            lab: 5.1,
            source: "gaps between /api/stream/dashboard events the runner received"
        ),
        KPI(
            id: .leaks,
            title: "Connection leaks",
            unit: "sockets+fds",
            direction: .below,
            plan: 0.5,
            lab: 0.5,
            source: "CLOSE_WAIT on the port + descriptors above the pre-swarm baseline, after the clients left"
        ),
        KPI(
            id: .uptime,
            title: "Uptime",
            unit: "%",
            direction: .atLeast,
            plan: 99.9,
            lab: 100,
            source: "/health probes answered within 1 s, every 500 ms"
        ),
    ]

    public static let ids = catalog.map(\.id.rawValue)

    /// Whether `value` meets `target`.
    public func meets(_ value: Double, _ target: Double) -> Bool {
        switch direction {
        case .below: return value < target
        case .atLeast: return value >= target
        }
    }
}
