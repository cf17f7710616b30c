import BridgeWire
import Clocks
import DequeModule
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

/// One message queued for a client: bytes encoded once and shared (a `ByteBuffer` is reference
/// counted; queuing it for many clients copies nothing), plus what SSE needs to label it.
///
/// The JSON is stored inside a ready-made WebSocket text frame: server frames are unmasked, so the
/// same frame bytes (header and payload) can be written to every WebSocket client as they are.
public struct OutboundMessage: Sendable {
    /// The message's JSON (a slice of ``frame``).
    public var bytes: ByteBuffer
    /// The whole WebSocket frame: header, then ``bytes``.
    public var frame: ByteBuffer
    /// The SSE event name (`trade`, `quote`, …).
    public var event: String
    /// For market messages: the contract, its epoch and the record index, which SSE ids carry.
    public var contract: String?
    public var epoch: String?
    public var seq: Int
    /// When the message was encoded and queued (monotonic ns), for queued → written.
    public var queuedAt: UInt64

    /// A message from its JSON bytes, framed once.
    public init(json: some Collection<UInt8>, event: String, contract: String? = nil, epoch: String? = nil, seq: Int = -1) {
        var frame = ByteBuffer()
        frame.reserveCapacity(WebSocketTextFrame.headerSize(json.count) + json.count)
        WebSocketTextFrame.writeHeader(into: &frame, length: json.count)
        let start = frame.writerIndex
        frame.writeBytes(json)
        self.frame = frame
        self.bytes = frame.getSlice(at: start, length: json.count)!
        self.event = event
        self.contract = contract
        self.epoch = epoch
        self.seq = seq
        self.queuedAt = WallClock.monotonicNanoseconds()
    }

    /// A message of `type`: its SSE event is the type's name.
    public init(json: some Collection<UInt8>, type: MessageType, contract: String? = nil, epoch: String? = nil, seq: Int = -1) {
        self.init(json: json, event: type.rawValue, contract: contract, epoch: epoch, seq: seq)
    }

    public init(bytes: ByteBuffer, event: String, contract: String? = nil, epoch: String? = nil, seq: Int = -1) {
        self.init(json: bytes.readableBytesView, event: event, contract: contract, epoch: epoch, seq: seq)
    }
}

/// What a client's writer takes from its outbox.
public enum OutboxItem: Sendable {
    case message(OutboundMessage)
    /// Close the connection with this code and reason, then stop.
    case close(code: UInt16, reason: String)
}

/// Takes a client's queued items when told they are waiting, instead of a task awaiting
/// ``ClientOutbox/next()``: a WebSocket connection's writer on its event loop.
public protocol OutboxConsumer: AnyObject, Sendable {
    /// Items are waiting. Called outside the outbox's lock, once until the consumer drains it
    /// (``ClientOutbox/drain(into:)``), so a burst of updates costs one notification.
    func outboxHasItems()
}

/// A client's bounded outbound queue. The fan-out only ever appends here (never awaits a socket),
/// so a slow client cannot slow the others:
/// - state channels (quotes, depth, stats) conflate: if the client still holds an unsent update for
///   the same contract and channel, that one is dropped and the newest *full* value queued instead;
/// - trades are never dropped: a client whose backlog passes `maxBacklog` is closed with
///   ``CloseCode/slowConsumer``; it can reconnect and resume from its last sequence number.
public final class ClientOutbox: Sendable {
    public let id: Int
    public let maxBacklog: Int

    struct SlotKey: Hashable {
        var contract: String
        var channel: MarketChannel
    }

    private struct State {
        var queue: Deque<OutboxItem> = []
        /// Absolute index of `queue[0]` (how many items were ever drained).
        var head = 0
        /// For each conflatable (contract, channel): the absolute index of its unsent entry.
        var slots: [SlotKey: Int] = [:]
        var waiter: CheckedContinuation<[OutboxItem], Never>?
        /// Held weakly: the consumer (a connection's writer) holds this outbox, and its channel's
        /// pipeline owns it; a strong reference back would keep both, and the channel, forever.
        weak var consumer: (any OutboxConsumer)?
        /// The consumer was told items are waiting and has not drained them yet.
        var signalled = false
        var closed = false
        var conflated = 0
    }

