import BridgeWire
import SierraFormat

/// How a `.scid` record changes a contract's state: the bridge's concern (its feeds apply the
/// records), beside ``ContractFeed``; the wire module only describes the state and encodes it.
extension MarketState {
    /// Applies one record; the price multiplier is already applied by the caller.
    /// Returns which parts changed.
    @discardableResult
    public mutating func apply(_ record: IntradayRecord, seq: Int) -> StateChange {
        var change = StateChange()
        self.seq = seq
        updatedUnixMicroseconds = record.dateTime.unixMicroseconds
        let kind = record.kind
        if kind == .bar {
            // History bars carry no quote; they feed the session stats only.
            applySession(
                record,
                high: record.high,
                low: record.low,
                open: record.open,
                volume: record.totalVolume,
                trades: record.numTrades,
                change: &change
            )
            return change
        }
        if record.low != 0, record.low != bid {
            bid = record.low
            change.bid = true
        }
        if record.high != 0, record.high != ask {
            ask = record.high
            change.ask = true
        }
        if record.isTrade {
            last = LastTrade(
                price: record.close,
                size: record.totalVolume,
                side: record.tradeSide,
                unixMicroseconds: record.dateTime.unixMicroseconds,
                seq: seq
            )
            change.trade = true
            applySession(record, high: record.close, low: record.close, open: record.close, volume: record.totalVolume, trades: 1, change: &change)
        }
        return change
    }

    fileprivate mutating func applySession(
        _ record: IntradayRecord,
        high h: Float,
        low l: Float,
        open o: Float,
        volume v: UInt32,
        trades n: UInt32,
        change: inout StateChange
    ) {
        let day = record.dateTime.unixMicroseconds / SCDateTime.microsecondsPerDay
        if day != sessionDay {
            sessionDay = day
            sessionDate = record.dateTime.utcDateString
            open = o
            high = h
            low = l
            volume = 0
            trades = 0
            change.open = true
            change.high = true
            change.low = true
        }
        if let current = high, h > current {
            high = h
            change.high = true
        }
        if let current = low, l < current {
            low = l
            change.low = true
        }
        volume += UInt64(v)
        trades += UInt64(n)
        change.volume = true
    }
}
