import BridgeWire
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A WebSocket client connection whose frames are handled on the event loop that read them, with
/// no async hop per message: what a load generator needs to stay cheaper than the bridge it
/// measures. (An async client resumes a task on another thread for every frame.)
///
/// Text messages go to `onText` on the loop; pings are answered; a close from the server is
/// answered and ends the connection. ``connect(host:port:path:on:connectTimeout:onOpen:onText:)``
/// returns when the connection ends, with the server's close code (1006 when there was none).
public enum LoopWebSocket {
    public enum Failure: Error, CustomStringConvertible {
        /// The server answered the upgrade with this HTTP status instead.
        case refused(status: Int)
        case messageTooLarge
        case invalidFrame

        public var description: String {
            switch self {
            case .refused(let status): return "upgrade refused with HTTP \(status)"
            case .messageTooLarge: return "message larger than 16 MB"
            case .invalidFrame: return "not a valid WebSocket frame"
            }
        }
    }

    /// Closes an open connection from any thread (a close frame, then the socket).
    public struct Closer: Sendable {
        let channel: any Channel

        public func close(code: UInt16, reason: String) {
            let channel = self.channel
            channel.eventLoop.execute {
                var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
                data.writeInteger(code)
                data.writeString(reason)
                let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)
                channel.writeAndFlush(frame).whenComplete { _ in
                    // A server answers and closes; one that does not is not waited for long.
                    channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
                }
            }
        }
    }

    /// Connects to `ws://host:port/path`, calls `onOpen` once upgraded (send the first message
    /// there), then `onText` for every text message, on the loop. Cancelling the calling task
    /// closes the connection.
    public static func connect(
        host: String,
        port: Int,
        path: String,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount,
        onOpen: @escaping @Sendable (Closer, _ send: @escaping @Sendable (String) -> Void) -> Void,
        onText: @escaping @Sendable (ByteBuffer) -> Void
    ) async throws -> UInt16 {
        let ended = eventLoop.makePromise(of: UInt16.self)
        let connecting = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let head = UpgradeRequest(host: host, port: port, path: path, ended: ended)
                let upgrader = Upgrader(handler: FrameHandler(ended: ended, onOpen: onOpen, onText: onText))
                let upgrade: NIOHTTPClientUpgradeConfiguration = (
                    upgraders: [upgrader],
                    completionHandler: { context in context.pipeline.removeHandler(head, promise: nil) }
                )
                // Frames the server sends right behind its 101 arrive with it: forward them, not drop.
                return channel.pipeline.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, withClientUpgrade: upgrade).flatMap {
                    channel.pipeline.addHandler(head)
                }
            }
            .connect(host: host, port: port)
        let channel: any Channel
        do {
            channel = try await connecting.get()
        } catch {
            ended.fail(error)
            throw error
        }
        channel.closeFuture.whenComplete { _ in ended.succeed(CloseCode.abnormal) }  // no-op once a code is in
        return try await withTaskCancellationHandler {
            try await ended.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// Sends the upgrade request; sees the answer only when the upgrade was refused.
    final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        let host: String
        let port: Int
        let path: String
        let ended: EventLoopPromise<UInt16>

        init(host: String, port: Int, path: String, ended: EventLoopPromise<UInt16>) {
            self.host = host
            self.port = port
            self.path = path
            self.ended = ended
        }

        func channelActive(context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "\(host):\(port)")
            headers.add(name: "Content-Length", value: "0")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let response) = unwrapInboundIn(data) {
                ended.fail(Failure.refused(status: Int(response.status.code)))
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            ended.fail(error)
            context.close(promise: nil)
        }
    }

    /// NIO's WebSocket client upgrade (request headers, the server's accept key), with this
    /// client's own frame reader instead of NIO's frame decoder.
    struct Upgrader: NIOHTTPClientProtocolUpgrader {
        let standard = NIOWebSocketClientUpgrader(upgradePipelineHandler: { channel, _ in channel.eventLoop.makeSucceededVoidFuture() })
        let handler: FrameHandler

        var supportedProtocol: String { standard.supportedProtocol }
        var requiredUpgradeHeaders: [String] { standard.requiredUpgradeHeaders }

        func addCustom(upgradeRequestHeaders: inout HTTPHeaders) {
            standard.addCustom(upgradeRequestHeaders: &upgradeRequestHeaders)
        }

        func shouldAllowUpgrade(upgradeResponse: HTTPResponseHead) -> Bool {
            standard.shouldAllowUpgrade(upgradeResponse: upgradeResponse)
        }

        func upgrade(context: ChannelHandlerContext, upgradeResponse: HTTPResponseHead) -> EventLoopFuture<Void> {
            context.eventLoop.makeCompletedFuture {
                try context.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
                try context.pipeline.syncOperations.addHandler(handler)
            }
        }
    }

    /// The upgraded connection: frames parsed straight from the bytes read, on the loop. (NIO's
    /// decoder would hand each frame up the pipeline boxed; a server's frames are unmasked and
    /// almost always whole and final, so reading them here costs next to nothing.)
    final class FrameHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = WebSocketFrame

        /// A frame header says at most this much payload (the bridge's largest messages are a
        /// few kilobytes); more is taken for a broken stream.
        static let maxFrameBytes = 1 << 22
        private var unread: ByteBuffer?

        let ended: EventLoopPromise<UInt16>
        let onOpen: @Sendable (Closer, @escaping @Sendable (String) -> Void) -> Void
        let onText: @Sendable (ByteBuffer) -> Void
        private var fragments: ByteBuffer?
        private var closeSent = false

        init(
            ended: EventLoopPromise<UInt16>,
            onOpen: @escaping @Sendable (Closer, @escaping @Sendable (String) -> Void) -> Void,
            onText: @escaping @Sendable (ByteBuffer) -> Void
        ) {
            self.ended = ended
            self.onOpen = onOpen
            self.onText = onText
        }

        func handlerAdded(context: ChannelHandlerContext) {
            let channel = context.channel
            onOpen(Closer(channel: channel)) { text in
                channel.eventLoop.execute {
                    let data = channel.allocator.buffer(string: text)
                    channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: data), promise: nil)
                }
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            if var pending = unread {
                unread = nil
                pending.writeBuffer(&bytes)
                bytes = pending
            }
            while bytes.readableBytes > 0 {
                switch Self.frame(from: &bytes) {
                case .frame(let fin, let opcode, let payload):
                    handle(context: context, fin: fin, opcode: opcode, payload: payload)
                case .incomplete:
                    unread = bytes
                    return
                case .invalid:
                    ended.fail(Failure.invalidFrame)
                    context.close(promise: nil)
                    return
                }
            }
        }

        enum Parsed {
            case frame(fin: Bool, opcode: WebSocketOpcode, payload: ByteBuffer)
            case incomplete
            case invalid
        }

        /// Takes one frame off the front of `bytes` (RFC 6455 §5.2), unmasking it if masked.
        static func frame(from bytes: inout ByteBuffer) -> Parsed {
            let start = bytes.readerIndex
            guard let first = bytes.getInteger(at: start, as: UInt8.self), let second = bytes.getInteger(at: start + 1, as: UInt8.self) else {
                return .incomplete
            }
            // Continuation, text, binary, close, ping, pong; no extension bits.
            switch first & 0x0F {
            case 0, 1, 2, 8, 9, 10: break
            default: return .invalid
            }
            guard first & 0x70 == 0, let opcode = WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F) else { return .invalid }
            var offset = 2
            var length = Int(second & 0x7F)
            if length == 126 {
                guard let extended = bytes.getInteger(at: start + offset, as: UInt16.self) else { return .incomplete }
                length = Int(extended)
                offset += 2
            } else if length == 127 {
                guard let extended = bytes.getInteger(at: start + offset, as: UInt64.self) else { return .incomplete }
                guard extended <= UInt64(maxFrameBytes) else { return .invalid }
                length = Int(extended)
                offset += 8
            }
            guard length <= maxFrameBytes else { return .invalid }
            var mask: [UInt8]?
            if second & 0x80 != 0 {
                guard let key = bytes.getBytes(at: start + offset, length: 4) else { return .incomplete }
                mask = key
                offset += 4
            }
            guard var payload = bytes.getSlice(at: start + offset, length: length) else { return .incomplete }
            bytes.moveReaderIndex(forwardBy: offset + length)
            if let mask {
                var unmasked = ByteBuffer()
                unmasked.reserveCapacity(length)
                for (index, byte) in payload.readableBytesView.enumerated() { unmasked.writeInteger(byte ^ mask[index % 4]) }
                payload = unmasked
            }
            return .frame(fin: first & 0x80 != 0, opcode: opcode, payload: payload)
        }

        private func handle(context: ChannelHandlerContext, fin: Bool, opcode: WebSocketOpcode, payload: ByteBuffer) {
            switch opcode {
            case .text where fin:
                onText(payload)
            case .text:
                fragments = payload
            case .continuation:
                guard var pending = fragments else { return }
                var more = payload
                pending.writeBuffer(&more)
                guard pending.readableBytes <= 1 << 24 else {
                    ended.fail(Failure.messageTooLarge)
                    context.close(promise: nil)
                    return
                }
                if fin {
                    fragments = nil
                    onText(pending)
                } else {
                    fragments = pending
                }
            case .ping:
                let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: payload)
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            case .connectionClose:
                var data = payload
                let code = data.readInteger(as: UInt16.self) ?? CloseCode.noStatus
                ended.succeed(code)
                // Answer with the same code, then leave closing the socket to the server (it
                // must); a server that does not is not waited for long.
                if !closeSent {
                    closeSent = true
                    var echo = context.channel.allocator.buffer(capacity: 2)
                    echo.writeInteger(code)
                    let reply = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo)
                    context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
                }
                let channel = context.channel
                channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
            default:
                break
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
