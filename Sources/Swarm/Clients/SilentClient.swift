import Clocks
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The clients that stop reading: `stuck` (subscribed through `/ws/live_data/{symbol}`, never
/// reading, with a 4 KB receive buffer) and `vanish` (a WebSocket handshake, then silence: a
/// half-open connection). They hold their socket until the run ends.
struct SilentClient: SwarmClient {
    let swarm: Swarm
    let kind: ClientKind

    func run(until end: UInt64) async {
        let path = (kind == .stuck ? "/ws/live_data/\(swarm.configuration.symbols[0])" : "/ws") + swarm.tokenQuery
        let host = swarm.host
        let port = swarm.port
        let ok: Bool = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let fd = RawSocket.connect(host: host, port: port, receiveBuffer: 4096)
                let request =
                    "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                continuation.resume(returning: fd.map { RawSocket.send($0, request) } ?? false)
                // Hold the socket open, reading nothing, until the run ends.
                while WallClock.monotonicNanoseconds() < end { usleep(50_000) }
                if let fd { close(fd) }
            }
        }
        swarm.totals.update { if ok { $0.connected[kind, default: 0] += 1 } }
        if !ok { swarm.totals.error("\(kind.rawValue)_connect") }
        try? await Swarm.sleep(until: end)
    }
}
