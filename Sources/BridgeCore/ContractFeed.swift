import BridgeWire
import Clocks
import DequeModule
import Logging
import SierraFormat

/// One trade as the feed reports and replays it: its record index, the previous trade's, and the
/// record (prices scaled). A struct, not a tuple: a tuple in a generic container costs a runtime
/// metadata lookup per record on the read path.
public struct FeedTrade: Sendable {
    public var seq: Int
    public var prev: Int
    public var record: IntradayRecord

    public init(seq: Int, prev: Int, record: IntradayRecord) {
        self.seq = seq
        self.prev = prev
        self.record = record
    }
}

/// A bar that closed (or was revised) during a pump, with the channel it goes out on.
public struct ClosedBar: Sendable {
    public var channel: MarketChannel
    public var bar: Bar

    public init(channel: MarketChannel, bar: Bar) {
        self.channel = channel
        self.bar = bar
    }
}

/// Everything that changed in one contract during one pump (one read of its files).
public struct FeedChanges: Sendable {
    /// New trades in file order: record index, previous trade's index, and the record (prices scaled).
    public var trades: [FeedTrade] = []
    /// The quote, if bid or ask changed: only the changed sides are set.
    public var quote: (bid: Float?, ask: Float?)?
    public var stats = StateChange()
    /// Changed depth levels (quantity 0 = removed), if a depth batch ended.
    public var depth: (bids: [DepthLevel], asks: [DepthLevel])?
    /// The depth book started over (a new day's file): send it whole, not as a delta.
    public var depthRestarted = false
    /// Bars that closed, in the order they did.
    public var bars: [ClosedBar] = []
    /// The file was rewritten or replaced: state restarted under a new epoch.
    public var reset: String?
    public var recordsRead = 0

    public var isEmpty: Bool {
        trades.isEmpty && quote == nil && !stats.stats && depth == nil && reset == nil && bars.isEmpty
    }
}

/// One contract's files and state: tails its `.scid` file and current `.depth` file, applies the
/// records to a ``MarketState``, and replays trades for a resuming client.
///
/// A file with weeks of history costs what its current session costs: on a file's first read (and
/// after a rewrite) the tailer starts at the session's first record, found by binary search on
/// time, less ``lookbackRecords``; a resume reads its trades back from their positions in the
/// file. Nothing holds or parses the whole file, so memory does not grow with its size.
///
/// Not thread-safe: the ``MarketHub`` owns it under its lock.
public final class ContractFeed {
    public let contract: ContractSymbol
    public let priceMultiplier: Float
    public private(set) var state: MarketState
    /// Record index of the latest trade (-1 before the first): the next trade's `prev`.
    public private(set) var lastTradeIndex = -1
    /// The most recent trades, for resumes served from memory.
    public private(set) var recent: Deque<FeedTrade> = []
    public let historyLimit: Int
    /// One series per bar channel (``MarketChannel/bars``, unless told fewer), built from every trade read.
    public private(set) var bars: [BarSeries]
    /// The time of the newest record read (Unix µs) and when it was read (monotonic ns): the
    /// data's clock, which closes a bar when the market goes quiet.
    public private(set) var lastRecordTime: Int64 = .min
    public private(set) var lastReadAt: UInt64 = 0

    private let folder: DataFolder
    private let tailer: FileTailer<IntradayFormat>
    private var depthTailer: FileTailer<DepthFormat>?
    private var depthBuilder: DepthBookBuilder
    private let depthLevels: Int
    private let logger: Logger
    /// Whether the tailer starts at the current session (false: it reads the whole file, as the
    /// old polling bridge did on every request).
    public let startAtSession: Bool
    /// The tailer is still to be placed: before the file's first read, and after a rewrite.
    private var placeAtSession = true
    /// Records below this index were in the file when it was placed: history, applied to the state
    /// but not reported as new trades (no client can have asked for them as live updates).
    private var historyEnd = 0

    /// Records read before the session's first one, so that a session with no quote or trade yet
    /// still has the last ones (applying them is harmless: the session's figures restart at its day).
    public static let lookbackRecords = 10_000

