import BridgeWire
import DequeModule
import Logging
import SierraFormat

/// Everything that changed in one contract during one pump (one read of its files).
public struct FeedChanges: Sendable {
    /// New trades in file order: record index, previous trade's index, and the record (prices scaled).
    public var trades: [(seq: Int, prev: Int, record: IntradayRecord)] = []
    /// The quote, if bid or ask changed: only the changed sides are set.
    public var quote: (bid: Float?, ask: Float?)?
    public var stats = StateChange()
    /// Changed depth levels (quantity 0 = removed), if a depth batch ended.
    public var depth: (bids: [DepthLevel], asks: [DepthLevel])?
    /// The depth book started over (a new day's file): send it whole, not as a delta.
    public var depthRestarted = false
    /// The file was rewritten or replaced: state restarted under a new epoch.
    public var reset: String?
    public var recordsRead = 0

    public var isEmpty: Bool {
        trades.isEmpty && quote == nil && !stats.stats && depth == nil && reset == nil
    }
}

/// One contract's files and state: tails its `.scid` file and current `.depth` file, applies the
/// records to a ``MarketState``, and remembers enough to replay trades for a resuming client.
///
/// Not thread-safe: the ``MarketHub`` owns it under its lock.
public final class ContractFeed {
    public let contract: ContractSymbol
    public let priceMultiplier: Float
    public private(set) var state: MarketState
    /// Record index of every trade in the file, in order (4 bytes a trade), so that a resume can
    /// find the trades after any sequence number and tell each one's predecessor.
    public private(set) var tradeIndices: [UInt32] = []
    /// The most recent trades, for resumes served from memory.
    public private(set) var recent: Deque<(seq: Int, prev: Int, record: IntradayRecord)> = []
    public let historyLimit: Int

    private let folder: DataFolder
    private let tailer: FileTailer<IntradayFormat>
    private var depthTailer: FileTailer<DepthFormat>?
    private var depthBuilder: DepthBookBuilder
    private let depthLevels: Int
    private let logger: Logger

    public init(
        contract: ContractSymbol,
        folder: DataFolder,
        priceMultiplier: Float = 1,
        depthLevels: Int = 10,
        historyLimit: Int = 50_000,
        logger: Logger
    ) {
        self.contract = contract
        self.folder = folder
        self.priceMultiplier = priceMultiplier
        self.depthLevels = depthLevels
        self.historyLimit = historyLimit
        self.logger = logger
        self.state = MarketState(contract: contract.name, root: contract.root, epoch: Self.emptyEpoch)
        self.tailer = FileTailer(path: folder.intradayPath(contract: contract.name))
        self.depthBuilder = DepthBookBuilder(maxLevels: depthLevels)
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

    /// Reads everything new from both files and applies it.
    public func pump() -> FeedChanges {
        var changes = FeedChanges()
        let before = (bid: state.bid, ask: state.ask)
        pumpIntraday(&changes)
        pumpDepth(&changes)
        if changes.reset == nil, state.bid != before.bid || state.ask != before.ask {
            changes.quote = (state.bid != before.bid ? state.bid : nil, state.ask != before.ask ? state.ask : nil)
        }
        return changes
    }

    private func pumpIntraday(_ changes: inout FeedChanges) {
        while true {
            let progress = tailer.poll { item in
                switch item {
                case .event(let event):
                    handle(event, &changes)
                case .record(let index, var record):
                    if priceMultiplier != 1 { record = scaled(record) }
                    if index == 0 { state.epoch = Self.epoch(of: record) }
                    let change = state.apply(record, seq: index)
                    changes.recordsRead += 1
                    changes.stats.open = changes.stats.open || change.open
                    changes.stats.high = changes.stats.high || change.high
                    changes.stats.low = changes.stats.low || change.low
                    changes.stats.volume = changes.stats.volume || change.volume
                    if change.trade {
                        let prev = tradeIndices.last.map(Int.init) ?? -1
                        tradeIndices.append(UInt32(truncatingIfNeeded: index))
                        recent.append((index, prev, record))
                        if recent.count > historyLimit { recent.removeFirst() }
                        changes.trades.append((index, prev, record))
                    }
                }
            }
            if !progress.hasMore { break }
        }
    }

    private func handle(_ event: TailEvent, _ changes: inout FeedChanges) {
        switch event {
        case .rewritten(let reason):
            logger.warning("file rewritten; reading it again from the start", metadata: ["contract": "\(contract.name)", "reason": "\(reason)"])
            let depth = (state.depthFile, state.depthSeq, state.bids, state.asks)
            state = MarketState(contract: contract.name, root: contract.root, epoch: Self.emptyEpoch)
            (state.depthFile, state.depthSeq, state.bids, state.asks) = depth
            tradeIndices.removeAll()
            recent.removeAll()
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

    private func pumpDepth(_ changes: inout FeedChanges) {
        guard let depthTailer else { return }
        var published: DepthBook?
        var lastBatchSeq = state.depthSeq
        while true {
            let progress = depthTailer.poll { item in
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

    // MARK: - Replay

    /// Trades after `seq`: (first trade position in `tradeIndices`, count).
    public func tradesAfter(seq: Int) -> Range<Int> {
        var low = 0
        var high = tradeIndices.count
        while low < high {
            let mid = (low + high) / 2
            if Int(tradeIndices[mid]) <= seq { low = mid + 1 } else { high = mid }
        }
        return low..<tradeIndices.count
    }

    /// The trades at positions `range` of `tradeIndices`, from memory when recent enough, else
    /// read back from the file. Returns nil if the file no longer holds them.
    public func trades(at range: Range<Int>) -> (trades: [(seq: Int, prev: Int, record: IntradayRecord)], fromMemory: Bool)? {
        guard !range.isEmpty else { return ([], true) }
        let firstSeq = Int(tradeIndices[range.lowerBound])
        if let oldest = recent.first, oldest.seq <= firstSeq {
            let skip = recent.count - range.count
            return (Array(recent.dropFirst(skip)), true)
        }
        // Older than memory: read the file from the first wanted record to the last.
        let reader = FileTailer<IntradayFormat>(path: tailer.path, startIndex: firstSeq)
        var wanted = Set(range.map { Int(tradeIndices[$0]) })
        var result: [(seq: Int, prev: Int, record: IntradayRecord)] = []
        result.reserveCapacity(range.count)
        var prev = range.lowerBound > 0 ? Int(tradeIndices[range.lowerBound - 1]) : -1
        let lastSeq = Int(tradeIndices[range.upperBound - 1])
        var failed = false
        while !wanted.isEmpty, !failed {
            let progress = reader.poll { item in
                switch item {
                case .event(.rewritten), .event(.missing), .event(.invalid):
                    failed = true
                case .event:
                    break
                case .record(let index, var record):
                    guard index <= lastSeq, wanted.remove(index) != nil else { return }
                    if priceMultiplier != 1 { record = scaled(record) }
                    result.append((index, prev, record))
                    prev = index
                }
            }
            if !progress.hasMore { break }
        }
        return failed || !wanted.isEmpty ? nil : (result, false)
    }
}
