import BridgeWire
import Clocks
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The bridge's `/sse` stream, read through an ``EventSource`` (so it resumes from the last
/// event's id after a reconnect), with every message applied to a ``ClientSession`` (positions,
/// gaps, views): the WebSocket client's bookkeeping, over HTTP. ``connect(answered:onMessage:)``
/// is one connection; the caller owns the loop around it, as loadgen's `sse` kind does.
public final class SSEClient: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var symbols: [String]
        public var channels: [String]
        /// `?max_rate=`: at most this many messages a second per contract on each state channel.
        public var maxRate: Double?
        public var token: String?

        public init(host: String, port: Int, symbols: [String], channels: [String], maxRate: Double? = nil, token: String? = nil) {
            self.host = host
            self.port = port
            self.symbols = symbols
            self.channels = channels
            self.maxRate = maxRate
            self.token = token
        }

        /// `/sse?symbols=…&channels=…` (docs/PROTOCOL.md).
        public var path: String {
            "/sse?symbols=\(symbols.joined(separator: ","))&channels=\(channels.joined(separator: ","))"
                + (maxRate.map { "&max_rate=\($0)" } ?? "") + (token.map { "&token=\($0)" } ?? "")
        }
    }

    public let configuration: Configuration
    public let events: EventSource
    private let state = NIOLockedValueBox(ClientSession())

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.events = EventSource(host: configuration.host, port: configuration.port, path: configuration.path)
    }

    public var session: ClientSession { state.withLockedValue { $0 } }
    /// The id of the last event read: where the next connection resumes.
    public var lastEventID: String? { events.lastEventID }
    /// How long to wait before connecting again.
    public var retrySeconds: Double { events.retrySeconds }

    /// One connection: its status to `answered`, then each message applied and given to
    /// `onMessage` until the stream ends. Throws ``EventSource/Refused`` on a status other than 200.
    public func connect(answered: (Int) -> Void = { _ in }, onMessage: (ReceivedMessage) -> Void) async throws {
        try await events.connect(answered: answered) { event in
            if let received = apply(event) { onMessage(received) }
        }
    }

    /// Applies one event; the message it carried, if any.
    func apply(_ event: SSEParser.Event) -> ReceivedMessage? {
        guard let data = event.data else { return nil }
        let receivedAt = WallClock.nowMicroseconds()
        let message = WireScanner(data)
        let verdict = state.withLockedValue { $0.apply(message, text: data[...], receivedAt: receivedAt) }
        return ReceivedMessage(message, receivedAt: receivedAt, bytes: data.utf8.count, verdict: verdict)
    }
}
