import BridgeWire

/// A subscription's `max_rate`: at most one message per interval per contract on each state
/// channel (quotes, depth, stats). Each message is the channel's latest *full* state (a client
/// that wants the state N times a second wants it whole, as a poller's answer is); an update
/// inside the interval is held, not queued, and when the interval ends the hub's timer sends the
/// latest state, so what the client holds is never older than one interval. Trades and bars are
/// never capped.
///
/// Not thread-safe: the hub uses it under its lock.
final class RateCap {
    let rate: Double
    /// Nanoseconds between two messages of one channel.
    let interval: UInt64

    /// One contract's state channels: when each last sent, and which hold an update not sent.
    private struct Slots {
        var lastSent: [UInt64] = [0, 0, 0]
        var held = ChannelSet()
    }

    private var contracts: [String: Slots] = [:]

    init(rate: Double) {
        self.rate = rate
        self.interval = UInt64(1e9 / rate)
    }

    private static func slot(_ channel: MarketChannel) -> Int {
        switch channel {
        case .quotes: return 0
        case .depth: return 1
        default: return 2
        }
    }

    /// Whether an update of `channel` for `contract` at `now` (monotonic ns) goes out now (as the
    /// latest state); false: it is held for the timer.
    func admit(contract: String, channel: MarketChannel, now: UInt64) -> Bool {
        let slot = Self.slot(channel)
        let bit = ChannelSet(channel)
        var slots = contracts[contract] ?? Slots()
        defer { contracts[contract] = slots }
        guard slots.lastSent[slot] == 0 || now &- slots.lastSent[slot] >= interval else {
            slots.held.insert(bit)
            return false
        }
        slots.lastSent[slot] = now
        slots.held.remove(bit)
        return true
    }

    /// Whether an update is held.
    var isHolding: Bool { contracts.values.contains { !$0.held.isEmpty } }

    /// When (monotonic ns) the first held update is due.
    var nextDue: UInt64? {
        var due: UInt64?
        for slots in contracts.values where !slots.held.isEmpty {
            for channel in slots.held.channels {
                let at = slots.lastSent[Self.slot(channel)] &+ interval
                due = min(due ?? at, at)
            }
        }
        return due
    }

    /// The held updates due at `now`, marked sent: the caller sends each one's full state.
    func takeDue(now: UInt64) -> [(contract: String, channel: MarketChannel)] {
        var due: [(String, MarketChannel)] = []
        for (contract, var slots) in contracts where !slots.held.isEmpty {
            for channel in slots.held.channels where now &- slots.lastSent[Self.slot(channel)] >= interval {
                slots.held.remove(ChannelSet(channel))
                slots.lastSent[Self.slot(channel)] = now
                due.append((contract, channel))
            }
            contracts[contract] = slots
        }
        return due
    }

    /// Forgets a contract (a rollover moved the subscription on).
    func forget(_ contract: String) { contracts[contract] = nil }
}
