import Clocks
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `leak`: a new keep-alive connection every second, one request each, none ever closed until
/// the run ends (a server without an idle timeout keeps every one of them).
struct LeakClient: SwarmClient {
    let swarm: Swarm

    func run(until end: UInt64) async {
        let symbol = swarm.configuration.symbols[0]
        let host = swarm.host
        let port = swarm.port
        let totals = swarm.totals
        // The poll route: the reference bridge's, or the profile's.
        let path =
            swarm.profileReader?.profile.poll.map { URLTemplate.path(of: URLTemplate.fill($0.url, swarm.placeholders(symbol: symbol))) }
            ?? "/api/live_data/\(symbol)\(swarm.tokenQuery)"
        let opened: Int = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var sockets: [Int32] = []
                var next = WallClock.monotonicNanoseconds()
                while WallClock.monotonicNanoseconds() < end {
                    var answered = false
                    if let fd = RawSocket.connect(host: host, port: port, timeout: 2) {
                        sockets.append(fd)
                        if RawSocket.send(fd, "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: keep-alive\r\n\r\n") {
                            var buffer = [UInt8](repeating: 0, count: 4096)
                            answered = recv(fd, &buffer, buffer.count, 0) > 0
                        }
                    }
                    totals.update {
                        $0.httpRequests += 1
                        if !answered { $0.errors["leak_unanswered", default: 0] += 1 }
                    }
                    next += 1_000_000_000
                    let now = WallClock.monotonicNanoseconds()
                    if next > now { usleep(UInt32(min(next - now, end > now ? end - now : 0) / 1000)) }
                }
                for fd in sockets { close(fd) }
                continuation.resume(returning: sockets.count)
            }
        }
        totals.update { $0.connected[.leak, default: 0] += opened > 0 ? 1 : 0 }
    }
}
