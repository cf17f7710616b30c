import BridgeCore
import BridgeWire
import Clocks
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket
import SierraFormat

/// What every WebSocket connection of the bridge shares, and what it decides: whether an upgraded
/// connection is let in (token, symbol, options, the connection limit) and what each client
/// request does. The connection itself is a ``WebSocketConnection`` on its event loop.
struct WebSocketSession: Sendable {
    let hub: MarketHub
    let registry: ConnectionRegistry
    let configuration: BridgeConfiguration
    let logger: Logger
    let drainQueues: EventLoopDrainQueues

    init(hub: MarketHub, registry: ConnectionRegistry, configuration: BridgeConfiguration, logger: Logger) {
        self.hub = hub
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.drainQueues = EventLoopDrainQueues(
            metrics: hub.metrics,
            heartbeat: .milliseconds(Int64(configuration.heartbeatSeconds * 1000))
        )
    }

    /// Why a WebSocket is closed right after the upgrade. hummingbird-websocket answers every
    /// refused upgrade with a bare 400, so refusals are made here instead, as close codes a client
    /// can read (browsers cannot see an upgrade's HTTP status at all).
    enum Refusal: Error {
        case unauthorized
        case connectionLimit
        case unknownSymbol
        /// A query option the plan's route cannot take (`?max_rate=0`): the sentence says why.
        case badOption(String)

        var code: UInt16 {
            switch self {
            case .unauthorized: return CloseCode.unauthorized
            case .connectionLimit: return CloseCode.tryAgainLater
            case .unknownSymbol: return CloseCode.unknownSymbol
            case .badOption: return CloseCode.policyViolation
            }
        }

        var reason: String {
            switch self {
            case .unauthorized: return "unauthorized: a valid token is required"
            case .connectionLimit: return "connection limit reached; try again later"
            case .unknownSymbol: return "unknown symbol; see /api/symbols"
            // A close reason is at most 123 bytes.
            case .badOption(let sentence): return String(sentence.utf8.prefix(120)) ?? "bad option"
            }
        }

        /// The label of the refusal metric.
        var label: String {
            switch self {
            case .unauthorized: return "unauthorized"
            case .connectionLimit: return "connectionLimit"
            case .unknownSymbol: return "unknownSymbol"
            case .badOption: return "badOption"
            }
        }
    }

    /// What the plan's route takes in its query: `?max_rate=N` and `?channels=trades,bars:1m`.
    static func initialRequest(_ request: Request, symbol: String) -> Result<ClientRequest, Refusal> {
        SubscriptionQuery.parse(request)
            .map { ClientRequest(op: .subscribe, symbols: [symbol], channels: $0.channels, maxRate: $0.maxRate) }
            .mapError { .badOption($0.message) }
    }

    /// Whether an upgraded connection is let in; when it is, its connection slot is reserved
    /// (``ConnectionRegistry/open(transport:)`` takes it) and the plan route's subscription comes back.
    func admit(_ request: Request, initialSymbol: String?) -> Result<ClientRequest?, Refusal> {
        let initial = initialSymbol.map { Self.initialRequest(request, symbol: $0) }
        var refusal: Refusal?
        if let token = configuration.token, !TokenMiddleware<BridgeRequestContext>.authorized(request, token: token) {
            refusal = .unauthorized
        } else if let initialSymbol, !SymbolName.isAcceptable(initialSymbol) || hub.resolve(initialSymbol) == nil {
            refusal = .unknownSymbol
        } else if case .failure(let bad)? = initial {
            refusal = bad
        } else if !registry.reserve() {
            refusal = .connectionLimit
        }
        if let refusal {
            hub.metrics.connectionRefused(transport: "ws", reason: refusal.label)
            return .failure(refusal)
        }
        if case .success(let subscribe)? = initial { return .success(subscribe) }
        return .success(nil)
    }

    /// The `hello` a new connection gets first.
    func hello(batch: Bool) -> OutboundMessage {
        control(
            ServerMessages.hello(
                heartbeatSeconds: configuration.heartbeatSeconds,
                contracts: hub.helloContracts,
                roots: hub.activeRoots(),
                batch: batch
            ),
            .hello
        )
    }

    /// `?batch=1` (or `true`) on the WebSocket URL.
    static func wantsBatches(_ request: Request) -> Bool {
        guard let value = request.uri.queryParameters.get("batch") else { return false }
        return value == "1" || value == "true"
    }