    public init(
        contract: ContractSymbol,
        folder: DataFolder,
        priceMultiplier: Float = 1,
        depthLevels: Int = 10,
        historyLimit: Int = 50_000,
        barsKept: Int = 120,
        barChannels: [MarketChannel] = MarketChannel.bars,
        startAtSession: Bool = true,
        logger: Logger
    ) {
        self.contract = contract
        self.folder = folder
        self.priceMultiplier = priceMultiplier
        self.depthLevels = depthLevels
        self.historyLimit = historyLimit
        self.startAtSession = startAtSession
        self.logger = logger
        self.state = MarketState(contract: contract.name, root: contract.root, epoch: Self.emptyEpoch)
        self.tailer = FileTailer(path: folder.intradayPath(contract: contract.name))
        self.depthBuilder = DepthBookBuilder(maxLevels: depthLevels)
        self.bars = barChannels.map { BarSeries(channel: $0, keep: barsKept) }
    }

    /// The epoch of a file with no records yet.
    public static let emptyEpoch = "0"

    public var source: ServerMessages.Source {
        ServerMessages.Source(contract: state.contract, root: state.root, epoch: state.epoch)
    }

    /// Number of whole records read from the `.scid` file.
    public var recordCount: Int { tailer.nextIndex }

    /// Follows the contract's depth file for `date` (the newest day's file), from its start.
    public func followDepth(file: DataFolder.DepthFile) {
        let path = folder.depthPath + "/" + file.fileName
        guard depthTailer?.path != path else { return }
        depthTailer = FileTailer(path: path)
        depthBuilder = DepthBookBuilder(maxLevels: depthLevels)
        state.depthFile = file.date
        state.depthSeq = -1
        state.bids = []
        state.asks = []
        depthRestarted = true
    }

    /// Set when a new depth file is followed, until its first book is published.
    private var depthRestarted = false

    public var depthPath: String? { depthTailer?.path }

    /// Reads everything new from both files and applies it. `checkPath`: also check that the
    /// paths still name the files being read and that their first records are unchanged (see
    /// ``FileTailer/poll(checkPath:_:)``).
    public func pump(checkPath: Bool = true) -> FeedChanges {
        var changes = FeedChanges()
        let before = (bid: state.bid, ask: state.ask)
        let newest = lastRecordTime
        pumpIntraday(&changes, checkPath: checkPath)
        if lastRecordTime != newest { lastReadAt = WallClock.monotonicNanoseconds() }
        pumpDepth(&changes, checkPath: checkPath)
        if changes.reset == nil, state.bid != before.bid || state.ask != before.ask {
            changes.quote = (state.bid != before.bid ? state.bid : nil, state.ask != before.ask ? state.ask : nil)
        }
        return changes
    }

    private func pumpIntraday(_ changes: inout FeedChanges, checkPath: Bool) {
        while true {
            if placeAtSession { placeTailerAtSession() }
            let progress = tailer.poll(checkPath: checkPath) { item in
                switch item {
                case .event(let event):
                    handle(event, &changes)
                case .record(let index, var record):
                    if priceMultiplier != 1 { record = scaled(record) }
                    if index == 0 { state.epoch = Self.epoch(of: record) }
                    let change = state.apply(record, seq: index)
                    let t = record.dateTime.unixMicroseconds
                    if t > lastRecordTime { lastRecordTime = t }
                    addToBars(record, t: t, index: index, trade: change.trade, live: index >= historyEnd, &changes)
                    changes.recordsRead += 1
                    changes.stats.open = changes.stats.open || change.open
                    changes.stats.high = changes.stats.high || change.high
                    changes.stats.low = changes.stats.low || change.low
                    changes.stats.volume = changes.stats.volume || change.volume
                    if change.trade {
                        let prev = lastTradeIndex
                        lastTradeIndex = index
                        // History older than the last `historyLimit` records cannot end up among the
                        // last `historyLimit` trades: it is not kept (a resume reads it from the file).
                        if index >= historyEnd - historyLimit {
                            recent.append(FeedTrade(seq: index, prev: prev, record: record))
                            if recent.count > historyLimit { recent.removeFirst() }
                        }
                        if index >= historyEnd { changes.trades.append(FeedTrade(seq: index, prev: prev, record: record)) }
                    }
                }
            }
            if !progress.hasMore && !placeAtSession { break }
        }
    }

