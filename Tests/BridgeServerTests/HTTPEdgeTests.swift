import BridgeTesting
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import BridgeServer

/// A raw TCP connection to the bridge: bytes in, and what came back until the bridge closed it.
struct RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = try connectLoopback(port: port)
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// Everything received until the peer closes, and how long that took; nil if still open at `timeout`.
    func readUntilClosed(timeout: Double) -> (text: String, seconds: Double)? {
        let start = Date()
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while Date().timeIntervalSince(start) < timeout {
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&poll, 1, 50) > 0 else { continue }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return (String(decoding: received, as: UTF8.self), Date().timeIntervalSince(start)) }
            received += buffer[0..<count]
        }
        return nil
    }

    func close() { Glibc.close(fd) }
}

extension BridgeSuites {
    @Suite("HTTP edge: malformed requests, header timeout, connection flood")
    struct HTTPEdgeTests {
        static let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03] + [UInt8](repeating: 0x42, count: 32)

        @Test(
            "a malformed request gets its status and the connection is closed within a second",
            arguments: [
                ("100 KB header", Array("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n".utf8), 431),
                ("HTTP/9.9", Array("GET /health HTTP/9.9\r\nHost: x\r\n\r\n".utf8), 505),
                ("TLS ClientHello", clientHello, 400),
                (
                    "Content-Length and Transfer-Encoding",
                    Array("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8), 400
                ),
                ("binary garbage", [0x00, 0x01, 0x02, 0xFF, 0x0D, 0x0A, 0x0D, 0x0A], 400),
            ] as [(String, [UInt8], Int)]
        )
        func malformed(name: String, request: [UInt8], status: Int) async throws {
            for mode in [BridgeMode.event, .pollingNaive] {
                let folder = try SimulatedFolder(roots: ["NQ"])
                defer { folder.cleanup() }
                // A long idle timeout: a connection closed before it was closed for the bad request,
                // not for idling (a behaviour, not a speed: no tight bound on a loaded machine).
                try await withBridge(
                    settings(folder.path) {
                        $0.mode = mode
                        $0.httpIdleTimeoutSeconds = 60
                    }
                ) { bridge in
                    let answer = try await blocking { () -> (text: String, seconds: Double)? in
                        let connection = try RawConnection(port: bridge.port)
                        defer { connection.close() }
                        connection.send(request)
                        return connection.readUntilClosed(timeout: 20)
                    }
                    let closed = try #require(answer, "\(name), \(mode): still open after 20 s")
                    #expect(closed.text.hasPrefix("HTTP/1.1 \(status)"), "\(name), \(mode): \(closed.text.prefix(80))")
                    #expect(try await RawHTTP.fetch(port: bridge.port, "/health").status == 200)
                }
            }
        }

        @Test("the first-request guard: what waits, what passes, what is refused")
        func guardVerdicts() {
            func judge(_ text: String) -> FirstRequestGuard.Verdict { FirstRequestGuard.judge(Array(text.utf8), maxHeadBytes: 1_000) }
            #expect(judge("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n") == .incomplete)
            #expect(judge("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n") == .complete)
            #expect(judge("\r\n\r\nGET / HTTP/1.0\r\n\r\n") == .complete)
            #expect(judge("GE") == .incomplete)
            #expect(judge("GET / HTTP/2.0\r\n") == .refuse("505 HTTP Version Not Supported"))
            #expect(judge("get / HTTP/1.1\r\n") == .refuse("400 Bad Request"))
            #expect(judge("GET /\u{01} HTTP/1.1") == .refuse("400 Bad Request"))
            #expect(judge("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 2_000)) == .refuse("431 Request Header Fields Too Large"))
        }

        @Test("a request whose head never completes is closed after the idle timeout")
        func headerTimeout() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.httpIdleTimeoutSeconds = 1 }) { bridge in
                let answer = try await blocking { () -> (text: String, seconds: Double)? in
                    let connection = try RawConnection(port: bridge.port)
                    defer { connection.close() }
                    connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8))
                    return connection.readUntilClosed(timeout: 5)
                }
                let closed = try #require(answer, "a half-sent request kept its connection for 5 s")
                // Not before the timeout (a lower bound holds however loaded the machine is).
                #expect(closed.seconds >= 0.9, "closed after \(closed.seconds) s")
            }
        }

        @Test("under a flood of 3,000 idle TCP connects /health keeps answering and a subscriber keeps receiving")
        func connectionFlood() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400)
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.maxConnections = 10_000 }) { bridge in
                let client = try await TestWSClient(url: bridge.ws + "/ws/live_data/NQ")
                defer { Task { await client.close() } }
                _ = try await client.until("snapshot")
                let flood = try await blocking { () -> [Int32] in
                    (0..<3_000).compactMap { _ in (try? RawConnection(port: bridge.port))?.fd }
                }
                defer { for fd in flood { close(fd) } }
                #expect(flood.count == 3_000)
                // While they sit there: probes answer, trades keep coming. How fast they answer is a
                // figure for the idle reports, not a bound here: a loaded machine fails such bounds
                // at random.
                let writer = Task { try await folder.stream(seconds: 2, steps: 20) }
                for _ in 0..<5 {
                    #expect(try await RawHTTP.fetch(port: bridge.port, "/health").status == 200)
                    try await Task.sleep(for: .milliseconds(300))
                }
                _ = try await writer.value
                let trades = try await client.collect("trade", count: 20, timeout: 10)
                #expect(trades.count == 20)
            }
        }
    }
}
