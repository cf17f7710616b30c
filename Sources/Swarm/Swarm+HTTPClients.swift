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

/// The HTTP client kinds: `sse` (an EventSource), `poll` (the old client) and `leak` (a poller
/// that never closes its connections).
extension Swarm {
    /// An EventSource: reconnects after `retry:` with `Last-Event-ID` (``SSEClient``).
    func runSSE(until end: UInt64) async {
        let started = WallClock.nowMicroseconds()
        let client = SSEClientState()
        let sse = SSEClient(
            configuration: .init(
                host: host,
                port: port,
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
                        self.totals.update { $0.sseStatus[status, default: 0] += 1 }
                        guard status == 200, !client.connected else { return }
                        client.connected = true
                        client.connectedAt = WallClock.nowMicroseconds()
                        self.recorder.record("connect", microseconds: client.connectedAt! - started)
                        self.totals.update { $0.connected[.sse, default: 0] += 1 }
                    } onMessage: { received in
                        switch received.kind {
                        case .resumed: self.totals.update { $0.resumesRecovered += 1 }
                        case .notRecovered: self.totals.update { $0.resumesNotRecovered += 1 }
                        default: break
                        }
                        var first = client.firstSnapshot
                        // SSE has no hello: the response head was the moment it connected.
                        var connectedAt: Int64? = client.connectedAt
                        self.observe(received, started: started, firstSnapshot: &first, histogram: "update_sse", connectedAt: &connectedAt)
                        client.firstSnapshot = first
                    }
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { totals.error("sse_" + ErrorName.of(error)) }
            }
            guard WallClock.monotonicNanoseconds() < end else { break }
            try? await Task.sleep(for: .milliseconds(Int64(sse.retrySeconds * 1000)))
        }
        totals.add(trackers: sse.session.trackers)
    }

    /// The old client: a fixed request rate, latency from the *intended* send time (no coordinated
    /// omission: when the bridge stalls, the requests that should have gone out meanwhile all count
    /// the stall), plus the staleness of the data each answer carried.

    /// The old client: a fixed request rate, latency from the *intended* send time (no coordinated
    /// omission: when the bridge stalls, the requests that should have gone out meanwhile all count
    /// the stall), plus the staleness of the data each answer carried.
    func runPoller(index: Int, until end: UInt64) async {
        let token = configuration.token.map { "?token=\($0)" } ?? ""
        await poll(index: index, until: end, host: host) {
            "/api/live_data/\($0)\(token)"
        } observe: { response, _, receivedAt, poller in
            let message = WireScanner(String(buffer: response.body))
            guard let seq = message.seq, seq >= 0 else { return }
            self.recorder.staleness(contract: message.contract, seq: seq, receivedAt: receivedAt)
            let contract = String(message.contract)
            if let seen = poller.seen[contract], seq > seen {
                self.recorder.delivery(contract: message.contract, after: seen, seq: seq, receivedAt: receivedAt)
            }
            if seq > poller.seen[contract, default: -1] { poller.seen[contract] = seq }
        }
    }

    /// A poller's loop, for the reference bridge and for a profiled one: requests at the
    /// configured rate on a keep-alive connection (a new one when the bridge closes it), each
    /// timed from its intended send; `observe` reads a 200 answer (symbol, received at).
    func poll(
        index: Int,
        until end: UInt64,
        host: String,
        path: @escaping @Sendable (String) -> String,
        observe: @escaping @Sendable (HTTPConnection.Response, String, Int64, PollerState) -> Void
    ) async {
        let interval = 1 / configuration.pollRate
        let first = WallClock.monotonicNanoseconds()
        let poller = PollerState()
        while WallClock.monotonicNanoseconds() < end {
            do {
                try await withDeadline(end) {
                    try await HTTPConnection.with(host: host, port: self.port) { connection in
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

    /// A connection leaker: a new keep-alive connection every second, one request each, none ever
    /// closed until the run ends (a server without an idle timeout keeps every one of them).
    func runLeak(until end: UInt64) async {
        let symbol = configuration.symbols[0]
        let token = configuration.token.map { "?token=\($0)" } ?? ""
        let host = self.host == "localhost" ? "127.0.0.1" : self.host
        let port = self.port
        let totals = self.totals
        // The poll route: the reference bridge's, or the profile's.
        let path =
            profileReader?.profile.poll.map { URLTemplate.path(of: URLTemplate.fill($0.url, placeholders(symbol: symbol))) }
            ?? "/api/live_data/\(symbol)\(token)"
        let opened: Int = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var sockets: [Int32] = []
                var next = WallClock.monotonicNanoseconds()
                while WallClock.monotonicNanoseconds() < end {
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    var timeout = timeval(tv_sec: 2, tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_port = in_port_t(UInt16(port).bigEndian)
                    address.sin_addr.s_addr = inet_addr(host)
                    let connected = withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: keep-alive\r\n\r\n".utf8)
                    var answered = false
                    if connected == 0, request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) > 0 {
                        var buffer = [UInt8](repeating: 0, count: 4096)
                        answered = recv(fd, &buffer, buffer.count, 0) > 0
                    }
                    totals.update {
                        $0.httpRequests += 1
                        if !answered { $0.errors["leak_unanswered", default: 0] += 1 }
                    }
                    sockets.append(fd)
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
