import BridgeWire

/// How a ``BridgeClient`` connects, reconnects and falls back.
public struct BridgeClientConfiguration: Sendable {
    /// The bridge, e.g. `ws://127.0.0.1:8080` (the client adds `/ws`).
    public var url: String
    public var symbols: [String]
    public var channels: [MarketChannel] = MarketChannel.standard
    /// At most this many messages a second per contract on each state channel (`max_rate`): the
    /// client wants the latest state that often, not every change. Nil: every update.
    public var maxRate: Double?
    public var token: String?
    /// Reconnection: the first retry after `initialBackoff` seconds, doubling up to `maxBackoff`,
    /// each delay shortened by up to `jitter` (a fraction) so that a crowd does not reconnect in step.
    public var initialBackoff = 0.05
    public var maxBackoff = 2.0
    public var jitter = 0.5
    /// Updates held for the application before the client stops reading the socket.
    public var queueLimit = 10_000
    /// How the WebSocket is read, and whether the application gets each update.
    public enum Transport: Sendable, Equatable {
        /// On the event loop that reads it (``LoopWebSocket``): the session, the cache and
        /// `onMessage` only, nothing in ``BridgeClient/updates``. The cheapest: for a client that
        /// observes (loadgen's), or reads ``BridgeClient/latest(_:)``.
        case eventLoop
        /// Every update also goes to ``BridgeClient/updates``, bounded, never dropped (through
        /// HummingbirdWSClient's async frames): for an application that takes each one.
        case updates
    }

    public var transport = Transport.eventLoop
    /// Ask the bridge for newline-batched frames (`?batch=1`): fewer frames in a burst, but the
    /// bridge builds each client's frames apart. Off: one message per frame, the same frame bytes
    /// for every client.
    public var batchFrames = false
    /// How long `latest(_:)` answers from the local state.
    public var cacheTTL = 3.0
    /// After this many failed WebSocket connects in a row, poll `/api/live_data` over HTTP…
    public var fallbackAfterFailures = 3
    /// …this often, and try the WebSocket again every `webSocketRetryInterval` seconds.
    public var pollInterval = 0.25
    public var webSocketRetryInterval = 5.0
    /// Seconds a connection attempt may take (TCP, upgrade, `hello`) before it is abandoned.
    public var connectTimeout = 5.0
    /// A connection silent for this many heartbeat periods (announced in `hello`) is taken for
    /// dead: the client drops it and reconnects.
    public var missedHeartbeats = 2.0

    public init(url: String, symbols: [String]) {
        self.url = url
        self.symbols = symbols
    }

    var host: String {
        let rest = url.split(separator: "://", maxSplits: 1).last.map(String.init) ?? url
        let authority = rest.split(separator: "/").first.map(String.init) ?? rest
        return authority.split(separator: ":").first.map(String.init) ?? "127.0.0.1"
    }

    var port: Int {
        let rest = url.split(separator: "://", maxSplits: 1).last.map(String.init) ?? url
        let authority = rest.split(separator: "/").first.map(String.init) ?? rest
        return authority.split(separator: ":").dropFirst().first.flatMap { Int($0) } ?? 80
    }
}

/// A message as the client received it: enough to measure and account for it.
public struct ReceivedMessage: Sendable {
    public var type: Substring
    public var kind: WireScanner.MessageKind
    public var contract: Substring
    public var seq: Int?
    /// Wall-clock Unix µs when the message was decoded.
    public var receivedAt: Int64
    public var bytes: Int
    public var verdict: ContractTracker.TradeVerdict?
    /// The bridge's wake-up and queued times, when it sends them (`--trace-timestamps`).
    public var wake: Int64?
    public var queued: Int64?

    public init(
        type: Substring,
        kind: WireScanner.MessageKind,
        contract: Substring,
        seq: Int?,
        receivedAt: Int64,
        bytes: Int,
        verdict: ContractTracker.TradeVerdict?,
        wake: Int64? = nil,
        queued: Int64? = nil
    ) {
        self.wake = wake
        self.queued = queued
        self.type = type
        self.kind = kind
        self.contract = contract
        self.seq = seq
        self.receivedAt = receivedAt
        self.bytes = bytes
        self.verdict = verdict
    }
}

extension ReceivedMessage {
    /// The scanned `message` (`bytes` long), received at `receivedAt`, with its tracker's verdict:
    /// how the WebSocket and the SSE client both hand a message on.
    init(_ message: WireScanner, receivedAt: Int64, bytes: Int, verdict: ContractTracker.TradeVerdict?) {
        self.init(
            type: message.type,
            kind: message.kind,
            contract: message.contract,
            seq: message.seq,
            receivedAt: receivedAt,
            bytes: bytes,
            verdict: verdict,
            wake: message.tw,
            queued: message.tq
        )
    }
}

/// A contract's latest state as the client knows it.
public struct ContractView: Sendable, Equatable {
    public var contract: String
    public var last: Float?
    public var bid: Float?
    public var ask: Float?
    public var volume: Int64?
    public var seq: Int
    /// Wall-clock Unix µs of the last update applied.
    public var updatedAt: Int64

    /// The view a `snapshot` message (or an `/api/live_data` answer) describes.
    // One dictionary access per update: each applies all its fields at once.
    mutating func apply(last: Float?, at time: Int64) {
        self.last = last
        updatedAt = time
    }

    mutating func apply(bid: Float?, ask: Float?, at time: Int64) {
        if let bid { self.bid = bid }
        if let ask { self.ask = ask }
        updatedAt = time
    }

    mutating func apply(volume: Int64?, at time: Int64) {
        if let volume { self.volume = volume }
        updatedAt = time
    }

    public init(snapshot message: WireScanner, receivedAt: Int64) {
        contract = String(message.contract)
        last = message.nested["last"].flatMap { WireScanner($0).price }
        bid = message.bid
        ask = message.ask
        volume = message.volume
        seq = message.seq ?? -1
        updatedAt = receivedAt
    }
}

/// Counters of one client.
public struct ClientStatistics: Sendable, Equatable {
    public var messages = 0
    public var bytes = 0
    public var connects = 0
    public var connectFailures = 0
    public var disconnects = 0
    public var resumesRecovered = 0
    public var resumesNotRecovered = 0
    public var pollRequests = 0
    public var cacheHits = 0
    public var cacheMisses = 0
    public var errors: [String: Int] = [:]
    public var closeCodes: [Int: Int] = [:]
    /// From losing a connection to the next one being accepted, per reconnect.
    public var reconnectMicroseconds: [Int64] = []
}
