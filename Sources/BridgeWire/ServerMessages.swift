import SierraFormat

/// Encoders for every message the bridge sends (see docs/PROTOCOL.md). Each returns the JSON bytes
/// of one message; market updates are encoded once and the bytes shared by all subscribers.
public enum ServerMessages {
    public static let protocolVersion = 1

    /// Which contract a market message is about. `epoch` names the file's contents: it changes only
    /// when the file is rewritten, so (epoch, seq) names one record across bridge restarts.
    public struct Source: Sendable, Equatable {
        public var contract: String
        public var root: String
        public var epoch: String

        public init(contract: String, root: String, epoch: String) {
            self.contract = contract
            self.root = root
            self.epoch = epoch
        }
    }

    /// Type, contract, root and epoch: what a snapshot, reset or resume answer tells a client once.
    static func header(_ w: inout JSONWriter, _ type: MessageType, _ source: Source) {
        updateHeader(&w, type, source)
        w.key("root")
        w.string(source.root)
        w.key("epoch")
        w.string(source.epoch)
    }

    /// Type and contract only: updates (trades, quotes, stats, depth) follow a snapshot, whose
    /// root and epoch stay true until a `reset` or `rollover` says otherwise, so every update
    /// would repeat them for nothing (about 40 bytes of a 100-byte quote).
    private static func updateHeader(_ w: inout JSONWriter, _ type: MessageType, _ source: Source) {
        w.beginObject()
        w.key("type")
        w.string(type.name)
        w.key("contract")
        w.string(source.contract)
    }

    /// One trade. `prev` is the seq of the contract's previous trade (-1 for the first), so a client
    /// that follows only trades can tell a gap from the quote records in between.
    public static func trade(_ source: Source, seq: Int, prev: Int, record: IntradayRecord) -> [UInt8] {
        var w = JSONWriter(capacity: 220)
        updateHeader(&w, .trade, source)
        w.key("seq")
        w.int(seq)
        w.key("prev")
        w.int(prev)
        w.key("t")
        w.int(record.dateTime.unixMicroseconds)
        w.key("price")
        w.price(record.close)
        w.key("size")
        w.int(Int64(record.totalVolume))
        w.key("side")
        w.string(record.tradeSide.rawValue)
        w.key("bid")
        w.price(record.bid)
        w.key("ask")
        w.price(record.ask)
        w.endObject()
        return w.bytes
    }

    /// Best bid/ask. A delta carries only what changed; `full` carries both (after conflation).
    public static func quote(_ source: Source, seq: Int, t: Int64, bid: Float?, ask: Float?, full: Bool) -> [UInt8] {
        var w = JSONWriter(capacity: 160)
        updateHeader(&w, .quote, source)
        w.key("seq")
        w.int(seq)
        w.key("t")
        w.int(t)
        if full {
            w.key("full")
            w.bool(true)
        }
        if let bid {
            w.key("bid")
            w.price(bid)
        }
        if let ask {
            w.key("ask")
            w.price(ask)
        }
        w.endObject()
        return w.bytes
    }

    /// Session statistics; a delta carries only the fields in `change` (all when `full`).
    public static func stats(_ source: Source, state: MarketState, change: StateChange, full: Bool) -> [UInt8] {
        var w = JSONWriter(capacity: 200)
        updateHeader(&w, .stats, source)
        w.key("seq")
        w.int(state.seq)
        w.key("t")
        w.int(state.updatedUnixMicroseconds)
        if full {
            // The whole ticker: with the last trade (as a snapshot gives it), so a client taking
            // the latest state a few times a second (max_rate) has what a poller's answer has.
            w.key("full")
            w.bool(true)
            w.key("session")
            w.string(state.sessionDate)
            w.key("last")
            lastTrade(&w, state.last)
        }
        if full || change.open, let open = state.open {
            w.key("open")
            w.price(open)
        }
        if full || change.high, let high = state.high {
            w.key("high")
            w.price(high)
        }
        if full || change.low, let low = state.low {
            w.key("low")
            w.price(low)
        }
        if full || change.volume {
            w.key("volume")
            w.int(Int64(state.volume))
            w.key("trades")
            w.int(Int64(state.trades))
        }
        w.endObject()
        return w.bytes
    }

