/// One OHLCV bar of a contract's trades: the trades whose record time falls in
/// [`t`, `t` + `periodSeconds`), `t` aligned to the period from the Unix epoch (UTC).
public struct Bar: Sendable, Equatable {
    public var periodSeconds: Int
    /// The bar's open time, Unix µs.
    public var t: Int64
    public var open: Float
    public var high: Float
    public var low: Float
    public var close: Float
    public var volume: UInt64
    public var trades: Int
    /// The record index of the bar's last trade: where a resuming client left off.
    public var seq: Int

    public init(periodSeconds: Int, t: Int64, open: Float, high: Float, low: Float, close: Float, volume: UInt64, trades: Int, seq: Int) {
        self.periodSeconds = periodSeconds
        self.t = t
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.trades = trades
        self.seq = seq
    }

    /// A bar opened by one trade.
    public init(periodSeconds: Int, tradeAt unixMicroseconds: Int64, price: Float, size: UInt64, seq: Int) {
        let period = Int64(periodSeconds) * 1_000_000
        let start = unixMicroseconds >= 0 ? unixMicroseconds / period * period : ((unixMicroseconds + 1) / period - 1) * period
        self.init(periodSeconds: periodSeconds, t: start, open: price, high: price, low: price, close: price, volume: size, trades: 1, seq: seq)
    }

    /// When the bar ends (exclusive), Unix µs.
    public var end: Int64 { t + Int64(periodSeconds) * 1_000_000 }

    /// Adds a trade to the bar.
    public mutating func add(price: Float, size: UInt64, seq: Int) {
        high = max(high, price)
        low = min(low, price)
        close = price
        volume += size
        trades += 1
        self.seq = seq
    }
}
