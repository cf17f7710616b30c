/// What a subscriber can ask for, per symbol.
public enum MarketChannel: String, Sendable, CaseIterable, Codable {
    /// Every trade, in file order; never conflated.
    case trades
    /// Best bid and ask, as deltas; conflated for slow clients.
    case quotes
    /// The order book's top levels, as deltas by price; conflated for slow clients.
    case depth
    /// Session open, high, low, volume and trade count, as deltas; conflated for slow clients.
    case stats
    /// OHLCV bars built from the file's trades, sent when each bar closes; never conflated.
    case bars1s = "bars:1s"
    case bars5s = "bars:5s"
    case bars1m = "bars:1m"
    case bars5m = "bars:5m"
    case bars1h = "bars:1h"

    /// What a subscribe without `channels` gets: every update as it happens, no bars.
    public static let standard: [MarketChannel] = [.trades, .quotes, .depth, .stats]
    /// The bar channels, shortest period first.
    public static let bars: [MarketChannel] = [.bars1s, .bars5s, .bars1m, .bars5m, .bars1h]
    /// Every channel's name, for error messages.
    public static let names = allCases.map(\.rawValue).joined(separator: ", ")

    /// State channels carry the latest value: they may be conflated and rate-capped (`max_rate`).
    /// Trades and bars are events: never conflated, capped or dropped.
    public var isConflatable: Bool { self == .quotes || self == .depth || self == .stats }

    /// A bar channel's period in seconds (nil for the others).
    public var barPeriodSeconds: Int? {
        switch self {
        case .bars1s: return 1
        case .bars5s: return 5
        case .bars1m: return 60
        case .bars5m: return 300
        case .bars1h: return 3_600
        case .trades, .quotes, .depth, .stats: return nil
        }
    }

    /// A bar channel's period as a resume point and a snapshot name it (`1m`).
    public var barPeriodName: String? {
        guard rawValue.hasPrefix("bars:") else { return nil }
        return String(rawValue.dropFirst(5))
    }

    /// The bar channel of a period in seconds, if there is one.
    public init?(barPeriodSeconds seconds: Int) {
        guard let channel = Self.bars.first(where: { $0.barPeriodSeconds == seconds }) else { return nil }
        self = channel
    }
}

/// A set of channels as a bit mask (cheap to test on the fan-out path).
public struct ChannelSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public init(_ channel: MarketChannel) {
        switch channel {
        case .trades: self = .trades
        case .quotes: self = .quotes
        case .depth: self = .depth
        case .stats: self = .stats
        case .bars1s: self = ChannelSet(rawValue: 1 << 4)
        case .bars5s: self = ChannelSet(rawValue: 1 << 5)
        case .bars1m: self = ChannelSet(rawValue: 1 << 6)
        case .bars5m: self = ChannelSet(rawValue: 1 << 7)
        case .bars1h: self = ChannelSet(rawValue: 1 << 8)
        }
    }

    public init(_ channels: some Sequence<MarketChannel>) {
        self = channels.reduce(into: ChannelSet()) { $0.insert(ChannelSet($1)) }
    }

    public static let trades = ChannelSet(rawValue: 1)
    public static let quotes = ChannelSet(rawValue: 2)
    public static let depth = ChannelSet(rawValue: 4)
    public static let stats = ChannelSet(rawValue: 8)
    public static let bars = ChannelSet(MarketChannel.bars)
    public static let all = ChannelSet(MarketChannel.allCases)

    public var channels: [MarketChannel] { MarketChannel.allCases.filter { contains(ChannelSet($0)) } }
    /// The bar channels in the set, shortest period first.
    public var barChannels: [MarketChannel] { MarketChannel.bars.filter { contains(ChannelSet($0)) } }
}
