import Foundation
import Lab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The request-cost probe against a tiny HTTP server of the test's own (a thread answering each
/// connection with one 200 and closing it), and against a port nobody listens on.
@Suite("RequestCostProbe: answer times and CPU per request")
struct RequestCostProbeTests {
    /// A loopback listener answering `count` connections, then closing.
    static func server(answering count: Int) -> (port: Int, thread: Thread) {
        let server = LoopbackListener(backlog: 64)
        let listener = server.fd
        let port = server.port
        let thread = Thread {
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".utf8)
            var buffer = [UInt8](repeating: 0, count: 4096)
            for _ in 0..<count {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { break }
                _ = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(connection)
            }
            close(listener)
        }
        thread.start()
        return (port, thread)
    }

    @Test("every request answered and timed; the CPU read is that of the process named (here, this one)")
    func answered() async throws {
        let (port, _) = Self.server(answering: 40 * RequestCostProbe.rounds)
        let cost = await RequestCostProbe(port: port, path: "/health", requests: 40).measure(pid: getpid(), openConnections: 7)
        #expect(cost.requests == 40 * RequestCostProbe.rounds)
        #expect(cost.failures == 0)
        #expect(cost.answer.count == 40 * RequestCostProbe.rounds)
        #expect(cost.rounds.count == RequestCostProbe.rounds)
        #expect((cost.answer.p50 ?? 0) > 0)
        #expect(cost.openConnections == 7)
        #expect(cost.seconds > 0)
        let cpu = try #require(cost.cpuMicrosecondsPerRequest)
        #expect(cpu.isFinite && cpu >= 0)
        #expect(cost.backgroundPercent != nil)
    }

    @Test("a port nobody listens on: every request counted as failed, none timed")
    func refused() async throws {
        let (port, thread) = Self.server(answering: 0)
        while !thread.isFinished { try await Task.sleep(for: .milliseconds(10)) }
        let cost = await RequestCostProbe(port: port, path: "/health", requests: 10).measure(pid: getpid(), openConnections: 0)
        #expect(cost.failures == 10 * RequestCostProbe.rounds)
        #expect(cost.answer.count == 0)
    }
}