    private let state = NIOLockedValueBox(State())
    private let overflowHandler = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)

    /// Called once when the outbox closes itself because the client fell behind. The writer is
    /// then likely blocked on a full socket and would never reach the close: this lets the
    /// connection cancel it and drop the socket.
    public func onOverflow(_ handler: @escaping @Sendable () -> Void) {
        overflowHandler.withLockedValue { $0 = handler }
    }

    private func takeOverflowHandler() -> (@Sendable () -> Void)? {
        overflowHandler.withLockedValue { handler in
            defer { handler = nil }
            return handler
        }
    }

    public init(id: Int, maxBacklog: Int) {
        self.id = id
        self.maxBacklog = max(1, maxBacklog)
    }

    /// Queues a message. For a conflatable channel, `full` builds the newest full value; it is
    /// called (under the outbox's lock) only when an unsent value for the same contract and channel
    /// must be replaced. Returns false if the client is closed (or was just closed for falling behind).
    @discardableResult
    public func enqueue(_ message: OutboundMessage, channel: MarketChannel?) -> Bool {
        enqueue(message, channel: channel) { message }
    }

    /// The same, with `full` not escaping: the fan-out passes a closure over its own locals, so
    /// nothing is allocated for it per client per update.
    @discardableResult
    public func enqueue(_ message: OutboundMessage, channel: MarketChannel?, full: () -> OutboundMessage) -> Bool {
        let (accepted, wake) = state.withLockedValue { s -> (Bool, Wake?) in
            guard !s.closed else { return (false, nil) }
            if let channel, channel.isConflatable, let contract = message.contract {
                let key = SlotKey(contract: contract, channel: channel)
                if let position = s.slots[key] {
                    // The client has not taken the previous value yet: replace it, in place, with
                    // the newest full value. At most one entry per slot is ever queued.
                    s.queue[position - s.head] = .message(full())
                    s.conflated += 1
                    return (true, nil)
                }
                s.slots[key] = s.head + s.queue.count
                s.queue.append(.message(message))
            } else if s.queue.count >= maxBacklog {
                s.closed = true
                s.queue.removeAll()
                s.slots.removeAll()
                s.queue.append(.close(code: CloseCode.slowConsumer, reason: "slow consumer: more than \(maxBacklog) messages behind"))
                return (false, Self.takeWake(&s))
            } else {
                s.queue.append(.message(message))
            }
            return (true, Self.takeWake(&s))
        }
        wake?.fire()
        if !accepted, let handler = takeOverflowHandler() {
            handler()
        }
        return accepted
    }

    /// Queues a close; nothing queued after it is sent.
    public func close(code: UInt16, reason: String) {
        let wake: Wake? = state.withLockedValue { s in
            guard !s.closed else { return nil }
            s.closed = true
            s.queue.append(.close(code: code, reason: reason))
            return Self.takeWake(&s)
        }
        wake?.fire()
    }

    /// The connection ended: drops what is still queued, the consumer and the overflow handler
    /// (which captures the connection's channel), and wakes a waiting ``next()`` with nothing. After
    /// this the outbox holds nothing of the connection, whoever still holds the outbox.
    public func detach() {
        let waiter: CheckedContinuation<[OutboxItem], Never>? = state.withLockedValue { s in
            s.closed = true
            s.queue.removeAll()
            s.slots.removeAll()
            s.consumer = nil
            defer { s.waiter = nil }
            return s.waiter
        }
        _ = takeOverflowHandler()
        waiter?.resume(returning: [])
    }

    /// Hands the outbox to a consumer that drains it when told (instead of ``next()``). Items
    /// already waiting are signalled at once.
    public func attach(_ consumer: any OutboxConsumer) {
        let wake: Wake? = state.withLockedValue { s in
            s.consumer = consumer
            s.signalled = false
            return Self.takeWake(&s)
        }
        wake?.fire()
    }

    /// Moves everything queued, in order, into `items` (kept by the caller so its storage is
    /// reused). The consumer is told again when something new arrives.
    public func drain(into items: inout [OutboxItem]) {
        state.withLockedValue { s in
            items.append(contentsOf: s.queue)
            s.head += s.queue.count
            s.queue.removeAll(keepingCapacity: true)
            s.slots.removeAll(keepingCapacity: true)
            s.signalled = false
        }
    }

    /// Waits for and takes everything queued, in order. Returns an empty array only after the
    /// outbox was closed and drained.
    public func next() async -> [OutboxItem] {
        await withCheckedContinuation { continuation in
            let ready: [OutboxItem]? = state.withLockedValue { s in
                if !s.queue.isEmpty { return Self.drain(&s) }
                if s.closed { return [] }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The consumer draining the outbox, if it still exists (held weakly).
    public var consumer: (any OutboxConsumer)? { state.withLockedValue { $0.consumer } }

    /// Messages queued and not yet taken by the writer.
    public var backlog: Int { state.withLockedValue { $0.queue.count } }
    public var isClosed: Bool { state.withLockedValue { $0.closed } }
    /// How many state updates were replaced by a newer full value.
    public var conflatedCount: Int { state.withLockedValue { $0.conflated } }

    /// Whom to tell that items are waiting, decided under the lock and done outside it.
    private enum Wake {
        case waiter(CheckedContinuation<[OutboxItem], Never>, [OutboxItem])
        case consumer(any OutboxConsumer)

        func fire() {
            switch self {
            case .waiter(let continuation, let items): continuation.resume(returning: items)
            case .consumer(let consumer): consumer.outboxHasItems()
            }
        }
    }

    private static func takeWake(_ s: inout State) -> Wake? {
        guard !s.queue.isEmpty else { return nil }
        if let consumer = s.consumer {
            guard !s.signalled else { return nil }
            s.signalled = true
            return .consumer(consumer)
        }
        guard let waiter = s.waiter else { return nil }
        s.waiter = nil
        return .waiter(waiter, drain(&s))
    }

    private static func drain(_ s: inout State) -> [OutboxItem] {
        let items = Array(s.queue)
        s.head += s.queue.count
        s.queue.removeAll(keepingCapacity: true)
        s.slots.removeAll(keepingCapacity: true)
        return items
    }
}
