import BridgeCore
import BridgeServer
import Foundation
import HummingbirdWSClient
import Logging
import MarketSim
import NIOConcurrencyHelpers
import NIOWebSocket
import SierraFormat
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// All bridge suites run one after another: each starts servers and drives files in real time,
/// and on two cores they would otherwise measure each other.
@Suite(.serialized) struct BridgeSuites {}

/// A message as JSON.
typealias JSON = [String: Any]

func parseJSON(_ text: String) -> JSON {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? JSON ?? [:]
}

struct Timeout: Error, CustomStringConvertible {
    var description: String
}

/// A temporary data folder with a simulator whose clock the test drives.
final class SimulatedFolder: @unchecked Sendable {
    let path: String
    let simulation: Simulation
    private(set) var time = 0.0

    init(roots: [String] = ["NQ", "ES"], rate: Double = 400, flushMilliseconds: Int = 50, script: [ScriptedEvent] = [], seed: UInt64 = 7) throws {
        path = NSTemporaryDirectory() + "bridgelab-bridge-" + UUID().uuidString
        simulation = try Simulation(
            config: SimulationConfig(
                dataDirectory: path,
                roots: roots,
                rate: rate,
                seed: seed,
                flushMilliseconds: flushMilliseconds,
                script: script,
                startUnixMicroseconds: 1_764_599_400_000_000
            )
        )
        try advance(by: 1)
    }

    /// Writes `seconds` of simulated market (flushing on the simulator's schedule), now.
    func advance(by seconds: Double) throws {
        time += seconds
        try simulation.advance(to: time)
        try simulation.finish()
    }

    /// Writes in real time: `steps` slices of `seconds / steps`, pausing between them.
    func stream(seconds: Double, steps: Int) async throws {
        for _ in 0..<steps {
            try advance(by: seconds / Double(steps))
            try await Task.sleep(for: .milliseconds(Int64(seconds / Double(steps) * 1000)))
        }
    }

    func records(_ contract: String) throws -> [IntradayRecord] {
        try IntradayFormat.readFile(atPath: path + "/" + contract + ".scid").records
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A bridge running in this process on a free loopback port.
final class TestBridge: Sendable {
    let app: BridgeApplication
    let port: Int
    private let task: Task<Void, any Error>

    static func start(_ configuration: BridgeConfiguration) async throws -> TestBridge {
        var logger = Logger(label: "test-bridge")
        logger.logLevel = .warning
        let app = try BridgeApplication(configuration: configuration, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await app.run(handleSignals: false) { port in continuation.yield(port) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw Timeout(description: "bridge did not start") }
        return TestBridge(app: app, port: port, task: task)
    }

    private init(app: BridgeApplication, port: Int, task: Task<Void, any Error>) {
        self.app = app
        self.port = port
        self.task = task
    }

    var ws: String { "ws://127.0.0.1:\(port)" }

    func stop() async {
        await app.shutdown()
        _ = try? await task.value
    }
}

/// A real WebSocket client (HummingbirdWSClient) that collects what it receives.
final class TestWSClient: Sendable {
    private struct Inbox {
        var messages: [String] = []
        var read = 0
        var finished = false
        var closeCode: Int?
    }

    private let inbox = NIOLockedValueBox(Inbox())
    private let outbound = NIOLockedValueBox<WebSocketOutboundWriter?>(nil)
    private let task: Task<Void, Never>

    /// Connects; `read: false` makes a client that never reads what it is sent.
    init(url: String, read: Bool = true) async throws {
        let (ready, readyContinuation) = AsyncStream<Bool>.makeStream()
        let inbox = self.inbox
        let outbound = self.outbound
        var logger = Logger(label: "test-ws-client")
        logger.logLevel = .critical
        task = Task {
            var code: Int?
            do {
                let frame = try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 22), logger: logger) {
                    inbound,
                    writer,
                    _ in
                    outbound.withLockedValue { $0 = writer }
                    readyContinuation.yield(true)
                    guard read else {
                        try await Task.sleep(for: .seconds(3600))
                        return
                    }
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        // A frame carries one or more messages, one per line.
                        if case .text(let text) = message {
                            inbox.withLockedValue { $0.messages += text.split(separator: "\n").map(String.init) }
                        }
                    }
                }
                code = frame.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) } ?? 1005
            } catch {
                code = -1
            }
            readyContinuation.yield(false)
            inbox.withLockedValue {
                $0.finished = true
                $0.closeCode = code
            }
        }
        var readyIterator = ready.makeAsyncIterator()
        guard await readyIterator.next() == true else { throw Timeout(description: "WebSocket connect to \(url) failed") }
    }

    func send(_ object: JSON) async throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try await send(String(decoding: data, as: UTF8.self))
    }

    func send(_ text: String) async throws {
        guard let writer = outbound.withLockedValue({ $0 }) else { throw Timeout(description: "not connected") }
        try await writer.write(.text(text))
    }

    /// The next message, or nil when the connection closed.
    func next(timeout: Double = 5) async throws -> JSON? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let (text, finished): (String?, Bool) = inbox.withLockedValue { box in
                if box.read < box.messages.count {
                    box.read += 1
                    return (box.messages[box.read - 1], false)
                }
                return (nil, box.finished)
            }
            if let text { return parseJSON(text) }
            if finished { return nil }
            guard Date() < deadline else { throw Timeout(description: "no message within \(timeout) s") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Reads until a message of `type` arrives; returns it and everything before it.
    func until(_ type: String, timeout: Double = 5) async throws -> (match: JSON, before: [JSON]) {
        var before: [JSON] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            guard let message = try await next(timeout: max(0, deadline.timeIntervalSinceNow)) else { break }
            if message["type"] as? String == type { return (message, before) }
            before.append(message)
        }
        throw Timeout(description: "connection closed before a \(type); got \(before.map { $0["type"] ?? "?" })")
    }

    /// Messages of `type` until `count` of them arrived.
    func collect(_ type: String, count: Int, timeout: Double = 10) async throws -> [JSON] {
        var result: [JSON] = []
        let deadline = Date().addingTimeInterval(timeout)
        while result.count < count {
            // Stops at the deadline and returns what came (tests that expect nothing rely on it).
            guard let message = try? await next(timeout: max(0, deadline.timeIntervalSinceNow)) else { break }
            if message["type"] as? String == type { result.append(message) }
        }
        return result
    }

    /// Waits for the connection to end; the close code the server sent. (A wait, not a speed
    /// check: generous, because a loaded test run can hold a close handshake for seconds.)
    func closed(timeout: Double = 20) async throws -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let (finished, code) = inbox.withLockedValue { ($0.finished, $0.closeCode) }
            if finished { return code }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw Timeout(description: "connection still open after \(timeout) s")
    }

    func close() async {
        if let writer = outbound.withLockedValue({ $0 }) { try? await writer.close(.normalClosure, reason: nil) }
        task.cancel()
    }
}

