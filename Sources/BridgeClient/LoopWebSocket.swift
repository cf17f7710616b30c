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

        public var description: String {
            switch self {
            case .refused(let status): return "upgrade refused with HTTP \(status)"
            case .messageTooLarge: return "message larger than 16 MB"
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
                let upgrader = NIOWebSocketClientUpgrader(
                    maxFrameSize: 1 << 22,
                    upgradePipelineHandler: { channel, _ in
                        channel.pipeline.addHandler(FrameHandler(ended: ended, onOpen: onOpen, onText: onText))
                    }
                )
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
        channel.closeFuture.whenComplete { _ in ended.succeed(1006) }  // no-op once a code is in
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

    /// The upgraded connection: frames in, on the loop.
    final class FrameHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame

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
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text where frame.fin:
                onText(frame.unmaskedData)
            case .text:
                fragments = frame.unmaskedData
            case .continuation:
                guard var pending = fragments else { return }
                var more = frame.unmaskedData
                pending.writeBuffer(&more)
                guard pending.readableBytes <= 1 << 24 else {
                    ended.fail(Failure.messageTooLarge)
                    context.close(promise: nil)
                    return
                }
                if frame.fin {
                    fragments = nil
                    onText(pending)
                } else {
                    fragments = pending
                }
            case .ping:
                let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            case .connectionClose:
                var data = frame.unmaskedData
                let code = data.readInteger(as: UInt16.self) ?? 1005
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