    private func addToBars(_ record: IntradayRecord, t: Int64, index: Int, trade: Bool, live: Bool, _ changes: inout FeedChanges) {
        for i in bars.indices {
            let finished =
                trade ? bars[i].add(price: record.close, size: UInt64(record.totalVolume), at: t, seq: index) : bars[i].advance(toDataTime: t)
            if live, let finished { changes.bars.append(ClosedBar(channel: bars[i].channel, bar: finished)) }
        }
    }

    /// Closes the bars the data's clock has passed by `grace` (µs) since the newest record was
    /// read at ``lastReadAt``: a quiet market's bar closes without waiting for its next record.
    public func closeBars(now: UInt64, grace: Int64) -> [ClosedBar] {
        guard lastRecordTime != .min else { return [] }
        let dataTime = lastRecordTime + Int64(now &- lastReadAt) / 1_000 - grace
        var closed: [ClosedBar] = []
        for i in bars.indices {
            if let bar = bars[i].advance(toDataTime: dataTime) { closed.append(ClosedBar(channel: bars[i].channel, bar: bar)) }
        }
        return closed
    }

    /// When (monotonic ns) ``closeBars(now:grace:)`` next has a bar to close, if one is being built.
    public func nextBarClose(grace: Int64) -> UInt64? {
        guard lastRecordTime != .min, let end = bars.compactMap(\.currentEnd).min() else { return nil }
        let wait = end + grace - lastRecordTime
        return lastReadAt &+ UInt64(max(0, wait)) &* 1_000
    }

    /// Notes where the file's history ends (what is there now is not reported as new trades), and
    /// unless the whole file is wanted starts the tailer at the current session (the UTC day of
    /// the file's last record), less ``lookbackRecords``: the session's first record is found by
    /// binary search on time. The epoch comes from record 0, which is then never read in full.
    private func placeTailerAtSession() {
        placeAtSession = false
        guard let reader = RecordReader<IntradayFormat>(path: tailer.path) else {
            historyEnd = 0
            return
        }
        let count = reader.count
        historyEnd = count
        guard startAtSession, count > Self.lookbackRecords, tailer.nextIndex < count,
            let first = reader.record(at: 0), let last = reader.record(at: count - 1)
        else { return }
        let day = last.dateTime.unixMicroseconds / SCDateTime.microsecondsPerDay
        let sessionStart = reader.firstIndex(count: count) { $0.dateTime.unixMicroseconds / SCDateTime.microsecondsPerDay >= day }
        let start = max(0, sessionStart - Self.lookbackRecords)
        guard start > tailer.nextIndex else { return }
        // Bars are built from the first record read: one opening before it may be incomplete.
        let firstTime = reader.record(at: start)?.dateTime.unixMicroseconds ?? .min
        for i in bars.indices { bars[i].reset(firstIndex: start, firstTime: firstTime) }
        state.epoch = Self.epoch(of: priceMultiplier != 1 ? scaled(first) : first)
        // The trade before the first one read: the `prev` of what follows.
        lastTradeIndex = Self.lastTrade(before: start, in: reader)
        tailer.skip(to: start)
    }

    private func handle(_ event: TailEvent, _ changes: inout FeedChanges) {
        switch event {
        case .rewritten(let reason):
            logger.warning("file rewritten; reading it again from the start", metadata: ["contract": "\(contract.name)", "reason": "\(reason)"])
            let depth = (state.depthFile, state.depthSeq, state.bids, state.asks)
            state = MarketState(contract: contract.name, root: contract.root, epoch: Self.emptyEpoch)
            (state.depthFile, state.depthSeq, state.bids, state.asks) = depth
            lastTradeIndex = -1
            placeAtSession = true
            recent.removeAll()
            lastRecordTime = .min
            for i in bars.indices { bars[i].reset(firstIndex: 0, firstTime: .min) }
            changes.trades.removeAll()
            changes.reset = "rewritten"
        case .invalid(let error):
            logger.error("file refused; serving the other symbols", metadata: ["contract": "\(contract.name)", "error": "\(error)"])
        case .missing:
            logger.warning("file disappeared; keeping what was read", metadata: ["contract": "\(contract.name)"])
        case .opened, .partialRecord:
            break
        }
    }

