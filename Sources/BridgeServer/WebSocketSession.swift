import BridgeCore
import BridgeWire
import Clocks
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket
import SierraFormat

/// One WebSocket client: a reader handling its requests and a ``WebSocketOutboxWriter`` on the
/// connection's event loop that writes its outbox (and queues the loop's shared heartbeats). The fan-out
/// never touches the socket; it only queues, and a client that reads slowly only delays itself.
struct WebSocketSession {
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

    func run(
        request: Request,
        channel: any Channel,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        initialSymbol: String?
    ) async {
        var refusal: Refusal?
        let initial = initialSymbol.map { Self.initialRequest(request, symbol: $0) }
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
            // The close frame is written as a plain frame, not through `outbound.close`: that also
            // half-closes the socket at once, and a FIN arriving on the heels of the 101 is lost by
            // clients still switching protocols (swift-websocket's among them), which then never
            // see the close and hang. The client's close reply ends the connection instead.
            var payload = ByteBuffer()
            payload.writeInteger(refusal.code)
            payload.writeString(refusal.reason)
            try? await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
            // Read until the client's close reply (at most a second): the close handshake is only
            // processed while someone reads, and a refused client must see its close promptly. The
            // reader is not awaited after that: an inbound iteration need not notice cancellation,
            // and a task group would wait for it forever, holding the connection open. Returning
            // ends the connection, and with it the reader.
            let replied = NIOLockedValueBox(false)
            let reader = Task {
                do {
                    for try await _ in inbound.messages(maxSize: configuration.maxInboundMessageBytes) {}
                } catch {}
                replied.withLockedValue { $0 = true }
            }
            let deadline = WallClock.monotonicNanoseconds() + 1_000_000_000
            while !replied.withLockedValue({ $0 }), WallClock.monotonicNanoseconds() < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            reader.cancel()
            return
        }

        let outbox = registry.open(transport: "ws")
        let reason = ReasonBox()
        defer {
            hub.remove(outbox)
            registry.release(outbox, reason: reason.value)
        }
        // One JSON message per frame, as a browser's JSON.parse(event.data) or Python's
        // json.loads(message) expects; newline batches only for a client that asks.
        let batch = Self.wantsBatches(request)
        let writer = WebSocketOutboxWriter(outbox: outbox, queue: drainQueues.queue(for: channel.eventLoop), batching: batch)
        do {
            try await channel.pipeline.addHandler(writer, position: .first).get()
        } catch {
            reason.set("closed")
            return
        }
        outbox.enqueue(
            control(
                ServerMessages.hello(
                    heartbeatSeconds: configuration.heartbeatSeconds,
                    contracts: hub.helloContracts,
                    roots: hub.activeRoots(),
                    batch: batch
                ),
                .hello
            ),
            channel: nil
        )
        outbox.attach(writer)
        // A client too slow to take its trades is cut off: its socket is full, so no close frame
        // could reach it; it reconnects and resumes.
        outbox.onOverflow {
            reason.set("slow_consumer")
            channel.close(promise: nil)
        }
        if case .success(let subscribe)? = initial {
            hub.subscribe(outbox, request: subscribe)
        }

        // The writer decides when the connection ends: the reader and the heartbeat only queue (a
        // close, too), so a close frame follows everything queued before it.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await readLoop(inbound, outbox, reason)
                outbox.close(code: CloseCode.normal, reason: "closed")
            }
            switch await writer.ended() {
            case .close(let code, let text):
                reason.set(Self.reasonLabel(code))
                try? await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: text)
            case .connectionClosed:
                reason.set("closed")
            case .pingTimeout:
                reason.set("ping_timeout")
            }
            group.cancelAll()
        }
    }

    /// `?batch=1` (or `true`) on the WebSocket URL.
    static func wantsBatches(_ request: Request) -> Bool {
        guard let value = request.uri.queryParameters.get("batch") else { return false }
        return value == "1" || value == "true"
    }

    private func readLoop(_ inbound: WebSocketInboundStream, _ outbox: ClientOutbox, _ reason: ReasonBox) async {
        var limiter = RateLimiter(perSecond: configuration.inboundMessagesPerSecond)
        var violations = 0
        func violation(_ code: ErrorCode, _ message: String, id: String? = nil) -> Bool {
            violations += 1
            if violations > configuration.maxClientViolations {
                outbox.close(code: CloseCode.policyViolation, reason: "too many refused messages")
                return false
            }
            outbox.enqueue(control(ServerMessages.error(code: code, message: message, id: id), .error), channel: nil)
            return true
        }
        do {
            for try await message in inbound.messages(maxSize: configuration.maxInboundMessageBytes) {
                guard limiter.allow(now: WallClock.monotonicNanoseconds()) else {
                    if !violation(.rateLimited, "more than \(configuration.inboundMessagesPerSecond) messages per second") { return }
                    continue
                }
                guard case .text(let text) = message else {
                    if !violation(.badRequest, "binary messages are not part of the protocol; send JSON text") { return }
                    continue
                }
                switch ClientRequest.parse(text.utf8) {
                case .failure(let refusal):
                    if !violation(refusal.code, refusal.message, id: refusal.id) { return }
                case .success(let request):
                    if !handle(request, outbox, violation) { return }
                }
            }
        } catch {
            // An over-long message ends the stream with an error.
            reason.set("message_too_large")
            outbox.close(code: CloseCode.messageTooBig, reason: "message larger than \(configuration.maxInboundMessageBytes) bytes")
        }
    }

    /// Returns false when the connection is to be closed.
    private func handle(_ request: ClientRequest, _ outbox: ClientOutbox, _ violation: (ErrorCode, String, String?) -> Bool) -> Bool {
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
