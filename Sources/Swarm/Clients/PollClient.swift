import BridgeClient
import BridgeWire
import Clocks

/// `poll`: the old client. A fixed request rate, latency from the *intended* send time (no
/// coordinated omission: when the bridge stalls, the requests that should have gone out
/// meanwhile all count the stall), plus the staleness of the data each answer carried.
struct PollClient: SwarmClient {
    let swarm: Swarm
    let index: Int

    func run(until end: UInt64) async {
        let swarm = self.swarm
        let token = swarm.tokenQuery
        await swarm.poll(index: index, until: end) {
            "/api/live_data/\($0)\(token)"
        } observe: { response, _, receivedAt, poller in
            let message = WireScanner(String(buffer: response.body))
            guard let seq = message.seq, seq >= 0 else { return }
            swarm.recorder.staleness(contract: message.contract, seq: seq, receivedAt: receivedAt)
            let contract = String(message.contract)
            if let seen = poller.seen[contract], seq > seen {
                swarm.recorder.delivery(contract: message.contract, after: seen, seq: seq, receivedAt: receivedAt)
            }
            if seq > poller.seen[contract, default: -1] { poller.seen[contract] = seq }
        }
    }
}

extension Swarm {
    /// A poller's loop, for the reference bridge and for a profiled one: requests at the
    /// configured rate on a keep-alive connection (a new one when the bridge closes it), each
    /// timed from its intended send; `observe` reads a 200 answer (symbol, received at).
    func poll(
        index: Int,
        until end: UInt64,
        path: @escaping @Sendable (String) -> String,
        observe: @escaping @Sendable (HTTPConnection.Response, String, Int64, PollerState) -> Void
    ) async {
        let interval = 1 / configuration.pollRate
        let first = WallClock.monotonicNanoseconds()
        let poller = PollerState()
        while WallClock.monotonicNanoseconds() < end {
            do {
                try await withDeadline(end) {
                    try await HTTPConnection.with(host: self.host, port: self.port) { connection in
                        if !poller.connected {
                            poller.connected = true
                            self.totals.update { $0.connected[.poll, default: 0] += 1 }
                        }
                        while true {
                            let request = poller.request
                            let intended = first + UInt64(Double(request) * interval * 1e9)
                            guard intended < end else { return }
                            try await Self.sleep(until: intended)
                            let symbol = self.configuration.symbols[(index + request) % self.configuration.symbols.count]
                            poller.request += 1
                            let response = try await connection.get(path(symbol))
                            let done = WallClock.monotonicNanoseconds()
                            let receivedAt = WallClock.nowMicroseconds()
                            self.recorder.record("poll_request", microseconds: Int64(done - intended) / 1000)
                            self.totals.update {
                                $0.httpRequests += 1
                                $0.httpStatus[response.status, default: 0] += 1
                                $0.messages += 1
                                $0.bytes += response.body.readableBytes
                            }
                            if response.status == 200 { observe(response, symbol, receivedAt, poller) }
                            if response.headers["connection"].first?.lowercased() == "close" { return }
                        }
                    }
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { totals.error("poll_" + ErrorName.of(error)) }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