/// Runs blocking socket work on a thread of its own, off the Swift concurrency pool (and off
/// Dispatch's, which may run only a core's worth of blocked work at once).
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// A test bridge's configuration: loopback, a free port, a quick safety poll.
func settings(_ folder: String, _ configure: (inout BridgeConfiguration) -> Void = { _ in }) -> BridgeConfiguration {
    var configuration = BridgeConfiguration(dataDirectory: folder)
    configuration.port = 0
    configuration.watch = .events(safetyPollMilliseconds: 100)
    configure(&configuration)
    return configuration
}

/// Starts a bridge, runs `body`, and always stops the bridge.
func withBridge(_ folder: String, _ body: (TestBridge) async throws -> Void) async throws {
    try await withBridge(settings(folder), body)
}

func withBridge(_ configuration: BridgeConfiguration, _ body: (TestBridge) async throws -> Void) async throws {
    let bridge = try await TestBridge.start(configuration)
    do {
        try await body(bridge)
    } catch {
        await bridge.stop()
        throw error
    }
    await bridge.stop()
}

/// A TCP socket connected to 127.0.0.1:`port` (a blocking connect). `prepare` sets options that
/// must come before the connect (a receive buffer size).
func connectLoopback(port: Int, prepare: (Int32) -> Void = { _ in }) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    prepare(fd)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        let error = errno
        close(fd)
        throw Timeout(description: "connect to 127.0.0.1:\(port) failed: errno \(error)")
    }
    return fd
}

/// Minimal HTTP over a raw socket: what a test needs to see statuses, headers and streamed bodies
/// exactly as they go over the wire.
final class RawHTTP: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, receiveBuffer: Int? = nil) throws {
        fd = try connectLoopback(port: port) { fd in
            guard var size = receiveBuffer.map(Int32.init) else { return }
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) {
        send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) {
        var bytes = bytes
        _ = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func request(_ path: String, headers: [String: String] = [:], close: Bool = true) {
        var text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if close { text += "Connection: close\r\n" }
        send(text + "\r\n")
    }

    enum Fill { case data, end, timeout }

    /// One `recv` (which waits at most 100 ms).
    private func fill() -> Fill {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffer += chunk[0..<n]
            return .data
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? .timeout : .end
    }

    /// Reads the status line and headers.
    func head(timeout: Double = 5) throws -> (status: Int, headers: [String: String]) {
        let deadline = Date().addingTimeInterval(timeout)
        let separator = Array("\r\n\r\n".utf8)
        while true {
            if let range = buffer.firstRange(of: separator) {
                let text = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<range.upperBound)
                let lines = text.components(separatedBy: "\r\n")
                let status = Int(lines[0].split(separator: " ")[1]) ?? 0
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    if let colon = line.firstIndex(of: ":") {
                        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                }
                return (status, headers)
            }
            guard Date() < deadline, fill() != .end else { throw Timeout(description: "no HTTP response head") }
        }
    }

