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

    /// State channels may be conflated to their newest value; trades never are.
    public var isConflatable: Bool { self != .trades }
}

/// A set of channels as a bit mask (cheap to test on the fan-out path).
public struct ChannelSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(_ channel: MarketChannel) {
        switch channel {
        case .trades: self = .trades
        case .quotes: self = .quotes
        case .depth: self = .depth
        case .stats: self = .stats
        }
    }

    public init(_ channels: some Sequence<MarketChannel>) {
        self = channels.reduce(into: ChannelSet()) { $0.insert(ChannelSet($1)) }
    }

    public static let trades = ChannelSet(rawValue: 1)
    public static let quotes = ChannelSet(rawValue: 2)
    public static let depth = ChannelSet(rawValue: 4)
    public static let stats = ChannelSet(rawValue: 8)
    public static let all: ChannelSet = [.trades, .quotes, .depth, .stats]

    public var channels: [MarketChannel] { MarketChannel.allCases.filter { contains(ChannelSet($0)) } }
}
