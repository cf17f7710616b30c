/// The `type` of every message the bridge sends, as the encoder writes it, the server names its
/// SSE events and a client's scanner reads it: one list, so the three cannot drift apart.
public enum MessageType: String, Sendable, Equatable, CaseIterable {
    case hello, snapshot, trade, quote, stats, depth, bar, reset, rollover, heartbeat, pong
    case subscribed, unsubscribed, resumed, error, dashboard
    case notRecovered = "not_recovered"
    /// A type this version does not know: what a reader makes of one (never sent).
    case other

    /// The name as written in JSON, without a copy on the hot path.
    public var name: StaticString {
        switch self {
        case .hello: return "hello"
        case .snapshot: return "snapshot"
        case .trade: return "trade"
        case .quote: return "quote"
        case .stats: return "stats"
        case .depth: return "depth"
        case .bar: return "bar"
        case .reset: return "reset"
        case .rollover: return "rollover"
        case .heartbeat: return "heartbeat"
        case .pong: return "pong"
        case .subscribed: return "subscribed"
        case .unsubscribed: return "unsubscribed"
        case .resumed: return "resumed"
        case .error: return "error"
        case .dashboard: return "dashboard"
        case .notRecovered: return "not_recovered"
        case .other: return "other"
        }
    }
}
