import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client connection (keep-alive GETs, streamed bodies) on SwiftNIO: what
/// pollers and SSE clients need, without a full HTTP client's weight in a swarm of thousands.
public struct HTTPConnection {
    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer
    }

    public enum Failure: Error, CustomStringConvertible {
        case closed
        case unexpected(String)

        public var description: String {
            switch self {
            case .closed: return "connection closed by the server"
            case .unexpected(let text): return text
            }
        }
    }

    let host: String
    var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

    /// Connects, runs `body` with the connection, and closes it.
    public static func with<T: Sendable>(
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectTimeout: TimeAmount = .seconds(5),
        _ body: (inout HTTPConnection) async throws -> T
    ) async throws -> T {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = HTTPConnection(host: host, inbound: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&connection)
        }
    }

    /// Sends a GET.
    public mutating func send(_ path: String, headers: [(String, String)] = []) async throws {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: host)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        try await outbound.write(contentsOf: [.head(head), .end(nil)])
    }

    /// Reads a response head.
    public mutating func head() async throws -> HTTPResponseHead {
        while let part = try await inbound.next() {
            if case .head(let head) = part { return head }
        }
        throw Failure.closed
    }

    /// Reads the next body chunk; nil at the end of the response.
    public mutating func chunk() async throws -> ByteBuffer? {
        while let part = try await inbound.next() {
            switch part {
            case .body(let buffer): return buffer
            case .end: return nil
            case .head: throw Failure.unexpected("a response head in the middle of a body")
            }
        }
        throw Failure.closed
    }

    /// GET and the whole response.
    public mutating func get(_ path: String, headers: [(String, String)] = []) async throws -> Response {
        try await send(path, headers: headers)
        let head = try await head()
        var body = ByteBuffer()
        while var buffer = try await chunk() { body.writeBuffer(&buffer) }
        return Response(status: Int(head.status.code), headers: head.headers, body: body)
    }
}
