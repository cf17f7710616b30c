/// One 40-byte record of a `.scid` file.
///
/// The same layout holds ticks, quote updates, fills of an unbundled trade and OHLC bars; ``kind``
/// says which. Prices are raw: apply the symbol's price multiplier to display them.
public struct IntradayRecord: Sendable, Equatable {
    public var dateTime: SCDateTime
    public var open: Float
    public var high: Float
    public var low: Float
    public var close: Float
    public var numTrades: UInt32
    public var totalVolume: UInt32
    public var bidVolume: UInt32
    public var askVolume: UInt32

    public init(
        dateTime: SCDateTime,
        open: Float,
        high: Float,
        low: Float,
        close: Float,
        numTrades: UInt32,
        totalVolume: UInt32,
        bidVolume: UInt32,
        askVolume: UInt32
    ) {
        self.dateTime = dateTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.numTrades = numTrades
        self.totalVolume = totalVolume
        self.bidVolume = bidVolume
        self.askVolume = askVolume
    }

    /// `Open` of the first fill of an unbundled trade. Compared as bits, never as a float.
    public static let firstSubTradeOpenBits: UInt32 = 0xFD70_9EF9
    /// `Open` of the last fill of an unbundled trade.
    public static let lastSubTradeOpenBits: UInt32 = 0xFD70_9F01
    public static let firstSubTradeOpen = Float(bitPattern: firstSubTradeOpenBits)
    public static let lastSubTradeOpen = Float(bitPattern: lastSubTradeOpenBits)

    /// A trade tick: price `close`, with the quote at that moment.
    public static func trade(at time: SCDateTime, price: Float, size: UInt32, side: TradeSide, bid: Float, ask: Float) -> IntradayRecord {
        IntradayRecord(
            dateTime: time,
            open: 0,
            high: ask,
            low: bid,
            close: price,
            numTrades: 1,
            totalVolume: size,
            bidVolume: side == .bid ? size : 0,
            askVolume: side == .ask ? size : 0
        )
    }

    /// A quote-only update: no volume, bid in `low`, ask in `high`.
    public static func quote(at time: SCDateTime, bid: Float, ask: Float, last: Float) -> IntradayRecord {
        IntradayRecord(dateTime: time, open: 0, high: ask, low: bid, close: last, numTrades: 1, totalVolume: 0, bidVolume: 0, askVolume: 0)
    }

    @inlinable
    public var kind: IntradayRecordKind {
        let openBits = open.bitPattern
        if openBits == Self.firstSubTradeOpenBits { return .tradeFirstSub }
        if openBits == Self.lastSubTradeOpenBits { return .tradeLastSub }
        if openBits == 0 || openBits == 0x8000_0000, numTrades == 1 {
            if totalVolume > 0 { return .trade }
            if high != 0, low != 0 { return .quote }
        }
        return .bar
    }

    /// Whether this record is a trade (including fills of an unbundled trade).
    @inlinable
    public var isTrade: Bool {
        switch kind {
        case .trade, .tradeFirstSub, .tradeLastSub: return true
        case .quote, .bar: return false
        }
    }

    /// Which side of the book the trade took: bid volume means it hit the bid (a sell).
    public var tradeSide: TradeSide {
        if bidVolume > 0, askVolume == 0 { return .bid }
        if askVolume > 0, bidVolume == 0 { return .ask }
        return .unknown
    }

    /// For ticks, `high` is the ask and `low` the bid.
    public var ask: Float { high }
    public var bid: Float { low }
}

public enum IntradayRecordKind: String, Sendable, CaseIterable {
    case trade
    case quote
    case tradeFirstSub = "trade_first_sub"
    case tradeLastSub = "trade_last_sub"
    case bar
}

public enum TradeSide: String, Sendable {
    /// The trade hit the bid (seller-initiated).
    case bid
    /// The trade lifted the ask (buyer-initiated).
    case ask
    case unknown
}
