import BridgeClient
import BridgeWire
import Clocks
import HummingbirdWSClient

/// `malformed`: a WebSocket that sends garbage and unknown operations every 200 ms, counting the
/// bridge's `error` answers (the bridge must answer each and keep the connection).
struct MalformedClient: SwarmClient {
    let swarm: Swarm

    static let garbage = [
        "{not json", "[]", "{\"op\":\"explode\"}", "{\"op\":\"subscribe\",\"symbols\":[\"../../etc/passwd\"]}",
        String(repeating: "x", count: 300),
    ]

    func run(until end: UInt64) async {
        let swarm = self.swarm
        do {
            let frame = try await WebSocketClient.connect(url: swarm.webSocketURL + "/ws" + swarm.tokenQuery, logger: swarm.logger) {
                inbound,
                outbound,
                _ in
                swarm.totals.update { $0.connected[.malformed, default: 0] += 1 }
                let sender = Task {
                    var i = 0
                    while WallClock.monotonicNanoseconds() < end {
                        try await outbound.write(.text(Self.garbage[i % Self.garbage.count]))
                        i += 1
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                defer { sender.cancel() }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message {
                        for line in text.split(separator: "\n") where WireScanner(line).type == "error" {
                            swarm.totals.update { $0.serverErrors += 1 }
                        }
                    }
                }
            }
            if let frame { swarm.totals.update { $0.closeCodes[Int(UInt16(webSocketErrorCode: frame.closeCode)), default: 0] += 1 } }
        } catch {
            swarm.totals.error("malformed_" + ErrorName.of(error))
        }
    }
}
