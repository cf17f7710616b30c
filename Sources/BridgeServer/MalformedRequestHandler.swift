import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request the HTTP parser refused — a 100 KB header, `HTTP/9.9`, a TLS ClientHello,
/// both `Content-Length` and `Transfer-Encoding` — with 431, 505 or 400 and closes the connection,
/// instead of leaving the client waiting on an open socket. (Hummingbird builds its HTTP/1
/// pipeline without NIO's error handler; this one sits after its codec, so it speaks HTTPTypes.)
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A response has started and not ended: a refusal cannot be sent in the middle of it.
    private var responding = false

    static func status(for error: HTTPParserError) -> HTTPResponse.Status {
        switch error {
        case .headerOverflow: return .requestHeaderFieldsTooLarge
        case .invalidVersion: return .httpVersionNotSupported
        default: return .badRequest
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !responding else {
            context.close(promise: nil)
            return
        }
        let head = HTTPResponse(status: Self.status(for: error), headerFields: [.connection: "close", .contentLength: "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.kind == .informational: break
        case .head: responding = true
        case .body: break
        case .end: responding = false
        }
        context.write(data, promise: promise)
    }
}
