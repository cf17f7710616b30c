import BridgeCore
import BridgeWire
import Clocks
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SierraFormat

/// Server-Sent Events: `/sse?symbols=…` for updates and `/api/stream/dashboard` for the periodic
/// aggregated view. Every event but those before the first position (`subscribed`) has an `id:`; `retry:` is sent first; comment lines keep idle
/// connections alive.
///
/// An update stream's id lists where the client is in every contract it follows:
/// `NQZ25-CME~<epoch>~<seq>;ESZ25-CME~<epoch>~<seq>`. A reconnecting EventSource sends it back as
/// `Last-Event-ID`, and each contract resumes from there (trades replayed, then a snapshot).
struct SSEStreams {
    let hub: MarketHub
    let registry: ConnectionRegistry
    let configuration: BridgeConfiguration
    let startedAt: UInt64
    let logger: Logger
    /// The dashboard's figures (activity, the bridge's own CPU and memory, sparklines).
    let sampler: DashboardSampler?

    static let retryMilliseconds = 2_000

    /// Parses a `Last-Event-ID` of the form above; malformed parts are ignored.
    static func parseEventID(_ text: String) -> [String: ClientRequest.ResumePoint] {
        var points: [String: ClientRequest.ResumePoint] = [:]
        for part in text.split(separator: ";").prefix(256) {
            let fields = part.split(separator: "~", omittingEmptySubsequences: false)
            guard fields.count == 3, let seq = Int(fields[2]), SymbolName.isAcceptable(String(fields[0])) else { continue }
            points[String(fields[0])] = ClientRequest.ResumePoint(epoch: String(fields[1]), seq: seq)
        }
        return points
    }