    /// Exactly `count` more bytes.
    func bytes(_ count: Int, timeout: Double = 5) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        while buffer.count < count {
            guard Date() < deadline, fill() != .end else { throw Timeout(description: "\(buffer.count) of \(count) bytes") }
        }
        defer { buffer.removeSubrange(..<count) }
        return Array(buffer[..<count])
    }

    /// Whether the peer closes its side (end of stream) within `seconds`; bytes read meanwhile are
    /// kept.
    func ends(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if fill() == .end { return true }
        }
        return false
    }

    /// The rest of a `Connection: close` response (chunked or not), decoded.
    func body(headers: [String: String], timeout: Double = 10) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, fill() != .end {}
        if headers["transfer-encoding"] == "chunked" { return String(decoding: dechunk(), as: UTF8.self) }
        return String(decoding: buffer, as: UTF8.self)
    }

    private var dechunked: [UInt8] = []

    /// Decodes whatever complete chunks are buffered.
    private func dechunk() -> [UInt8] {
        let crlf = Array("\r\n".utf8)
        while let line = buffer.firstRange(of: crlf) {
            let sizeText = String(decoding: buffer[..<line.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { break }
            let start = line.upperBound
            guard buffer.count >= start + size + 2 else { break }
            dechunked += buffer[start..<(start + size)]
            buffer.removeSubrange(..<(start + size + 2))
            if size == 0 { break }
        }
        return dechunked
    }

    /// The next SSE event from a chunked event stream (fields by name; comments as ":" ).
    func nextEvent(timeout: Double = 5) throws -> [String: String] {
        let deadline = Date().addingTimeInterval(timeout)
        let separator = Array("\n\n".utf8)
        while Date() < deadline {
            _ = dechunk()
            if let range = dechunked.firstRange(of: separator) {
                let text = String(decoding: dechunked[..<range.lowerBound], as: UTF8.self)
                dechunked.removeSubrange(..<range.upperBound)
                var fields: [String: String] = [:]
                for line in text.split(separator: "\n") {
                    if line.hasPrefix(":") {
                        fields[":"] = String(line)
                    } else if let colon = line.firstIndex(of: ":") {
                        fields[String(line[..<colon])] = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
                    }
                }
                return fields
            }
            if fill() == .end { throw Timeout(description: "SSE stream ended") }
        }
        throw Timeout(description: "no SSE event within \(timeout) s")
    }

    /// Every event that arrives within `seconds`.
    func events(for seconds: Double) -> [[String: String]] {
        let deadline = Date().addingTimeInterval(seconds)
        var events: [[String: String]] = []
        while let event = try? nextEvent(timeout: max(0, deadline.timeIntervalSinceNow)) { events.append(event) }
        return events
    }

    /// GET on a thread of its own (never block the concurrency pool the bridge under test needs).
    static func fetch(
        port: Int,
        _ path: String,
        headers: [String: String] = [:]
    ) async throws -> (status: Int, headers: [String: String], body: String) {
        try await blocking { try get(port: port, path, headers: headers) }
    }

    /// GET and read the whole response.
    static func get(port: Int, _ path: String, headers: [String: String] = [:]) throws -> (status: Int, headers: [String: String], body: String) {
        let connection = try RawHTTP(port: port)
        connection.request(path, headers: headers)
        let (status, responseHeaders) = try connection.head()
        return (status, responseHeaders, connection.body(headers: responseHeaders))
    }
}

/// The file's trades after `seq`, as (seq, record).
func trades(in records: [IntradayRecord], after seq: Int) -> [(Int, IntradayRecord)] {
    records.enumerated().filter { $0.offset > seq && $0.element.isTrade }.map { ($0.offset, $0.element) }
}

/// Checks trade messages against the file's records, one by one.
func expectTrades(_ messages: [JSON], match records: [IntradayRecord], after seq: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = trades(in: records, after: seq)
    #expect(messages.count == expected.count, "\(messages.count) trades received, \(expected.count) in the file", sourceLocation: sourceLocation)
    var previous = records.enumerated().last { $0.offset <= seq && $0.element.isTrade }?.offset ?? -1
    for (message, (index, record)) in zip(messages, expected) {
        #expect(message["seq"] as? Int == index, sourceLocation: sourceLocation)
        #expect(message["prev"] as? Int == previous, sourceLocation: sourceLocation)
        #expect((message["price"] as? NSNumber)?.floatValue == record.close, sourceLocation: sourceLocation)
        #expect((message["size"] as? Int).map(UInt32.init) == record.totalVolume, sourceLocation: sourceLocation)
        #expect(message["side"] as? String == record.tradeSide.rawValue, sourceLocation: sourceLocation)
        #expect((message["t"] as? NSNumber)?.int64Value == record.dateTime.unixMicroseconds, sourceLocation: sourceLocation)
        previous = index
    }
}
