import BridgeWire
import Clocks
import Foundation
import NIOCore
import SierraFormat

/// The client's HTTP fallback: `/api/live_data` for every symbol while the WebSocket is refused,
/// keeping the local view fresh until the WebSocket comes back.
extension BridgeClient {
    /// HTTP polling while the WebSocket is unavailable.
    func poll(for seconds: Double) async {
        state.withLockedValue { $0.polling = true }
        let deadline = WallClock.monotonicNanoseconds() + UInt64(seconds * 1e9)
        let token = configuration.token
        do {
            try await HTTPConnection.with(host: configuration.host, port: configuration.port) { connection in
                while WallClock.monotonicNanoseconds() < deadline, !stopped {
                    for symbol in configuration.symbols {
                        let response = try await connection.get("/api/live_data/\(symbol)" + (token.map { "?token=\($0)" } ?? ""))
                        let receivedAt = WallClock.nowMicroseconds()
                        let text = String(buffer: response.body)
                        let message = WireScanner(text)
                        state.withLockedValue { s in
                            s.session.statistics.pollRequests += 1
                            guard response.status == 200 else {
                                s.session.statistics.errors["http_\(response.status)", default: 0] += 1
                                return
                            }
                            s.session.applyPoll(symbol: symbol, snapshot: message, receivedAt: receivedAt)
                        }
                    }
                    try await Task.sleep(for: .milliseconds(Int64(configuration.pollInterval * 1000)))
                }
            }
        } catch {
            state.withLockedValue { $0.session.statistics.errors["poll_" + ErrorName.of(error), default: 0] += 1 }
            try? await Task.sleep(for: .milliseconds(Int64(configuration.pollInterval * 1000)))
        }
    }
}
