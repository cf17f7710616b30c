import BridgeCore
import BridgeWire
import Hummingbird
import NIOCore
import NIOWebSocket

/// One upgraded WebSocket connection, as a handler on its event loop: it admits or refuses the
/// client, reads its requests, answers its pings and runs the close handshake. Beside it, at the
/// head of the pipeline, a ``WebSocketOutboxWriter`` writes the client's outbox and the loop's
/// heartbeats and pings. So an open connection costs no Swift task: nothing sleeps or waits per
/// connection, and a short HTTP request does not pay for the open ones in the server's task group.
///
/// It sits after NIO's frame decoder and protocol-error handler, which refuse a frame over the
/// size limit (close code 1009) or a malformed one (1002) by themselves.
final class WebSocketConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum State {
        case starting
        /// Refused with a close frame: waiting for the client's reply (or the timeout).
        case refused
        case open
        /// Our close frame is sent: waiting for the client's reply (or the timeout).
        case closing
        case closed
    }

    let session: WebSocketSession
    let request: Request
    let initialSymbol: String?

    // Only touched on the channel's event loop.
    private var state = State.starting
    private var outbox: ClientOutbox?
    private var writer: WebSocketOutboxWriter?
    private let reason = ReasonBox()
    private var closeTimer: Scheduled<Void>?
    private var conduct: WebSocketSession.Conduct
    /// False once the client's close is in the outbox: nothing more it sends is read.
    private var reading = true
    /// A fragmented message being put together: its first frame's kind and the bytes so far.
    private var fragments: (text: Bool, bytes: ByteBuffer)?

    /// How long a refused client has to answer its close frame.
    static let refusalTimeout = TimeAmount.seconds(1)
    /// How long a closed client has to answer the close frame.
    static let closeTimeout = TimeAmount.seconds(2)

    init(session: WebSocketSession, request: Request, initialSymbol: String?) {
        self.session = session
        self.request = request
        self.initialSymbol = initialSymbol
        self.conduct = session.conduct()
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        // The upgrade runs on an active channel; one that closed meanwhile is simply not started.
        guard context.channel.isActive else {
            state = .closed
            return
        }
        switch session.admit(request, initialSymbol: initialSymbol) {
        case .failure(let refusal):
            // A close frame as a plain frame, with no half-close: a FIN on the heels of the 101 is
            // lost by clients still switching protocols (swift-websocket's among them), which then
            // never see the close. The client's reply (or the timeout) ends the connection.
            state = .refused
            sendClose(context: context, code: refusal.code, reason: refusal.reason, timeout: Self.refusalTimeout)
        case .success(let subscribe):
            open(context: context, subscribe: subscribe)
        }
    }

    private func open(context: ChannelHandlerContext, subscribe: ClientRequest?) {
        let registry = session.registry
        let outbox = registry.open(transport: "ws")
        self.outbox = outbox
        // One JSON message per frame, as a browser's JSON.parse(event.data) or Python's
        // json.loads(message) expects; newline batches only for a client that asks.
        let batch = WebSocketSession.wantsBatches(request)
        let writer = WebSocketOutboxWriter(outbox: outbox, queue: session.drainQueues.queue(for: context.eventLoop), batching: batch)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        writer.onEnd = { end in
            let (connection, context) = loopBound.value
            connection.writerEnded(end, context: context)
        }
        self.writer = writer
        do {
            try context.pipeline.syncOperations.addHandler(writer, position: .first)
        } catch {
            reason.set("closed")
            context.close(promise: nil)
            return
        }
        state = .open
        outbox.enqueue(session.hello(batch: batch), channel: nil)
        outbox.attach(writer)
        // A client too slow to take its trades is cut off: its socket is full, so no close frame
        // could reach it; it reconnects and resumes. (Called from the fan-out's thread.)
        let channel = context.channel
        let reason = self.reason
        outbox.onOverflow {
            reason.set("slow_consumer")
            channel.close(promise: nil)
        }
        if let subscribe { session.hub.subscribe(outbox, request: subscribe) }
    }

    /// The writer stopped: after a close in the outbox (everything before it written), the close
    /// frame goes out now.
    private func writerEnded(_ end: WebSocketOutboxWriter.End, context: ChannelHandlerContext) {
        switch end {
        case .close(let code, let text):
            reason.set(WebSocketSession.reasonLabel(code))
            guard state == .open else { return }
            state = .closing
            sendClose(context: context, code: code, reason: text, timeout: Self.closeTimeout)
        case .connectionClosed:
            reason.set("closed")
        case .pingTimeout:
            reason.set("ping_timeout")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    /// Gives the connection's slot and subscriptions back, once.
    private func finish() {
        guard state != .closed else { return }
        state = .closed
        closeTimer?.cancel()
        closeTimer = nil
        writer?.onEnd = nil
        if let outbox {
            session.hub.remove(outbox)
            session.registry.release(outbox, reason: reason.value)
        }
        outbox = nil
        writer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Hummingbird's server allows half-closure, so a client that went away (its process
        // killed: the kernel sends FIN) shows up as the end of input, not as a closed channel.
        // A WebSocket has nothing more to say to a peer that cannot speak: it ends here.
        if case ChannelEvent.inputClosed = event {
            reason.set("closed")
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO's protocol-error handler, before this one, has already sent the close frame for a
        // malformed or over-long frame; anything else ends the connection too.
        if let error = error as? NIOWebSocketError, error == .invalidFrameLength {
            reason.set("message_too_large")
        } else if error is NIOWebSocketError {
            reason.set("policy_violation")
        }
        context.close(promise: nil)
    }

    // MARK: Frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            receivedClose(frame, context: context)
        case .ping:
            guard state == .open else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break  // the writer already counted the bytes as a sign of life
        case .text, .binary:
            guard state == .open, reading else { return }
            guard fragments == nil else {
                return protocolError("a new message began before the last one ended", context: context)
            }
            if frame.fin {
                deliver(text: frame.opcode == .text, frame.unmaskedData)
            } else {
                fragments = (frame.opcode == .text, frame.unmaskedData)
                checkFragmentSize()
            }
        case .continuation:
            guard state == .open, reading else { return }
            guard case (let text, var bytes)? = fragments else {
                return protocolError("a continuation frame with no message to continue", context: context)
            }
            var data = frame.unmaskedData
            bytes.writeBuffer(&data)
            fragments = (text, bytes)
            guard checkFragmentSize() else { return }
            if frame.fin {
                fragments = nil
                deliver(text: text, bytes)
            }
        default:
            protocolError("an unknown opcode", context: context)
        }
    }

    /// Whether the message being put together is still within the limit; when not, the client is
    /// closed with 1009.
    @discardableResult
    private func checkFragmentSize() -> Bool {
        guard let fragments, let outbox else { return false }
        let limit = session.configuration.maxInboundMessageBytes
        guard fragments.bytes.readableBytes > limit else { return true }
        self.fragments = nil
        reason.set("message_too_large")
        reading = false
        outbox.close(code: CloseCode.messageTooBig, reason: "message larger than \(limit) bytes")
        return false
    }

    private func deliver(text: Bool, _ bytes: ByteBuffer) {
        guard let outbox else { return }
        if !session.received(text: text, bytes, outbox: outbox, conduct: &conduct) {
            // Its close is in the outbox; nothing more is read from this client.
            reading = false
        }
    }

    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        switch state {
        case .open:
            // The client closes: echo its code (RFC 6455 §5.5.1), then end the connection.
            state = .closing
            reason.set("closed")
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self) ?? CloseCode.normal
            let reply = Self.closeFrame(code: code == CloseCode.noStatus ? CloseCode.normal : code, reason: "", allocator: context.channel.allocator)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
        case .refused, .closing:
            // The reply to our close: the handshake is done.
            context.close(promise: nil)
        case .starting, .closed:
            break
        }
    }

    /// Closes with 1002 through the outbox, after what is queued for the client.
    private func protocolError(_ why: String, context: ChannelHandlerContext) {
        session.logger.debug("WebSocket protocol error: \(why)")
        reason.set("policy_violation")
        reading = false
        fragments = nil
        if let outbox { outbox.close(code: CloseCode.protocolError, reason: why) } else { context.close(promise: nil) }
    }

    /// A server's close frame (unmasked): the code, then the reason.
    static func closeFrame(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> WebSocketFrame {
        var payload = allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(reason)
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)
    }

    /// Writes a close frame and closes the connection when the client answers it, or at `timeout`.
    private func sendClose(context: ChannelHandlerContext, code: UInt16, reason: String, timeout: TimeAmount) {
        context.writeAndFlush(wrapOutboundOut(Self.closeFrame(code: code, reason: reason, allocator: context.channel.allocator)), promise: nil)
        closeTimer?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        closeTimer = context.eventLoop.scheduleTask(in: timeout) { loopBound.value.close(promise: nil) }
    }
}
