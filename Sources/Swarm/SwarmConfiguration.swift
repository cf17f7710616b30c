import BridgeWire

/// What kind of client a swarm member is.
public enum ClientKind: String, Sendable, CaseIterable, Codable {
    /// The BridgeClient library over WebSocket (resume, gap detection, cache).
    case ws
    /// An EventSource: `/sse`, `Last-Event-ID` resume, `retry:`.
    case sse
    /// The old client: `GET /api/live_data/{symbol}` at a fixed rate.
    case poll
    /// A WebSocket client that reads slowly (it sleeps on every message).
    case slow
    /// A WebSocket client that subscribes and never reads.
    case stuck
    /// A client that completes the WebSocket handshake and then vanishes without closing
    /// (no reads, no pongs: a half-open socket as the server sees it).
    case vanish
    /// Connects, subscribes, disconnects after a moment, again and again.
    case churn
    /// Sends malformed messages and unknown operations.
    case malformed
    /// A buggy poller that leaks connections: every second it opens a new keep-alive connection,
    /// makes one request, reads the answer and leaves the connection open, never closing it.
    case leak
}

public struct SwarmError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One swarm run.
public struct SwarmConfiguration: Sendable {
    /// The bridge: `ws://127.0.0.1:8080` (or `http://…`, the same address).
    public var url: String
    public var clients = 10
    /// Kinds with weights; clients are assigned in proportion, in a fixed order.
    public var mix: [(kind: ClientKind, weight: Double)] = [(.ws, 1)]
    public var symbols = ["NQ"]
    public var channels: [MarketChannel] = MarketChannel.standard
    /// `max_rate` of the ws and sse clients' subscriptions (nil: every update).
    public var maxRate: Double?
    /// Seconds from the first arrival to the end of the run.
    public var duration = 10.0
    /// Open model: clients arrive at this many per second (nil: all at once).
    public var arrivalRate: Double?
    /// Clients leave spread over this many seconds before the end (ramp down).
    public var rampDown = 0.0
    /// Requests per second of each `poll` client (the plan's figure: 4).
    public var pollRate = 4.0
    /// How often each `ws` client's application asks `BridgeClient.latest(_:)` for a symbol (the
    /// rate the old client polled at): the local cache answers, and its hit rate is measured.
    public var cacheReadsPerSecond = 4.0
    /// Where the simulator writes (its journal gives latency; its files the loss count).
    public var dataDirectory: String?
    /// Where the summary JSON and `.hgrm` files go.
    public var outputDirectory: String?
    public var token: String?
    /// Milliseconds a `slow` client sleeps per message.
    public var slowDelayMilliseconds = 20
    public var progress = true
    /// Put a fault-injecting proxy between the clients and the bridge.
    public var proxy = false
    /// Faults the proxy applies, by time into the run (they imply `proxy`, except `kill`).
    public var faults: [ScheduledFault] = []
    /// Start the bridge with this command (executable path and arguments) and stop it at the end;
    /// needed by the `kill` fault.
    public var bridgeCommand: [String]?
    /// A bridge BridgeLab did not build, described by its profile (docs/PROFILES.md): ws, sse and
    /// poll clients talk to it through the profile's routes and read it through its fields.
    public var profile: BridgeProfile?

    public init(url: String) {
        self.url = url
    }

    var host: String {
        let rest = url.split(separator: "://", maxSplits: 1).last.map(String.init) ?? url
        return rest.split(separator: "/").first.map { String($0.split(separator: ":").first ?? "") } ?? "127.0.0.1"
    }

    var port: Int {
        let rest = url.split(separator: "://", maxSplits: 1).last.map(String.init) ?? url
        let authority = rest.split(separator: "/").first.map(String.init) ?? rest
        return authority.split(separator: ":").dropFirst().first.flatMap { Int($0) } ?? 80
    }

    /// The WebSocket base URL.
    var webSocketURL: String { "ws://\(host):\(port)" }

    /// Load only ever targets this machine: loopback addresses and `localhost`.
    public func validate() throws {
        guard url.hasPrefix("ws://") || url.hasPrefix("http://") else { throw SwarmError("--url must start with ws:// or http:// (got \(url))") }
        let loopback = host == "localhost" || host.hasPrefix("127.") || host == "[::1]" || host == "::1"
        guard loopback else {
            throw SwarmError("--url must name a loopback address (127.0.0.0/8, ::1, localhost): loadgen never targets another host")
        }
        guard (1...65_535).contains(port) else { throw SwarmError("--url needs a port") }
        guard clients > 0, clients <= 100_000 else { throw SwarmError("--clients must be between 1 and 100000") }
        guard duration > 0, duration.isFinite else { throw SwarmError("--duration must be a positive number of seconds") }
        guard !symbols.isEmpty else { throw SwarmError("--symbols must name at least one symbol") }
        guard !mix.isEmpty, mix.allSatisfy({ $0.weight > 0 }) else { throw SwarmError("--kind must name at least one kind with a positive weight") }
        if let arrivalRate { guard arrivalRate > 0 else { throw SwarmError("--arrival-rate must be positive") } }
        guard pollRate > 0, pollRate <= 1_000 else { throw SwarmError("--poll-rate must be between 0 and 1000 per second") }
        guard cacheReadsPerSecond >= 0, cacheReadsPerSecond <= 1_000 else { throw SwarmError("--cache-reads must be between 0 and 1000 per second") }
        guard rampDown >= 0, rampDown < duration else { throw SwarmError("--ramp-down must be shorter than --duration") }
        if let profile {
            for (kind, _) in mix {
                if let refusal = profile.refusal(for: kind) { throw SwarmError("--kind \(kind.rawValue): \(refusal)") }
            }
        }
        if faults.contains(where: { !$0.needsProxy }), bridgeCommand == nil {
            throw SwarmError("the kill fault needs --bridge-command: loadgen must start the bridge to kill and restart it")
        }
    }

    /// The kind of every client: weights turned into a fixed pattern (largest deficit first).
    func assignedKinds() -> [ClientKind] {
        let total = mix.reduce(0) { $0 + $1.weight }
        var given = [ClientKind: Int]()
        var result: [ClientKind] = []
        result.reserveCapacity(clients)
        for index in 0..<clients {
            var best = mix[0].kind
            var bestDeficit = -Double.infinity
            for (kind, weight) in mix {
                let deficit = Double(index + 1) * weight / total - Double(given[kind, default: 0])
                if deficit > bestDeficit {
                    bestDeficit = deficit
                    best = kind
                }
            }
            given[best, default: 0] += 1
            result.append(best)
        }
        return result
    }
}
