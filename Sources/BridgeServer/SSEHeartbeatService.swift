import BridgeCore
import ServiceLifecycle

/// Keeps every SSE stream alive with one timer: each heartbeat period it queues an empty message
/// (sent as a comment line) for every open stream. A stream costs no sleeping task of its own, so
/// one that closes leaves no timer behind to hold its memory until it would have fired.
struct SSEHeartbeatService: Service {
    let registry: ConnectionRegistry
    let period: Duration

    /// The empty message the SSE pump turns into `: heartbeat <time>`.
    static let message = OutboundMessage(json: [UInt8](), event: "")

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: period)
                registry.enqueueForAll(transport: "sse", Self.message)
            }
        }
    }
}