    /// Depth levels as `[price, quantity, orders]`. A delta carries only the levels that changed,
    /// and only the sides that did; a removed level is `[price, 0]`. A full book (after
    /// conflation, or the first batch of a new day's file) replaces the client's. No `t`: the depth
    /// file's batches are not the `.scid` records whose times the other messages carry.
    public static func depth(_ source: Source, seq: Int, file: String, bids: [DepthLevel], asks: [DepthLevel], full: Bool) -> [UInt8] {
        var w = JSONWriter(capacity: 96 + 18 * (bids.count + asks.count))
        updateHeader(&w, .depth, source)
        w.key("seq")
        w.int(seq)
        if full {
            // The day's file the book comes from: a delta always continues the last full book's.
            w.key("full")
            w.bool(true)
            w.key("file")
            w.string(file)
        }
        if full || !bids.isEmpty {
            w.key("bids")
            levels(&w, bids)
        }
        if full || !asks.isEmpty {
            w.key("asks")
            levels(&w, asks)
        }
        w.endObject()
        return w.bytes
    }

    /// A closed bar: `{"type":"bar","contract":…,"period_s":60,"t":…,"open":…,…,"seq":…}`.
    public static func bar(_ source: Source, _ bar: Bar) -> [UInt8] {
        var w = JSONWriter(capacity: 200)
        updateHeader(&w, .bar, source)
        w.key("period_s")
        w.int(Int64(bar.periodSeconds))
        barFields(&w, bar)
        w.endObject()
        return w.bytes
    }

    private static func barFields(_ w: inout JSONWriter, _ bar: Bar) {
        w.key("t")
        w.int(bar.t)
        w.key("open")
        w.price(bar.open)
        w.key("high")
        w.price(bar.high)
        w.key("low")
        w.price(bar.low)
        w.key("close")
        w.price(bar.close)
        w.key("volume")
        w.int(Int64(bar.volume))
        w.key("trades")
        w.int(Int64(bar.trades))
        w.key("seq")
        w.int(bar.seq)
    }

    private static func levels(_ w: inout JSONWriter, _ levels: [DepthLevel]) {
        w.beginArray()
        for level in levels {
            w.beginArray()
            w.price(level.price)
            w.int(Int64(level.quantity))
            if level.quantity != 0 { w.int(Int64(level.numOrders)) }
            w.endArray()
        }
        w.endArray()
    }

    /// The whole state of a contract: sent on subscribe, after a resume, and as `/api/live_data`.
    /// `bars`: the last closed bars of each bar channel the client follows (`"bars":{"1m":[…]}`,
    /// oldest first); absent when it follows none.
    public static func snapshot(_ state: MarketState, type: MessageType = .snapshot, bars: [(MarketChannel, [Bar])] = []) -> [UInt8] {
        var w = JSONWriter(capacity: 600 + bars.reduce(0) { $0 + 120 * $1.1.count })
        header(&w, type, Source(contract: state.contract, root: state.root, epoch: state.epoch))
        w.key("seq")
        w.int(state.seq)
        w.key("t")
        w.int(state.updatedUnixMicroseconds)
        w.key("last")
        lastTrade(&w, state.last)
        optionalPrice(&w, "bid", state.bid)
        optionalPrice(&w, "ask", state.ask)
        w.key("session")
        w.string(state.sessionDate)
        optionalPrice(&w, "open", state.open)
        optionalPrice(&w, "high", state.high)
        optionalPrice(&w, "low", state.low)
        w.key("volume")
        w.int(Int64(state.volume))
        w.key("trades")
        w.int(Int64(state.trades))
        w.key("depth")
        w.beginObject()
        w.key("seq")
        w.int(state.depthSeq)
        w.key("file")
        if let file = state.depthFile { w.string(file) } else { w.null() }
        w.key("bids")
        levels(&w, state.bids)
        w.key("asks")
        levels(&w, state.asks)
        w.endObject()
        if !bars.isEmpty {
            w.key("bars")
            w.beginObject()
            for (channel, series) in bars {
                guard let name = channel.barPeriodName else { continue }
                w.key(name)
                w.beginArray()
                for bar in series {
                    w.beginObject()
                    barFields(&w, bar)
                    w.endObject()
                }
                w.endArray()
            }
            w.endObject()
        }
        w.endObject()
        return w.bytes
    }

    private static func lastTrade(_ w: inout JSONWriter, _ last: LastTrade?) {
        guard let last else { return w.null() }
        w.beginObject()
        w.key("seq")
        w.int(last.seq)
        w.key("t")
        w.int(last.unixMicroseconds)
        w.key("price")
        w.price(last.price)
        w.key("size")
        w.int(Int64(last.size))
        w.key("side")
        w.string(last.side.rawValue)
        w.endObject()
    }

    private static func optionalPrice(_ w: inout JSONWriter, _ key: StaticString, _ value: Float?) {
        w.key(key)
        if let value { w.price(value) } else { w.null() }
    }
}
