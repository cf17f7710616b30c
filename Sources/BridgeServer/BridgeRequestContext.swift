import Hummingbird
import NIOCore

/// The bridge's request context: Hummingbird's, plus the connection's channel, which an SSE
/// stream needs so its fan-out can write from the channel's own event loop.
struct BridgeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Held weakly: a context must never be what keeps a closed connection's channel, with its
    /// buffers, alive.
    weak let channel: (any Channel)?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
