import BridgeWire

/// A subscription's `max_rate` N: its state channels (quotes, depth, stats) are sampled on a
/// shared clock, N times a second. An update is held, and at the next tick of the clock (a
/// multiple of 1/N s) the channel's latest *full* state goes out: a client that wants the state N
/// times a second gets it whole, as a poller's answer is, never older than 1/N s, and never two
/// messages of a channel within 1/N s. Every subscription with the same rate ticks together, so
/// one wake-up and one encoding per contract and channel serve them all. Trades and bars are never
/// capped.
///
/// Not thread-safe: the hub uses it under its lock.
final class RateCap {
    let rate: Double
    /// Nanoseconds between two ticks.
    let interval: UInt64

    /// Per contract: the state channels holding an update, and the tick they wait for.
    private var held: [String: (channels: ChannelSet, due: UInt64)] = [:]

    init(rate: Double) {
        self.rate = rate
        self.interval = max(1, UInt64(1e9 / rate))
    }

    /// The first tick after `now` (monotonic ns): ticks are multiples of the interval, the same
    /// for every cap of this rate.
    func tick(after now: UInt64) -> UInt64 { (now / interval + 1) * interval }

    /// Holds an update of `channel` for `contract`, noticed at `now` (monotonic ns): it goes out
    /// at the next tick.
    func hold(contract: String, channel: MarketChannel, now: UInt64) {
        if var entry = held[contract] {
            entry.channels.insert(ChannelSet(channel))
            held[contract] = entry
        } else {
            held[contract] = (ChannelSet(channel), tick(after: now))
        }
    }

    /// Whether an update is held.
    var isHolding: Bool { !held.isEmpty }

    /// When (monotonic ns) the held updates are due.
    var nextDue: UInt64? { held.values.map(\.due).min() }

    /// The held updates due at `now`, forgotten: the caller sends each one's full state.
    func takeDue(now: UInt64) -> [(contract: String, channel: MarketChannel)] {
        var due: [(String, MarketChannel)] = []
        for (contract, entry) in held where entry.due <= now {
            for channel in entry.channels.channels { due.append((contract, channel)) }
            held[contract] = nil
        }
        return due
    }

    /// Forgets a contract (a rollover moved the subscription on).
    func forget(_ contract: String) { held[contract] = nil }
}
