import BridgeWire
import Clocks
import SierraFormat

extension MarketHub {
    /// Sends what is due at `now` (monotonic ns) that no file change will bring — held updates'
    /// latest full state at their rate cap's tick, and the bars a quiet market's clock has passed —
    /// then says when (monotonic ns) the next such thing is due: the watcher sleeps no longer than
    /// that. Nil: nothing waits (no timer runs). One lock for both, once per wake-up.
    @discardableResult
    public func fireTimers(now: UInt64 = WallClock.monotonicNanoseconds()) -> UInt64? {
        lock.withLock {
            // Caps of one rate tick together: each contract's channel is encoded once for all.
            var encoded: [ClientOutbox.SlotKey: OutboundMessage] = [:]
            for (id, held) in heldCaps {
                for (contract, channel) in held.cap.takeDue(now: now) {
                    guard let feed = feeds[contract] else { continue }
                    let key = ClientOutbox.SlotKey(contract: contract, channel: channel)
                    let message = encoded[key] ?? fullMessage(channel, of: feed)
                    encoded[key] = message
                    held.outbox.enqueue(message, channel: channel)
                }
                if !held.cap.isHolding { heldCaps[id] = nil }
            }
            var next = heldCaps.values.compactMap(\.cap.nextDue).min()
            // Bars close on the clock only while someone follows them.
            guard table.barCount > 0 else { return next }
            let grace = configuration.barCloseGraceMicroseconds
            var slow: [ClientOutbox] = []
            for feed in feeds.values {
                let closed = feed.closeBars(now: now, grace: grace)
                if !closed.isEmpty {
                    let targets = subscribers(of: feed)
                    for bar in closed { slow += fanOutBar(bar, feed, targets) }
                }
                if let close = feed.nextBarClose(grace: grace) { next = min(next ?? close, close) }
            }
            for outbox in slow { dropLocked(outbox.id, reason: "slow_consumer") }
            return next
        }
    }
}
