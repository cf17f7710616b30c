import NIOConcurrencyHelpers
import NIOCore

/// A `text/event-stream` read as a browser's `EventSource` reads it: each event's `id` kept and
/// sent back as `Last-Event-ID` on the next connection, and the `retry:` the server asks for kept
/// as the delay before reconnecting. ``connect(answered:onEvent:)`` is one connection; the caller
/// owns the loop around it (its deadline, its wait of ``retrySeconds``).
public final class EventSource: Sendable {
    /// The server answered with a status other than 200.
    public struct Refused: Error, CustomStringConvertible {
        public var status: Int
        public var description: String { "SSE answered \(status)" }
        public init(status: Int) { self.status = status }
    }

    private struct State {
        var lastEventID: String?
        var retrySeconds = 2.0
    }

    public let host: String
    public let port: Int
    /// The path and query.
    public let path: String
    private let state = NIOLockedValueBox(State())

    public init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    /// The id of the last event read: where the next connection resumes.
    public var lastEventID: String? { state.withLockedValue { $0.lastEventID } }
    /// How long to wait before connecting again (the server's `retry:`, 2 s until it says).
    public var retrySeconds: Double { state.withLockedValue { $0.retrySeconds } }

    /// One connection: the request (with `Last-Event-ID` once an event had an id), the answer's
    /// status given to `answered`, then every event given to `onEvent` until the stream ends.
    /// Throws ``Refused`` on a status other than 200, or the connection's error.
    public func connect(answered: (Int) -> Void = { _ in }, onEvent: (SSEParser.Event) -> Void) async throws {
        try await HTTPConnection.with(host: host, port: port) { connection in
            try await connection.send(path, headers: lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
            let head = try await connection.head()
            answered(Int(head.status.code))
            guard head.status == .ok else { throw Refused(status: Int(head.status.code)) }
            var parser = SSEParser()
            while let chunk = try await connection.chunk() {
                for event in parser.feed(chunk) {
                    state.withLockedValue { s in
                        if let id = event.id { s.lastEventID = id }
                        if let value = event.retry { s.retrySeconds = value / 1000 }
                    }
                    onEvent(event)
                }
            }
        }
    }
}
