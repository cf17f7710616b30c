import BridgeClient
import Clocks
import HummingbirdWSClient

/// `churn`: connect, subscribe, stay 0.1–1 s, leave with a close frame, and again until the end.
struct ChurnClient: SwarmClient {
    let swarm: Swarm

    func run(until end: UInt64) async {
        let swarm = self.swarm
        let connects = PollerState()
        let subscribe = "{\"op\":\"subscribe\",\"symbols\":[\"\(swarm.configuration.symbols[0])\"]}"
        while WallClock.monotonicNanoseconds() < end {
            let stayMilliseconds = Int64.random(in: 100...1_000)
            do {
                let frame = try await WebSocketClient.connect(url: swarm.webSocketURL + "/ws" + swarm.tokenQuery, logger: swarm.logger) {
                    inbound,
                    outbound,
                    _ in
                    connects.request += 1
                    try await outbound.write(.text(subscribe))
                    let leave = WallClock.monotonicNanoseconds() + UInt64(stayMilliseconds) * 1_000_000
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        if case .text(let text) = message {
                            for line in text.split(separator: "\n") { swarm.totals.message(bytes: line.utf8.count) }
                        }
                        if WallClock.monotonicNanoseconds() > leave { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                if let frame { swarm.totals.update { $0.closeCodes[Int(UInt16(webSocketErrorCode: frame.closeCode)), default: 0] += 1 } }
            } catch {
                swarm.totals.error("churn_" + ErrorName.of(error))
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        swarm.totals.update { $0.connected[.churn, default: 0] += connects.request > 0 ? 1 : 0 }
    }
}