    func updates(_ request: Request, channel: (any Channel)?) throws -> Response {
        let query = request.uri.queryParameters
        let symbols = (query.get("symbols") ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
        guard !symbols.isEmpty else { throw HTTPError(.badRequest, message: "symbols=NQ,ES is required") }
        guard symbols.count <= configuration.maxSubscriptionsPerClient else {
            throw HTTPError(.badRequest, message: "at most \(configuration.maxSubscriptionsPerClient) symbols")
        }
        guard symbols.allSatisfy(SymbolName.isAcceptable) else { throw HTTPError(.badRequest, message: "not a symbol name") }
        let contracts = symbols.map { self.hub.resolve($0) }
        guard contracts.allSatisfy({ $0 != nil }) else { throw HTTPError(.notFound, message: "unknown symbol; see /api/symbols") }
        let options: SubscriptionQuery
        switch SubscriptionQuery.parse(request) {
        case .success(let parsed): options = parsed
        case .failure(let refusal): throw HTTPError(.badRequest, message: refusal.message)
        }
        let lastEventID = request.headers[.lastEventID] ?? query.get("last_event_id")
        var resume: [String: ClientRequest.ResumePoint] = [:]
        if let lastEventID {
            let points = Self.parseEventID(lastEventID)
            for (symbol, contract) in zip(symbols, contracts) {
                if let contract, let point = points[contract] { resume[symbol] = point }
            }
        }
        guard registry.reserve() else { throw HTTPError(.serviceUnavailable, message: "connection limit reached") }
        let outbox = registry.open(transport: "sse")
        Self.endWhenClosed(outbox, channel: channel)
        hub.subscribe(
            outbox,
            request: ClientRequest(op: .subscribe, symbols: symbols, channels: options.channels, resume: resume, maxRate: options.maxRate)
        )
        let hub = self.hub
        let registry = self.registry
        let resumed = resume
        let body = ResponseBody { writer in
            var positions: [String: (epoch: String, seq: Int)] = [:]
            for (symbol, point) in resumed {
                if let contract = hub.resolve(symbol) { positions[contract] = (point.epoch, point.seq) }
            }
            let reason = ReasonBox()
            defer {
                hub.remove(outbox)
                registry.release(outbox, reason: reason.value)
            }
            try await writer.write(ByteBuffer(string: "retry: \(Self.retryMilliseconds)\n\n"))
            try await Self.pump(outbox, reason: reason, hub: hub, writer: &writer) { message in
                // The id says, per contract, the last snapshot or trade delivered: resuming from
                // it loses nothing (quotes, stats and depth come again with the snapshot).
                if let contract = message.contract, let epoch = message.epoch {
                    switch message.event {
                    case "snapshot", "trade": positions[contract] = (epoch, message.seq)
                    // A bar's seq is its last trade's: it moves the position on, never back.
                    case "bar": positions[contract] = (epoch, max(message.seq, positions[contract]?.seq ?? -1))
                    case "reset": positions[contract] = nil
                    default: break
                    }
                }
                let id = positions.sorted { $0.key < $1.key }.map { "\($0.key)~\($0.value.epoch)~\($0.value.seq)" }.joined(separator: ";")
                return Self.event(id: id, message)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: Self.headers, body: body)
    }

    static let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"]

    /// The aggregated view every `dashboardIntervalSeconds` (the plan's 1/5 s).
    func dashboard(_ request: Request, channel: (any Channel)?) throws -> Response {
        guard registry.reserve() else { throw HTTPError(.serviceUnavailable, message: "connection limit reached") }
        let outbox = registry.open(transport: "sse")
        Self.endWhenClosed(outbox, channel: channel)
        let hub = self.hub
        let registry = self.registry
        let interval = configuration.dashboardIntervalSeconds
        let streams = self
        let body = ResponseBody { writer in
            let reason = ReasonBox()
            // A dashboard shows every root: their active contracts stay tailed while it is open.
            hub.watchRoots(true)
            defer {
                hub.watchRoots(false)
                registry.release(outbox, reason: reason.value)
            }
            try await writer.write(ByteBuffer(string: "retry: \(Self.retryMilliseconds)\n\n"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var sequence = 0
                    while !outbox.isClosed {
                        outbox.enqueue(
                            OutboundMessage(json: streams.dashboardJSON(sequence: sequence), type: .dashboard, seq: sequence),
                            channel: nil
                        )
                        sequence += 1
                        try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                    }
                }
                defer { group.cancelAll() }
                try await Self.pump(outbox, reason: reason, hub: hub, writer: &writer) { message in
                    Self.event(id: String(message.seq), message)
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: Self.headers, body: body)
    }

    /// One SSE event: `id`, `event`, and the shared JSON bytes as `data`.
    /// An empty `id` is left out: an `id:` line with nothing after it resets the browser's last
    /// event id, and the reconnect would then resume nothing.
    static func event(id: String, _ message: OutboundMessage) -> ByteBuffer {
        var buffer = ByteBuffer(string: id.isEmpty ? "event: \(message.event)\ndata: " : "id: \(id)\nevent: \(message.event)\ndata: ")
        var bytes = message.bytes
        buffer.writeBuffer(&bytes)
        buffer.writeString("\n\n")
        return buffer
    }

    /// A stream learns that its client left when its channel closes, not only at its next write:
    /// the outbox is detached, which wakes the pump with nothing and ends the response at once.
    static func endWhenClosed(_ outbox: ClientOutbox, channel: (any Channel)?) {
        guard let channel else { return }
        channel.closeFuture.whenComplete { _ in outbox.detach() }
        // The client's FIN arrives as "input closed" (Hummingbird allows half-closure), which
        // closes nothing by itself while a response streams: the watcher closes the connection.
        channel.eventLoop.execute {
            try? channel.pipeline.syncOperations.addHandler(InputClosedWatcher(), position: .first)
        }
    }

    /// Drains an outbox into an SSE body until it closes or the client goes away. Heartbeats (an
    /// empty message, sent as a comment line) are queued by ``SSEHeartbeatService`` for every
    /// stream at once.
    static func pump(
        _ outbox: ClientOutbox,
        reason: ReasonBox,
        hub: MarketHub,
        writer: inout any ResponseBodyWriter,
        format: (OutboundMessage) -> ByteBuffer
    ) async throws {
        while true {
            let items = await outbox.next()
            if items.isEmpty { return }
            var messages = 0
            var bytes = 0
            defer { hub.metrics.sent("sse", messages: messages, bytes: bytes) }
            // One body write per batch: a burst costs one socket write, not one per event.
            var batch = ByteBuffer()
            var closing = false
            for item in items {
                switch item {
                case .message(let message) where message.event.isEmpty:
                    batch.writeString(": heartbeat \(WallClock.nowMicroseconds())\n\n")
                case .message(let message):
                    var event = format(message)
                    batch.writeBuffer(&event)
                    messages += 1
                case .close(let code, _):
                    reason.set(WebSocketSession.reasonLabel(code))
                    closing = true
                }
                if closing { break }
            }
            if batch.readableBytes > 0 {
                bytes += batch.readableBytes
                do {
                    try await writer.write(batch)
                } catch {
                    reason.set("write_failed")
                    throw error
                }
            }
            if closing { return }
        }
    }

    /// Every contract's state and the bridge's health, in one object.
    func dashboardJSON(sequence: Int) -> [UInt8] {
        var w = JSONWriter(capacity: 1024)
        w.beginObject()
        w.key("type")
        w.string("dashboard")
        w.key("seq")
        w.int(sequence)
        w.key("t")
        w.int(WallClock.nowMicroseconds())
        w.key("interval_s")
        w.double(configuration.dashboardIntervalSeconds)
        w.key("bridge")
        BridgeHealth.write(&w, hub: hub, registry: registry, configuration: configuration, startedAt: startedAt)
        let figures = sampler?.latest
        if let figures {
            w.key("activity")
            w.beginObject()
            w.key("records_per_s")
            w.double((figures.recordsPerSecond * 10).rounded() / 10)
            w.key("messages_per_s")
            w.double((figures.messagesPerSecond * 10).rounded() / 10)
            w.key("detect_to_send_us")
            if let detect = figures.detectToSend {
                w.beginObject()
                w.key("count")
                w.int(detect.count)
                w.key("p50")
                w.int(Int64(detect.p50))
                w.key("p99")
                w.int(Int64(detect.p99))
                w.key("max")
                w.int(Int64(detect.max))
                w.endObject()
            } else {
                w.null()
            }
            w.key("cpu_percent")
            w.double((figures.cpuPercent * 10).rounded() / 10)
            w.key("rss_mb")
            w.double((figures.residentMB * 10).rounded() / 10)
            w.endObject()
        }
        w.key("symbols")
        w.beginArray()
        let roots = hub.activeRoots()
        for state in hub.states() {
            w.beginObject()
            BridgeHealth.writeIdentity(&w, state, active: roots[state.root] == state.contract)
            w.key("t")
            w.int(state.updatedUnixMicroseconds)
            w.key("last")
            if let last = state.last { w.price(last.price) } else { w.null() }
            w.key("open")
            if let open = state.open { w.price(open) } else { w.null() }
            w.key("change")
            if let last = state.last?.price, let open = state.open { w.price(last - open) } else { w.null() }
            w.key("spark")
            w.beginArray()
            for price in figures?.spark[state.contract] ?? [] { w.price(price) }
            w.endArray()
            w.key("bid")
            if let bid = state.bid { w.price(bid) } else { w.null() }
            w.key("ask")
            if let ask = state.ask { w.price(ask) } else { w.null() }
            w.key("volume")
            w.int(Int64(state.volume))
            w.key("trades")
            w.int(Int64(state.trades))
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }
}

/// Closes an SSE stream's connection when its client half-closes it (the close then ends the
/// stream, through ``SSEStreams/endWhenClosed(_:channel:)``).
final class InputClosedWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}

/// The health object shared by `/health` and the dashboard.
enum BridgeHealth {
    /// A contract's identity fields, as `/api/symbols` and the dashboard list them.
    static func writeIdentity(_ w: inout JSONWriter, _ state: MarketState, active: Bool) {
        w.key("contract")
        w.string(state.contract)
        w.key("root")
        w.string(state.root)
        w.key("active")
        w.bool(active)
        w.key("epoch")
        w.string(state.epoch)
        w.key("seq")
        w.int(state.seq)
    }

    static func write(_ w: inout JSONWriter, hub: MarketHub?, registry: ConnectionRegistry?, configuration: BridgeConfiguration, startedAt: UInt64) {
        w.beginObject()
        w.key("mode")
        w.string(configuration.mode.rawValue)
        w.key("uptime_s")
        w.double((Double(WallClock.monotonicNanoseconds() - startedAt) / 1e9 * 10).rounded() / 10)
        if let hub {
            w.key("contracts")
            w.int(hub.contractCount)
            w.key("tailed")
            w.int(hub.tailedContracts.count)
            w.key("subscriptions")
            w.int(hub.totalSubscriptions)
        }
        if let registry {
            w.key("connections")
            w.beginObject()
            for (transport, count) in registry.counts.sorted(by: { $0.key < $1.key }) {
                w.key(transport)
                w.int(count)
            }
            w.endObject()
        }
        w.endObject()
    }
}
