import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOWebSocket

/// A real WebSocket client (HummingbirdWSClient) that collects what it receives.
public final class TestWSClient: Sendable {
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
    public init(url: String, read: Bool = true) async throws {
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

    public func send(_ object: JSON) async throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try await send(String(decoding: data, as: UTF8.self))
    }

    public func send(_ text: String) async throws {
        guard let writer = outbound.withLockedValue({ $0 }) else { throw Timeout(description: "not connected") }
        try await writer.write(.text(text))
    }

    /// The next message, or nil when the connection closed.
    public func next(timeout: Double = 5) async throws -> JSON? {
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
    public func until(_ type: String, timeout: Double = 5) async throws -> (match: JSON, before: [JSON]) {
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
    public func collect(_ type: String, count: Int, timeout: Double = 10) async throws -> [JSON] {
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
    public func closed(timeout: Double = 20) async throws -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let (finished, code) = inbox.withLockedValue { ($0.finished, $0.closeCode) }
            if finished { return code }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw Timeout(description: "connection still open after \(timeout) s")
    }

    public func close() async {
        if let writer = outbound.withLockedValue({ $0 }) { try? await writer.close(.normalClosure, reason: nil) }
        task.cancel()
    }
}
