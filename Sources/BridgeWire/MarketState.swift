import SierraFormat

/// The last trade of a contract.
public struct LastTrade: Sendable, Equatable {
    public var price: Float
    public var size: UInt32
    public var side: TradeSide
    public var unixMicroseconds: Int64
    public var seq: Int

    public init(price: Float, size: UInt32, side: TradeSide, unixMicroseconds: Int64, seq: Int) {
        self.price = price
        self.size = size
        self.side = side
        self.unixMicroseconds = unixMicroseconds
        self.seq = seq
    }
}

/// What the bridge knows of one contract at one moment: the `snapshot` message's content, and
/// what `/api/live_data/{symbol}` returns in every mode.
public struct MarketState: Sendable, Equatable {
    public var contract: String
    public var root: String
    public var epoch: String
    /// Index of the last `.scid` record applied (-1 before the first).
    public var seq: Int = -1
    public var updatedUnixMicroseconds: Int64 = 0
    public var last: LastTrade?
    public var bid: Float?
    public var ask: Float?
    /// Session (UTC day of the latest trade) open, high, low, volume and trade count.
    public var sessionDate: String = ""
    /// The session's day number since the Unix epoch (compared per record; the string is made on change).
    public var sessionDay: Int64 = .min
    public var open: Float?
    public var high: Float?
    public var low: Float?
    public var volume: UInt64 = 0
    public var trades: UInt64 = 0
    /// Depth: top levels per side, and the index of the batch-ending depth record (-1 if none).
    public var depthSeq: Int = -1
    public var depthFile: String?
    public var bids: [DepthLevel] = []
    public var asks: [DepthLevel] = []

    public init(contract: String, root: String, epoch: String) {
        self.contract = contract
        self.root = root
        self.epoch = epoch
    }
}

/// Which fields of a ``MarketState`` an update changed: deltas carry only these.
public struct StateChange: Sendable, Equatable {
    public var bid = false
    public var ask = false
    public var trade = false
    public var open = false
    public var high = false
    public var low = false
    public var volume = false

    public init() {}

    public var quote: Bool { bid || ask }
    public var stats: Bool { open || high || low || volume }
}
