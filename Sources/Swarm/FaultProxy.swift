import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Network faults a ``FaultProxy`` applies, toxiproxy-style (this kernel has no netem).
public struct Toxics: Sendable, Equatable {
    /// Added one-way delay, each direction, and its random spread (order is kept).
    public var latencyMilliseconds = 0.0
    public var jitterMilliseconds = 0.0
    /// Bytes per second each direction (0: unlimited).
    public var bandwidth = 0
    /// Accept and swallow: data goes nowhere, connections stay open.
    public var blackhole = false
    /// Delay before a close on one side reaches the other.
    public var slowCloseMilliseconds = 0.0

    public init() {}
}

/// A TCP proxy between clients and the bridge that injects faults: latency and jitter, a
/// bandwidth limit, connection resets, a blackhole, cutting every connection for a while, slow
/// closes. It listens on loopback only.
public final class FaultProxy: Sendable {
    public let upstreamHost: String
    public let upstreamPort: Int

    private struct State {
        var toxics = Toxics()
        var refuseUntil: NIODeadline = .uptimeNanoseconds(0)
        var connections: [ObjectIdentifier: (client: any Channel, upstream: any Channel)] = [:]
        var accepted = 0
        var server: (any Channel)?
    }

    private let state = NIOLockedValueBox(State())
    private let group: any EventLoopGroup

    public init(upstreamHost: String, upstreamPort: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.group = group
    }

    public var toxics: Toxics {
        get { state.withLockedValue { $0.toxics } }
        set { state.withLockedValue { $0.toxics = newValue } }
    }

    public var openConnections: Int { state.withLockedValue { $0.connections.count } }
    public var acceptedConnections: Int { state.withLockedValue { $0.accepted } }

    /// Starts listening on 127.0.0.1 (port 0: a free one); returns the port.
    public func start(port: Int = 0) async throws -> Int {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { [self] channel in self.accept(channel) }
            .bind(host: "127.0.0.1", port: port)
            .get()
        state.withLockedValue { $0.server = server }
        return server.localAddress?.port ?? port
    }

    public func stop() async {
        let (server, connections) = state.withLockedValue { s in (s.server, Array(s.connections.values)) }
        for pair in connections {
            pair.client.close(promise: nil)
            pair.upstream.close(promise: nil)
        }
        try? await server?.close()
    }

    /// Closes every connection now and refuses new ones for `seconds` (accepted, then closed).
    public func cut(for seconds: Double) {
        let pairs = state.withLockedValue { s -> [(client: any Channel, upstream: any Channel)] in
            s.refuseUntil = .now() + .nanoseconds(Int64(seconds * 1e9))
            return Array(s.connections.values)
        }
        for pair in pairs {
            pair.client.close(promise: nil)
            pair.upstream.close(promise: nil)
        }
    }

    /// Resets every connection (TCP RST to the client).
    public func resetAll() {
        let pairs = state.withLockedValue { Array($0.connections.values) }
        for pair in pairs {
            // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            let lingered =
                (pair.client as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                ?? pair.client.eventLoop.makeSucceededVoidFuture()
            lingered.whenComplete { _ in
                pair.client.close(promise: nil)
                pair.upstream.close(promise: nil)
            }
        }
    }

    private func accept(_ client: any Channel) -> EventLoopFuture<Void> {
        let refusing = state.withLockedValue { NIODeadline.now() < $0.refuseUntil }
        if refusing {
            return client.close()
        }
        let key = ObjectIdentifier(client)
        return ClientBootstrap(group: client.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: upstreamHost, port: upstreamPort)
            .flatMap { upstream in
                let toClient = Pipe(proxy: self, to: client)
                let toUpstream = Pipe(proxy: self, to: upstream)
                self.state.withLockedValue { $0.connections[key] = (client, upstream) }
                self.state.withLockedValue { $0.accepted += 1 }
                client.closeFuture.whenComplete { _ in self.state.withLockedValue { _ = $0.connections.removeValue(forKey: key) } }
                return upstream.pipeline.addHandler(PipeHandler(pipe: toClient)).flatMap {
                    client.pipeline.addHandler(PipeHandler(pipe: toUpstream))
                }.map {
                    client.read()
                }
            }
            .flatMapError { _ in client.close() }
    }

    /// One direction of a proxied connection: where bytes go, and when.
    final class Pipe: @unchecked Sendable {
        let proxy: FaultProxy
        let target: any Channel
        /// When the last scheduled write leaves (writes never overtake each other).
        var nextDeparture: NIODeadline = .uptimeNanoseconds(0)

        init(proxy: FaultProxy, to target: any Channel) {
            self.proxy = proxy
            self.target = target
        }

        func forward(_ buffer: ByteBuffer) {
            let toxics = proxy.toxics
            if toxics.blackhole { return }
            var delay = toxics.latencyMilliseconds
            if toxics.jitterMilliseconds > 0 { delay += Double.random(in: -toxics.jitterMilliseconds...toxics.jitterMilliseconds) }
            var departure = NIODeadline.now() + .nanoseconds(Int64(max(0, delay) * 1e6))
            if toxics.bandwidth > 0 {
                let transmit = TimeAmount.nanoseconds(Int64(Double(buffer.readableBytes) / Double(toxics.bandwidth) * 1e9))
                departure = max(departure, nextDeparture) + transmit
            }
            departure = max(departure, nextDeparture)
            nextDeparture = departure
            if departure <= .now() {
                target.writeAndFlush(buffer, promise: nil)
            } else {
                target.eventLoop.scheduleTask(deadline: departure) { self.target.writeAndFlush(buffer, promise: nil) }
            }
        }

        func close() {
            let slow = proxy.toxics.slowCloseMilliseconds
            let after = max(nextDeparture, .now() + .nanoseconds(Int64(slow * 1e6)))
            if after <= .now() {
                target.close(promise: nil)
            } else {
                target.eventLoop.scheduleTask(deadline: after) { self.target.close(promise: nil) }
            }
        }
    }

    /// Reads from one side and hands the bytes to the pipe towards the other.
    final class PipeHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let pipe: Pipe

        init(pipe: Pipe) {
            self.pipe = pipe
        }

        func channelActive(context: ChannelHandlerContext) {
            context.read()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pipe.forward(unwrapInboundIn(data))
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.read()
        }

        func channelInactive(context: ChannelHandlerContext) {
            pipe.close()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
