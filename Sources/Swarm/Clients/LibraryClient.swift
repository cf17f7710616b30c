import BridgeClient
import Clocks

/// `ws` and `slow`: the BridgeClient library, as a trader's program embeds it. A `ws` client
/// observes every message on the loop that reads it and, with `cache_reads`, asks its local view
/// for the latest data as often as the old client polled; a `slow` one takes its updates through
/// the bounded queue, pausing after each.
struct LibraryClient: SwarmClient {
    let swarm: Swarm
    let kind: ClientKind

    func run(until end: UInt64) async {
        let swarm = self.swarm
        let started = WallClock.nowMicroseconds()
        var settings = swarm.clientConfiguration()
        if kind == .slow {
            settings.transport = .updates
            settings.queueLimit = 64
        }
        let first = FirstFlag()
        let histogram = kind == .slow ? "update_slow" : "update_ws"
        let client = BridgeClient(configuration: settings, logger: swarm.logger) { message in
            var seen = first.value
            var connectedAt = first.connectedAt
            swarm.observe(message, started: started, firstSnapshot: &seen, histogram: histogram, connectedAt: &connectedAt)
            swarm.delivered(message, cursor: first)
            first.value = seen
            first.connectedAt = connectedAt
        }
        let configuration = swarm.configuration
        let delay = configuration.slowDelayMilliseconds
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            if kind == .ws, configuration.cacheReadsPerSecond > 0 {
                // The application asks for the latest data as often as the old client polled;
                // the local view answers (a hit) while it is younger than the cache TTL.
                let symbols = configuration.symbols
                let interval = UInt64(1e9 / configuration.cacheReadsPerSecond)
                group.addTask {
                    var read = 0
                    var next = WallClock.monotonicNanoseconds() + interval
                    while next < end, !Task.isCancelled {
                        try? await Swarm.sleep(until: next)
                        _ = client.latest(symbols[read % symbols.count])
                        read += 1
                        next += interval
                    }
                }
            }
            if kind == .slow {
                group.addTask {
                    while await client.updates.next() != nil { try? await Task.sleep(for: .milliseconds(delay)) }
                }
            }
            try? await Swarm.sleep(until: end)
            client.stop()
            client.updates.finish()
            await group.waitForAll()
        }
        let statistics = client.statistics
        for micros in statistics.reconnectMicroseconds { swarm.recorder.record("reconnect", microseconds: micros) }
        swarm.totals.update { $0.connected[kind, default: 0] += statistics.connects > 0 ? 1 : 0 }
        swarm.totals.add(statistics, trackers: client.trackers)
    }
}
