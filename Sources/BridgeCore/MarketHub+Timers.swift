import BridgeWire
import Clocks
import SierraFormat

extension MarketHub {
    /// When (monotonic ns) the hub next has something to send that no file change will bring: a
    /// rate-capped update held until its interval ends, or a bar a quiet market has not closed.
    /// The watcher sleeps no longer than this. Nil: nothing waits (no timer runs).
    public func nextDeadline() -> UInt64? {
        lock.withLock {
            var next = heldCaps.values.compactMap(\.cap.nextDue).min()
            if table.barCount > 0 {
                let grace = configuration.barCloseGraceMicroseconds
                for feed in feeds.values {
                    if let close = feed.nextBarClose(grace: grace) { next = min(next ?? close, close) }
                }
            }
            return next
        }
    }

    /// Sends what is due at `now` (monotonic ns): held updates' latest full state, and the bars
    /// the data's clock has passed.
    public func fireTimers(now: UInt64 = WallClock.monotonicNanoseconds()) {
        lock.withLock {
            // Caps of one rate tick together: each contract's channel is encoded once for all.
            var encoded: [String: [OutboundMessage?]] = [:]
            for (id, held) in heldCaps {
                for (contract, channel) in held.cap.takeDue(now: now) {
                    guard let feed = feeds[contract] else { continue }
                    let slot = channel == .quotes ? 0 : channel == .depth ? 1 : 2
                    var messages = encoded[contract] ?? [nil, nil, nil]
                    let message = messages[slot] ?? fullMessage(channel, of: feed)
                    messages[slot] = message
                    encoded[contract] = messages
                    held.outbox.enqueue(message, channel: channel)
                }
                if !held.cap.isHolding { heldCaps[id] = nil }
            }
            guard table.barCount > 0 else { return }
            var slow: [ClientOutbox] = []
            for feed in feeds.values {
                let closed = feed.closeBars(now: now, grace: configuration.barCloseGraceMicroseconds)
                guard !closed.isEmpty else { continue }
                let targets = subscribers(of: feed)
                for bar in closed { slow += fanOutBar(bar, feed, targets) }
            }
            for outbox in slow { dropLocked(outbox.id, reason: "slow_consumer") }
        }
    }
}
