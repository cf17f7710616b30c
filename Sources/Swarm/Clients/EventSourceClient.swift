import BridgeClient
import Clocks

/// `sse`: the bridge's `/sse` read as a browser's EventSource reads it (``SSEClient``):
/// reconnects after `retry:` with `Last-Event-ID`, every message observed.
struct EventSourceClient: SwarmClient {
    let swarm: Swarm

    func run(until end: UInt64) async {
        let swarm = self.swarm
        let started = WallClock.nowMicroseconds()
        let client = SSEClientState()
        let configuration = swarm.configuration
        let sse = SSEClient(
            configuration: .init(
                host: swarm.host,
                port: swarm.port,
                symbols: configuration.symbols,
                channels: configuration.channels.map(\.rawValue),
                maxRate: configuration.maxRate,
                token: configuration.token
            )
        )
        while WallClock.monotonicNanoseconds() < end {
            do {
                try await withDeadline(end) {
                    try await sse.connect { status in
                        swarm.totals.update { $0.sseStatus[status, default: 0] += 1 }
                        guard status == 200, !client.connected else { return }
                        client.connected = true
                        client.connectedAt = WallClock.nowMicroseconds()
                        swarm.recorder.record("connect", microseconds: client.connectedAt! - started)
                        swarm.totals.update { $0.connected[.sse, default: 0] += 1 }
                    } onMessage: { received in
                        switch received.kind {
                        case .resumed: swarm.totals.update { $0.resumesRecovered += 1 }
                        case .notRecovered: swarm.totals.update { $0.resumesNotRecovered += 1 }
                        default: break
                        }
                        var first = client.firstSnapshot
                        // SSE has no hello: the response head was the moment it connected.
                        var connectedAt: Int64? = client.connectedAt
                        swarm.observe(received, started: started, firstSnapshot: &first, histogram: "update_sse", connectedAt: &connectedAt)
                        client.firstSnapshot = first
                    }
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { swarm.totals.error("sse_" + ErrorName.of(error)) }
            }
            guard WallClock.monotonicNanoseconds() < end else { break }
            try? await Task.sleep(for: .milliseconds(Int64(sse.retrySeconds * 1000)))
        }
        swarm.totals.add(trackers: sse.session.trackers)
    }
}
