import BridgeWire
import Clocks
import Foundation
import NIOCore
import SierraFormat

/// What the client sends and how it reads what it gets: the subscribe with its resume points, and
/// each message applied to the local state (trackers, views, bar positions).
extension BridgeClient {
    /// `subscribe`, with a resume point for every symbol already followed.
    func subscribeMessage() -> String {
        let request = state.withLockedValue {
            $0.session.subscribeRequest(symbols: configuration.symbols, channels: configuration.channels, maxRate: configuration.maxRate)
        }
        let data = (try? JSONEncoder().encode(request)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Applies the messages of one text frame of connection attempt `attempt` (the frame, or one
    /// message per line when batches were asked for), each then given to `each`; false, with the
    /// rest left alone, once that attempt is over or the client stopped.
    @discardableResult
    func applyFrame(_ data: ByteBuffer, attempt: Int, _ each: (ReceivedMessage) -> Void = { _ in }) -> Bool {
        let text = String(buffer: data)
        guard configuration.batchFrames else {
            guard let received = apply(text[...], attempt: attempt) else { return false }
            each(received)
            return true
        }
        for line in text.split(separator: "\n") {
            guard let received = apply(line, attempt: attempt) else { return false }
            each(received)
        }
        return true
    }

    /// Applies one message to the client's session and tells `onMessage`; nil (nothing applied)
    /// if attempt `attempt` is no longer current or the client stopped. It also notes the
    /// connection was heard from: one lock per message.
    func apply(_ text: Substring, attempt: Int) -> ReceivedMessage? {
        let receivedAt = WallClock.nowMicroseconds()
        let message = WireScanner(text)
        let verdict = state.withLockedValue { s -> ContractTracker.TradeVerdict?? in
            guard s.attempt == attempt, !s.stopped else { return .none }
            s.lastHeard = WallClock.monotonicNanoseconds()
            return .some(s.session.apply(message, text: text, receivedAt: receivedAt))
        }
        guard let verdict else { return nil }
        let received = ReceivedMessage(message, receivedAt: receivedAt, bytes: text.utf8.count, verdict: verdict)
        onMessage?(received)
        return received
    }
}
