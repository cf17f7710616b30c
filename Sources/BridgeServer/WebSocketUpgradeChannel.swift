import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// The bridge's connections: plain HTTP through Hummingbird's router, and a WebSocket upgrade on
/// the plan's routes (`/ws`, `/ws/live_data/{symbol}`) done on the event loop, where the upgraded
/// connection then lives as channel handlers (``WebSocketConnection`` and its
/// ``WebSocketOutboxWriter``). `handle` returns as soon as a connection is upgraded, so an open
/// WebSocket holds no task of the server's: the task group stays the size of the HTTP requests in
/// flight, and a `/health` probe costs the same with ten thousand clients connected as with ten.
struct WebSocketUpgradeChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        /// Upgraded: the connection runs on its loop from here on.
        case webSocket
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// An upgrade asked for and refused (not a WebSocket route, or an origin not let in).
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    /// A WebSocket route: the session's, or the plan's with its symbol.
    enum Route: Equatable {
        case session
        case symbol(String)

        /// The route of a request target (`/ws?token=…`, `/ws/live_data/NQ?max_rate=4`), if any.
        init?(target: String) {
            var path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            while path.count > 1, path.hasSuffix("/") { path.removeLast() }
            if path == "/ws" {
                self = .session
                return
            }
            let prefix = "/ws/live_data/"
            guard path.hasPrefix(prefix) else { return nil }
            let symbol = String(path.dropFirst(prefix.count))
            guard !symbol.isEmpty, !symbol.contains("/") else { return nil }
            self = .symbol(symbol.removingPercentEncoding ?? symbol)
        }

        var initialSymbol: String? {
            if case .symbol(let symbol) = self { return symbol }
            return nil
        }
    }

    let responder: HTTPChannelHandler.Responder
    let http1: HTTP1Channel.Configuration
    let session: WebSocketSession
    let origins: AllowedOrigins

    init(responder: @escaping HTTPChannelHandler.Responder, http1: HTTP1Channel.Configuration, session: WebSocketSession, origins: AllowedOrigins) {
        self.responder = Self.redirectingLateUpgrades(responder)
        self.http1 = http1
        self.session = session
        self.origins = origins
    }

    /// The request as Hummingbird's router would see it (no body: an upgrade has none).
    static func request(_ head: HTTPRequestHead) -> Request? {
        guard let request = try? HTTPRequest(head, secure: false, splitCookie: false) else { return nil }
        return Request(head: request, body: .init(buffer: ByteBuffer()))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            // The route and request read from the head by `shouldUpgrade`, for the pipeline handler.
            let accepted = NIOLoopBoundBox<(route: Route, request: Request)?>(nil, eventLoop: channel.eventLoop)
            let session = self.session
            let origins = self.origins
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                // A frame over the limit is refused by NIO's frame decoder with close code 1009; a
                // fragmented message is bounded the same way by the connection.
                maxFrameSize: session.configuration.maxInboundMessageBytes,
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    guard head.method == .GET, let route = Route(target: head.uri), let request = Self.request(head) else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    // A page on an origin not allowed gets no upgrade (its browser sees the socket fail).
                    guard origins.allowsUpgrade(request) else {
                        session.hub.metrics.connectionRefused(transport: "ws", reason: "origin")
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    accepted.value = (route, request)
                    return channel.eventLoop.makeSucceededFuture([:])
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let (route, request) = accepted.value else { throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget }
                        let connection = WebSocketConnection(session: session, request: request, initialSymbol: route.initialSymbol)
                        try channel.pipeline.syncOperations.addHandler(connection)
                        session.registry.upgraded(channel, connection: connection)
                        return UpgradeResult.webSocket
                    }
                }
            )
            let http1 = self.http1
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger)
                        )
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return upgradeAttempted.value ? .failedUpgrade(asyncChannel) : .notUpgraded(asyncChannel)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgradeConfiguration)
            // As Hummingbird's own HTTP channel: pipelining and errors are its business, and its
            // HTTP types validate the response headers already.
            configuration.enablePipelining = false
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                return
            case .notUpgraded(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1):
                await Self.refuseUpgrade(http1, logger: logger)
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("connection closed before its first request")
        } catch {
            logger.debug("upgrade failed: \(error)")
        }
    }

    /// A refused upgrade gets a bare 400 and the connection closes.
    static func refuseUpgrade(_ http1: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, logger: Logger) async {
        do {
            try await http1.executeThenClose { _, outbound in
                let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
                try await outbound.write(contentsOf: [.head(head), .end(nil)])
            }
        } catch {
            logger.trace("refused upgrade: \(error)")
        }
    }

    /// NIO upgrades only on a connection's first request. An upgrade asked for later on a
    /// keep-alive connection is sent back to the same address with the connection closed, so the
    /// client's next attempt is a first request.
    static func redirectingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct RedirectThenClose: Error {}
        return { request, writer, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            var target = request.uri.path
            if let query = request.uri.query { target += "?\(query)" }
            let response = HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: target])
            try await writer.writeResponse(response)
            throw RedirectThenClose()
        }
    }
}