    private func pumpDepth(_ changes: inout FeedChanges, checkPath: Bool) {
        guard let depthTailer else { return }
        var published: DepthBook?
        var lastBatchSeq = state.depthSeq
        while true {
            let progress = depthTailer.poll(checkPath: checkPath) { item in
                switch item {
                case .event(.rewritten):
                    depthBuilder.reset()
                case .event(.invalid(let error)):
                    logger.error("depth file refused", metadata: ["contract": "\(contract.name)", "error": "\(error)"])
                case .event:
                    break
                case .record(let index, var record):
                    if priceMultiplier != 1 { record.price *= priceMultiplier }
                    if let book = depthBuilder.apply(record) {
                        published = book
                        lastBatchSeq = index
                    }
                }
            }
            if !progress.hasMore { break }
        }
        guard let book = published else { return }
        let bids = Self.changedLevels(old: state.bids, new: book.bids)
        let asks = Self.changedLevels(old: state.asks, new: book.asks)
        state.bids = book.bids
        state.asks = book.asks
        state.depthSeq = lastBatchSeq
        if !bids.isEmpty || !asks.isEmpty {
            changes.depth = (bids, asks)
            changes.depthRestarted = depthRestarted
            depthRestarted = false
        }
    }

    /// Levels that are new or changed, and removed ones with quantity 0.
    static func changedLevels(old: [DepthLevel], new: [DepthLevel]) -> [DepthLevel] {
        var changed: [DepthLevel] = []
        for level in new where !old.contains(level) { changed.append(level) }
        for level in old where !new.contains(where: { $0.price == level.price }) {
            changed.append(DepthLevel(price: level.price, quantity: 0, numOrders: 0))
        }
        return changed
    }

    private func scaled(_ record: IntradayRecord) -> IntradayRecord {
        var r = record
        r.high *= priceMultiplier
        r.low *= priceMultiplier
        r.close *= priceMultiplier
        if r.kind == .bar { r.open *= priceMultiplier }
        return r
    }

    /// The epoch names the file's contents by its first record (FNV-1a of its 40 bytes): the same
    /// file gives the same epoch after a bridge restart; a rewrite with other data gives another.
    static func epoch(of record: IntradayRecord) -> String {
        var bytes: [UInt8] = []
        IntradayFormat.encodeRecord(record, into: &bytes)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The index of the last trade before record `end`, looked for among the ``lookbackRecords``
    /// before it (-1 if there is none).
    static func lastTrade(before end: Int, in reader: RecordReader<IntradayFormat>) -> Int {
        var found = -1
        reader.forEachBackwards(before: end, limit: lookbackRecords) { index, record in
            guard record.isTrade else { return true }
            found = index
            return false
        }
        return found
    }

    // MARK: - Replay

    /// The trades after a resume point.
    public enum Replay {
        case trades([FeedTrade], fromMemory: Bool)
        /// More than the limit: the client is too far behind to replay.
        case tooOld
        /// The file no longer holds them (it shrank, vanished or could not be read).
        case unavailable
    }

    /// The trades after record `seq`, at most `limit`: from memory when the oldest one wanted is
    /// still held, else read back from the file, from `seq + 1` to what was read so far.
    public func trades(after seq: Int, limit: Int) -> Replay {
        guard seq < lastTradeIndex else { return .trades([], fromMemory: true) }
        if let oldest = recent.first, oldest.prev <= seq {
            // Every trade after `seq` is held: find the first with a binary search.
            var low = 0
            var high = recent.count
            while low < high {
                let mid = (low + high) / 2
                if recent[mid].seq <= seq { low = mid + 1 } else { high = mid }
            }
            guard recent.count - low <= limit else { return .tooOld }
            return .trades(Array(recent[low...]), fromMemory: true)
        }
        guard let reader = RecordReader<IntradayFormat>(path: tailer.path) else { return .unavailable }
        var prev = Self.lastTrade(before: seq + 1, in: reader)
        var result: [FeedTrade] = []
        var tooMany = false
        let complete = reader.forEach(in: (seq + 1)..<tailer.nextIndex) { index, record in
            guard record.isTrade else { return true }
            guard result.count < limit else {
                tooMany = true
                return false
            }
            result.append(FeedTrade(seq: index, prev: prev, record: priceMultiplier != 1 ? scaled(record) : record))
            prev = index
            return true
        }
        if tooMany { return .tooOld }
        return complete ? .trades(result, fromMemory: false) : .unavailable
    }
}
