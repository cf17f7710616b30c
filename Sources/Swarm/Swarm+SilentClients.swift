import BridgeClient
import BridgeWire
import Clocks
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// The clients that stop reading: `stuck` (subscribed, never reading) and `vanish` (handshake,
/// then silence).
extension Swarm {
    /// `stuck`: subscribed and never reading. `vanish`: handshake, then silence (half-open).
    func runSilent(kind: ClientKind, until end: UInt64) async {
        let symbol = configuration.symbols[0]
        let path = kind == .stuck ? "/ws/live_data/\(symbol)" : "/ws"
        let token = configuration.token.map { "?token=\($0)" } ?? ""
        let host = self.host
        let port = self.port
        let ok: Bool = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var size: Int32 = 4096
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr(host == "localhost" ? "127.0.0.1" : host)
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                var request = Array(
                    "GET \(path)\(token) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                        .utf8
                )
                let sent = connected == 0 && request.withUnsafeMutableBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } > 0
                continuation.resume(returning: sent)
                // Hold the socket open, reading nothing, until the run ends.
                while WallClock.monotonicNanoseconds() < end { usleep(50_000) }
                close(fd)
            }
        }
        totals.update { if ok { $0.connected[kind, default: 0] += 1 } }
        if !ok { totals.error("\(kind.rawValue)_connect") }
        try? await Self.sleep(until: end)
    }
}
