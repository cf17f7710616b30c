import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The bridge's request context: Hummingbird's, plus the connection's channel, which a WebSocket
/// session needs so its fan-out can write from the channel's own event loop.
struct BridgeRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.channel = source.channel
    }
}
