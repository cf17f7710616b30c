import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Guards a new connection until its first request head is complete, in front of everything else:
/// Hummingbird's WebSocket-upgrade pipeline adds its error handling and idle timer only once the
/// first head is decoded, so a garbage or never-finished first request would otherwise hold the
/// connection open with no answer. It answers 400 (not HTTP: a TLS ClientHello, binary, both
/// Content-Length and Transfer-Encoding), 431 (a head over the limit), 505 (not HTTP/1.x) or 408
/// (no complete head within the timeout) and closes; once a good head has passed it removes itself.
final class FirstRequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let timeout: TimeAmount
    let maxHeadBytes: Int
    private var head: [UInt8] = []
    private var timer: Scheduled<Void>?
    private var refused = false

    init(timeout: TimeAmount, maxHeadBytes: Int = 80 * 1024) {
        self.timeout = timeout
        self.maxHeadBytes = maxHeadBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (guardHandler, context) = loopBound.value
            guardHandler.refuse(context: context, status: "408 Request Timeout")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    enum Verdict: Equatable {
        case incomplete
        case complete
        case refuse(String)
    }

    /// Judges the bytes of a first request head received so far.
    static func judge(_ bytes: [UInt8], maxHeadBytes: Int) -> Verdict {
        var start = 0
        // RFC 9112: empty lines before the request line are ignored.
        while start + 1 < bytes.count, bytes[start] == 0x0D, bytes[start + 1] == 0x0A { start += 2 }
        let body = bytes[start...]
        // A request line is printable ASCII: a TLS ClientHello or binary is not HTTP at all.
        let lineEnd = body.firstIndex(of: 0x0A)
        for byte in body[..<(lineEnd ?? body.endIndex)] where byte != 0x0D && (byte < 0x20 || byte > 0x7E) {
            return .refuse("400 Bad Request")
        }
        guard let lineEnd else { return body.count > maxHeadBytes ? .refuse("431 Request Header Fields Too Large") : .incomplete }
        let line = String(decoding: body[..<lineEnd], as: UTF8.self).trimmingCharacters(in: ["\r"])
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && ($0.isUppercase || $0 == "-") }), !parts[1].isEmpty else {
            return .refuse("400 Bad Request")
        }
        guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return parts[2].hasPrefix("HTTP/") ? .refuse("505 HTTP Version Not Supported") : .refuse("400 Bad Request")
        }
        let text = String(decoding: body, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n") else {
            return body.count > maxHeadBytes ? .refuse("431 Request Header Fields Too Large") : .incomplete
        }
        let fields = text[..<end.lowerBound].split(whereSeparator: \.isNewline).dropFirst().map { $0.lowercased() }
        if fields.contains(where: { $0.hasPrefix("content-length:") }) && fields.contains(where: { $0.hasPrefix("transfer-encoding:") }) {
            return .refuse("400 Bad Request")
        }
        return text.utf8.distance(from: text.startIndex, to: end.lowerBound) > maxHeadBytes
            ? .refuse("431 Request Header Fields Too Large") : .complete
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let buffer = unwrapInboundIn(data)
        head += buffer.readableBytesView
        switch Self.judge(head, maxHeadBytes: maxHeadBytes) {
        case .incomplete:
            context.fireChannelRead(data)
        case .complete:
            timer?.cancel()
            head = []
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .refuse(let status):
            refuse(context: context, status: status)
        }
    }

    func refuse(context: ChannelHandlerContext, status: String) {
        guard !refused else { return }
        refused = true
        timer?.cancel()
        let response = ByteBuffer(string: "HTTP/1.1 \(status)\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// A server child channel with a ``FirstRequestGuard`` in front of the one it wraps.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let headTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(FirstRequestGuard(timeout: headTimeout), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
