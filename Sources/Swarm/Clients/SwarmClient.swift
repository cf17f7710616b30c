/// One client of the swarm: what its kind does from its arrival until `end` (monotonic ns),
/// counting into the swarm's totals and histograms. Each kind is a type of its own
/// (``ClientKind/client(for:index:)`` picks it); the swarm only schedules them.
protocol SwarmClient: Sendable {
    func run(until end: UInt64) async
}

extension ClientKind {
    /// The client of this kind, the `index`-th of the swarm; a profile's kinds when the bridge is
    /// described by one (nil: the profile cannot drive this kind, which `validate()` refused).
    func client(for swarm: Swarm, index: Int) -> (any SwarmClient)? {
        if swarm.profileReader != nil {
            switch self {
            case .ws: return ProfileWebSocketClient(swarm: swarm)
            case .sse: return ProfileSSEClient(swarm: swarm)
            case .poll: return ProfilePollClient(swarm: swarm, index: index)
            case .leak: return LeakClient(swarm: swarm)
            default: return nil
            }
        }
        switch self {
        case .ws, .slow: return LibraryClient(swarm: swarm, kind: self)
        case .sse: return EventSourceClient(swarm: swarm)
        case .poll: return PollClient(swarm: swarm, index: index)
        case .stuck, .vanish: return SilentClient(swarm: swarm, kind: self)
        case .churn: return ChurnClient(swarm: swarm)
        case .malformed: return MalformedClient(swarm: swarm)
        case .leak: return LeakClient(swarm: swarm)
        }
    }
}
