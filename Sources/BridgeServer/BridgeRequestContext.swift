import Hummingbird
import HummingbirdWebSocket
import NIOConcurrencyHelpers
import NIOCore

/// The bridge's request context: Hummingbird's, plus the connection's channel, which a WebSocket
/// session needs so its fan-out can write from the channel's own event loop.
struct BridgeRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    /// Held weakly: the context can outlive its request (see ``UpgradeSlot``), and it must never
    /// be what keeps a closed connection's channel, with its buffers, alive.
    weak let channel: (any Channel)?
    let upgrade: UpgradeSlot

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.upgrade = UpgradeSlot()
    }

    var webSocket: WebSocketHandlerReference<Self> { upgrade.reference }

    /// Called once the upgraded connection's handler runs: nothing reads the reference after that.
    func releaseUpgradeReference() {
        upgrade.release()
    }

    /// Where the WebSocket upgrade's handler reference lives.
    ///
    /// hummingbird-websocket's `router.ws` stores the matched handler together with a *copy of this
    /// context* in a box that the context itself holds (`webSocket.handler`): a reference cycle.
    /// Kept as a plain stored property, it keeps every upgraded connection's context, and with it
    /// the channel, its pipeline and its receive buffer (about 6 KB), for the life of the process.
    /// The slot lets the handler drop the reference once the upgrade is done, which breaks the cycle.
    final class UpgradeSlot: Sendable {
        private let slot = NIOLockedValueBox<WebSocketHandlerReference<BridgeRequestContext>?>(.init())

        var reference: WebSocketHandlerReference<BridgeRequestContext> {
            slot.withLockedValue { $0 } ?? .init()
        }

        func release() {
            slot.withLockedValue { $0 = nil }
        }
    }
}
