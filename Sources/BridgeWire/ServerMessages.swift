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
    private static func header(_ w: inout JSONWriter, _ type: MessageType, _ source: Source) {
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

    // MARK: - Control messages

    /// `batch`: whether this connection's frames may carry several newline-separated messages
    /// (only when the client asked, with `?batch=1`); otherwise one JSON message per frame.
    public static func hello(heartbeatSeconds: Double, contracts: [String], roots: [String: String], batch: Bool = false) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(MessageType.hello.name)
        w.key("protocol")
        w.int(protocolVersion)
        w.key("server")
        w.string("bridgelab-bridge")
        w.key("heartbeat_s")
        w.double(heartbeatSeconds)
        w.key("batch")
        w.bool(batch)
        w.key("contracts")
        w.beginArray()
        for contract in contracts { w.string(contract) }
        w.endArray()
        w.key("roots")
        rootsObject(&w, roots)
        w.endObject()
        return w.bytes
    }

    private static func rootsObject(_ w: inout JSONWriter, _ roots: [String: String]) {
        w.beginObject()
        for (root, contract) in roots.sorted(by: { $0.key < $1.key }) {
            w.key(root)
            w.string(contract)
        }
        w.endObject()
    }

    /// Acknowledges a subscribe or unsubscribe; `resolved` maps each requested symbol to its contract.
    public static func subscription(_ type: MessageType, id: String?, resolved: [String: String], channels: [MarketChannel]) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(type.name)
        if let id {
            w.key("id")
            w.string(id)
        }
        w.key("symbols")
        rootsObject(&w, resolved)
        w.key("channels")
        w.beginArray()
        for channel in channels { w.string(channel.rawValue) }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    public static func error(code: ErrorCode, message: String, id: String? = nil) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(MessageType.error.name)
        w.key("code")
        w.string(code.rawValue)
        w.key("message")
        w.string(message)
        if let id {
            w.key("id")
            w.string(id)
        }
        w.endObject()
        return w.bytes
    }

    public static func simple(_ type: MessageType, t: Int64, id: String? = nil) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(type.name)
        w.key("t")
        w.int(t)
        if let id {
            w.key("id")
            w.string(id)
        }
        w.endObject()
        return w.bytes
    }

    public static func rollover(root: String, from: String?, to: String) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(MessageType.rollover.name)
        w.key("root")
        w.string(root)
        w.key("from")
        if let from { w.string(from) } else { w.null() }
        w.key("to")
        w.string(to)
        w.endObject()
        return w.bytes
    }

    /// The file was rewritten: state restarts under a new epoch; a snapshot follows.
    public static func reset(_ source: Source, reason: String) -> [UInt8] {
        var w = JSONWriter()
        header(&w, .reset, source)
        w.key("reason")
        w.string(reason)
        w.endObject()
        return w.bytes
    }

    /// A resume succeeded: trades with seq in `from...to` were replayed (none when from > to).
    /// For a bar channel (`channel` set) `replayed` counts the bars that closed after `from - 1`.
    public static func resumed(_ source: Source, from: Int, to: Int, replayed: Int, origin: String, channel: MarketChannel? = nil) -> [UInt8] {
        var w = JSONWriter()
        header(&w, .resumed, source)
        if let channel {
            w.key("channel")
            w.string(channel.rawValue)
        }
        w.key("from")
        w.int(from)
        w.key("to")
        w.int(to)
        w.key("replayed")
        w.int(replayed)
        w.key("source")
        w.string(origin)
        w.endObject()
        return w.bytes
    }

    /// A resume could not be honoured; a fresh snapshot follows.
    public static func notRecovered(
        _ source: Source,
        reason: String,
        requestedEpoch: String,
        requestedSeq: Int,
        channel: MarketChannel? = nil
    ) -> [UInt8] {
        var w = JSONWriter()
        header(&w, .notRecovered, source)
        if let channel {
            w.key("channel")
            w.string(channel.rawValue)
        }
        w.key("reason")
        w.string(reason)
        w.key("requested_epoch")
        w.string(requestedEpoch)
        w.key("requested_seq")
        w.int(requestedSeq)
        w.endObject()
        return w.bytes
    }
}

/// Error codes of `error` messages and close reasons.
public enum ErrorCode: String, Sendable, CaseIterable {
    case badJSON = "bad_json"
    case badRequest = "bad_request"
    case unknownOp = "unknown_op"
    case unknownSymbol = "unknown_symbol"
    case unknownChannel = "unknown_channel"
    case tooManySubscriptions = "too_many_subscriptions"
    case rateLimited = "rate_limited"
    case messageTooLarge = "message_too_large"
    case slowConsumer = "slow_consumer"
}

/// WebSocket close codes the bridge uses.
public enum CloseCode {
    /// A normal close: the client asked for it (RFC 6455).
    public static let normal: UInt16 = 1000
    /// Server shutting down, or a client leaving (RFC 6455).
    public static let goingAway: UInt16 = 1001
    /// Abuse: too many bad or too many messages (RFC 6455 policy violation).
    public static let policyViolation: UInt16 = 1008
    /// A message over the size limit (RFC 6455).
    public static let messageTooBig: UInt16 = 1009
    /// The client fell too far behind on trades; reconnect and resume (private range 4000–4999).
    public static let slowConsumer: UInt16 = 4008
    /// The server is at its connection limit (RFC 6455 "try again later").
    public static let tryAgainLater: UInt16 = 1013
    /// No valid token (the WebSocket counterpart of HTTP 401).
    public static let unauthorized: UInt16 = 4401
    /// `/ws/live_data/{symbol}` named no known symbol (the counterpart of HTTP 404).
    public static let unknownSymbol: UInt16 = 4404
}