    /// A client's refused messages so far, and its inbound rate.
    struct Conduct {
        var limiter: RateLimiter
        var violations = 0
    }

    func conduct() -> Conduct {
        Conduct(limiter: RateLimiter(perSecond: configuration.inboundMessagesPerSecond))
    }

    /// One whole message from the client. Returns false when the connection is to be closed (its
    /// close is then in the outbox).
    func received(text: Bool, _ bytes: ByteBuffer, outbox: ClientOutbox, conduct: inout Conduct) -> Bool {
        func violation(_ code: ErrorCode, _ message: String, id: String? = nil) -> Bool {
            conduct.violations += 1
            if conduct.violations > configuration.maxClientViolations {
                outbox.close(code: CloseCode.policyViolation, reason: "too many refused messages")
                return false
            }
            outbox.enqueue(control(ServerMessages.error(code: code, message: message, id: id), .error), channel: nil)
            return true
        }
        guard conduct.limiter.allow(now: WallClock.monotonicNanoseconds()) else {
            return violation(.rateLimited, "more than \(configuration.inboundMessagesPerSecond) messages per second")
        }
        guard text else {
            return violation(.badRequest, "binary messages are not part of the protocol; send JSON text")
        }
        switch ClientRequest.parse(bytes.readableBytesView) {
        case .failure(let refusal):
            return violation(refusal.code, refusal.message, id: refusal.id)
        case .success(let request):
            return handle(request, outbox, violation)
        }
    }

    /// Returns false when the connection is to be closed.
    func handle(_ request: ClientRequest, _ outbox: ClientOutbox, _ violation: (ErrorCode, String, String?) -> Bool) -> Bool {
        switch request.op {
        case .ping:
            outbox.enqueue(control(ServerMessages.simple(.pong, t: WallClock.nowMicroseconds(), id: request.id), .pong), channel: nil)
        case .subscribe, .unsubscribe:
            let symbols = request.symbols ?? []
            guard !symbols.isEmpty else {
                return violation(.badRequest, "\(request.op.rawValue) needs a non-empty \"symbols\" list", request.id)
            }
            guard symbols.count <= configuration.maxSubscriptionsPerClient else {
                return violation(.tooManySubscriptions, "at most \(configuration.maxSubscriptionsPerClient) symbols per client", request.id)
            }
            if let bad = symbols.first(where: { !SymbolName.isAcceptable($0) }) {
                return violation(
                    .unknownSymbol,
                    "not a symbol name: \"\(String(bad.unicodeScalars.prefix(64).map { $0.value < 0x20 ? "?" : Character($0) }))\"",
                    request.id
                )
            }
            if request.op == .subscribe {
                hub.subscribe(outbox, request: request)
            } else {
                let done = hub.unsubscribe(outbox, symbols: symbols, channels: request.channels)
                outbox.enqueue(
                    control(
                        ServerMessages.subscription(
                            .unsubscribed,
                            id: request.id,
                            resolved: done,
                            channels: request.channels ?? MarketChannel.allCases
                        ),
                        .unsubscribed
                    ),
                    channel: nil
                )
            }
        }
        return true
    }

    private func control(_ bytes: [UInt8], _ type: MessageType) -> OutboundMessage {
        OutboundMessage(json: bytes, type: type)
    }

    static func reasonLabel(_ code: UInt16) -> String {
        switch code {
        case CloseCode.goingAway: return "shutdown"
        case CloseCode.slowConsumer: return "slow_consumer"
        case CloseCode.policyViolation: return "policy_violation"
        case CloseCode.messageTooBig: return "message_too_large"
        default: return "closed"
        }
    }
}

/// A token bucket: `perSecond` sustained, bursts of twice that.
struct RateLimiter {
    let perSecond: Double
    private var tokens: Double
    private var last: UInt64 = 0

    init(perSecond: Double) {
        self.perSecond = perSecond
        self.tokens = perSecond * 2
    }

    mutating func allow(now: UInt64) -> Bool {
        if last != 0 {
            tokens = min(perSecond * 2, tokens + Double(now &- last) / 1e9 * perSecond)
        }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// The first reason a connection ended (for the disconnect metric).
final class ReasonBox: Sendable {
    private let box = NIOLockedValueBox<String?>(nil)

    var value: String { box.withLockedValue { $0 ?? "client_closed" } }

    func set(_ reason: String) {
        box.withLockedValue { if $0 == nil { $0 = reason } }
    }
}
