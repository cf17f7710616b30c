import Clocks
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

/// Writes a WebSocket client's outbox to its socket from the connection's own event loop: no
/// Swift task per client, no task woken per update.
///
/// It sits at the head of the connection's pipeline (after the WebSocket frame encoder on the
/// way out) and writes the frames each ``OutboundMessage`` carries, built once for every client,
/// as they are: everything taken from the outbox in one drain goes out with one flush (one
/// `writev`). While the socket is not writable it takes nothing, so the backlog stays in the
/// outbox, where state channels conflate and trades count towards the slow-consumer limit; it
/// drains again when the channel becomes writable.
///
/// A close in the outbox ends the writer after everything queued before it was written; the
/// connection's handler (told through ``onEnd``, on the loop) then sends the close frame and runs
/// the close handshake.
public final class WebSocketOutboxWriter: ChannelInboundHandler, RemovableChannelHandler, OutboxConsumer, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// Why the writer stopped.
    public enum End: Sendable, Equatable {
        /// The outbox's close was reached; everything before it was written.
        case close(code: UInt16, reason: String)
        /// The connection went away first.
        case connectionClosed
        /// The peer sent nothing, not even a pong, for a whole ping period: it is gone.
        case pingTimeout
    }

    /// Messages and bytes written, counted once per pass over a loop's writers.
    struct Sent {
        var messages = 0
        var bytes = 0
        /// The oldest message written in a drain: how long it waited from queued to written.
        var oldestQueuedAt: UInt64 = .max

        /// One message written.
        mutating func count(_ message: OutboundMessage) {
            messages += 1
            bytes += message.bytes.readableBytes
            oldestQueuedAt = min(oldestQueuedAt, message.queuedAt)
        }

        mutating func add(_ other: Sent) {
            messages += other.messages
            bytes += other.bytes
            oldestQueuedAt = min(oldestQueuedAt, other.oldestQueuedAt)
        }

        func record(_ metrics: BridgeMetrics) {
            guard messages > 0 else { return }
            metrics.sent("ws", messages: messages, bytes: bytes)
        }
    }

    /// Largest batch frame for a client that asked for newline batches.
    public static let maxBatchBytes = 64 * 1024

    let outbox: ClientOutbox
    let queue: EventLoopDrainQueue
    let batching: Bool
    let metrics: BridgeMetrics

    /// The connection's channel, held weakly (for tests that check a closed one is released).
    public private(set) weak var channel: (any Channel)?

    // Only touched on the channel's event loop.
    private var context: ChannelHandlerContext?
    private var items: [OutboxItem] = []
    private var stopped = false
    private var draining = false
    private var drainAgain = false
    /// Bytes arrived from the peer since the loop's last ping round (the upgrade counts).
    private var heard = true

    /// Called once, on the loop, when the writer stops (before ``ended()`` returns).
    public var onEnd: ((End) -> Void)?

    private struct Ending {
        var end: End?
        var waiter: CheckedContinuation<End, Never>?
    }
    private let ending = NIOLockedValueBox(Ending())

    /// `batching`: several queued messages go out as one text frame, newline-separated, for a
    /// client that asked for that.
    public init(outbox: ClientOutbox, queue: EventLoopDrainQueue, batching: Bool) {
        self.outbox = outbox
        self.queue = queue
        self.batching = batching
        self.metrics = queue.metrics
    }

    // MARK: OutboxConsumer

    public func outboxHasItems() {
        queue.ready(self)
    }

    // MARK: Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
        if context.channel.isActive {
            queue.register(self)
        } else {
            stop(.connectionClosed)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        stop(.connectionClosed)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stop(.connectionClosed)
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        heard = true
        context.fireChannelRead(data)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { drainOnLoop().record(metrics) }
        context.fireChannelWritabilityChanged()
    }

    /// Waits until the writer stops.
    public func ended() async -> End {
        await withCheckedContinuation { continuation in
            let end: End? = ending.withLockedValue { state in
                if let end = state.end { return end }
                state.waiter = continuation
                return nil
            }
            if let end { continuation.resume(returning: end) }
        }
    }

    private func stop(_ end: End) {
        if !stopped { queue.unregister(self) }
        stopped = true
        let waiter: CheckedContinuation<End, Never>? = ending.withLockedValue { state in
            guard state.end == nil else { return nil }
            state.end = end
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: end)
        if let onEnd {
            self.onEnd = nil
            onEnd(end)
        }
    }

    // MARK: Pings

    /// The loop's ping round (on the loop): a peer that sent nothing since the previous round, not
    /// even the pong to its ping, is gone, and its connection is closed; the others get `ping`,
    /// the same frame bytes for all. One timer per loop does this for every connection on it, so a
    /// connection costs no sleeping task, and a closed one leaves no timer behind.
    func pingRound(_ ping: ByteBuffer) {
        guard !stopped, let context else { return }
        guard heard else {
            stop(.pingTimeout)
            context.close(promise: nil)
            return
        }
        heard = false
        context.writeAndFlush(NIOAny(ping), promise: nil)
    }

    // MARK: Writing

    /// Writes everything waiting, with one flush. On the channel's event loop.
    func drainOnLoop() -> Sent {
        // A flush can make the channel writable again and so call back here, inside a drain:
        // that drain is noted and done after this one, never nested in it.
        guard !draining else {
            drainAgain = true
            return Sent()
        }
        draining = true
        defer { draining = false }
        var sent = drainOnce()
        while drainAgain {
            drainAgain = false
            sent.add(drainOnce())
        }
        return sent
    }

    private func drainOnce() -> Sent {
        var sent = Sent()
        guard !stopped, let context else { return sent }
        // Not writable: leave the backlog in the outbox; writability brings us back.
        guard context.channel.isWritable else { return sent }
        outbox.drain(into: &items)
        var end: End?
        var index = 0
        while index < items.count {
            switch items[index] {
            case .message(let message):
                if batching {
                    index = writeBatch(from: index, context: context, sent: &sent)
                    continue
                }
                sent.count(message)
                context.write(NIOAny(message.frame), promise: nil)
            case .close(let code, let reason):
                end = .close(code: code, reason: reason)
                index = items.count
                continue
            }
            index += 1
        }
        items.removeAll(keepingCapacity: true)
        if sent.messages > 0 {
            context.flush()
            let waited = WallClock.monotonicNanoseconds() &- sent.oldestQueuedAt
            metrics.queuedToWritten.recordNanoseconds(Int64(waited))
        }
        if let end { stop(end) }
        return sent
    }

    /// Writes the messages from `start` on, up to the next close, as newline-separated frames of
    /// at most ``maxBatchBytes``. Returns the index after the last message written.
    private func writeBatch(from start: Int, context: ChannelHandlerContext, sent: inout Sent) -> Int {
        var index = start
        while index < items.count {
            // Gather one frame's worth.
            var end = index
            var length = 0
            while end < items.count, case .message(let message) = items[end] {
                let added = (end > index ? 1 : 0) + message.bytes.readableBytes
                if end > index, length + added > Self.maxBatchBytes { break }
                length += added
                end += 1
                sent.count(message)
            }
            if end == index { break }  // a close
            if end == index + 1, case .message(let only) = items[index] {
                // A lone message: its shared frame as it is.
                context.write(NIOAny(only.frame), promise: nil)
            } else {
                var frame = context.channel.allocator.buffer(capacity: WebSocketTextFrame.headerSize(length) + length)
                WebSocketTextFrame.writeHeader(into: &frame, length: length)
                for position in index..<end {
                    guard case .message(let message) = items[position] else { continue }
                    if position > index { frame.writeInteger(UInt8(ascii: "\n")) }
                    frame.writeImmutableBuffer(message.bytes)
                }
                context.write(NIOAny(frame), promise: nil)
            }
            index = end
        }
        return index
    }
}
