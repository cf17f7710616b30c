import BridgeWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// Settings of the hub.
public struct HubConfiguration: Sendable {
    public var dataDirectory: String
    /// Depth levels per side kept and sent.
    public var depthLevels = 10
    /// Trades kept in memory per contract for resumes; older ones are read back from the file.
    public var historyLimit = 50_000
    /// Most trades replayed for one resume; a client further behind gets `not_recovered` and a snapshot.
    public var maxReplay = 10_000
    /// Price multiplier per contract name or root (raw file units × multiplier = display price).
    public var priceMultipliers: [String: Float] = [:]
    public var maxSubscriptionsPerClient = 64
    /// Serve only these roots (nil: every contract found). A real Sierra Chart folder can hold
    /// hundreds of files; loading only the traded ones keeps start-up and memory small.
    public var includeRoots: Set<String>?
    /// Market updates carry the bridge's wake-up (`tw`) and queued (`tq`) times, Unix µs, so a
    /// client on the same machine can tell where the time went (docs/PROTOCOL.md).
    public var traceTimestamps = false
    /// Seconds a contract nobody needs stays tailed before its files are closed (it is opened again
    /// on demand: resume and snapshots read from file positions).
    public var idleCloseSeconds = 30.0
    /// Most contracts tailed at once (two descriptors each). Opening one more first closes the
    /// least recently needed contract nobody subscribes to; subscribed contracts are always
    /// served. Nil: a quarter of the descriptor limit, less a reserve for connections.
    public var maxTailedContracts: Int?

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }
}

/// One client's subscription to one symbol (a contract name or a root).
struct Subscription {
    var outbox: ClientOutbox
    var channels: ChannelSet
}

/// The bridge's core: discovers the data folder's contracts, maps roots to their active contract,
/// tails the contracts someone needs with one ``ContractFeed`` each, and fans every change out to
/// the subscribed clients' outboxes — encoding each update once.
///
/// A Data folder holds a file for every contract the trader ever opened, most of them expired:
/// discovery reads the directory listing only (a contract's record count comes from its size), and
/// a contract is tailed while it is needed — by a subscriber, a poller's recent request, or as the
/// active contract of a root with subscribers (for rollover). One nobody needs costs an entry in a
/// table, no descriptor and no memory; it is closed ``HubConfiguration/idleCloseSeconds`` after its
/// last use and opened again on demand.
///
/// All state sits behind one lock. The watcher thread calls ``refresh()`` and ``pump(_:)``;
/// connection handlers call ``subscribe(_:request:)`` and friends. A snapshot and the updates after
/// it are queued under the same lock, so nothing slips between them.
public final class MarketHub: @unchecked Sendable {
    public let configuration: HubConfiguration
    public let folder: DataFolder
    public let metrics: BridgeMetrics
    private let logger: Logger
    private let lock = NIOLock()

    /// Every contract in the folder, as its listing shows it.
    private var entries: [String: DataFolder.IntradayFile] = [:]
    /// Each contract's newest depth file.
    private var depthFiles: [String: DataFolder.DepthFile] = [:]
    /// The contracts being tailed.
    private var feeds: [String: ContractFeed] = [:]
    /// When each tailed contract was last needed (monotonic ns).
    private var lastNeeded: [String: UInt64] = [:]
    /// Connections that follow every root's active contract (dashboards).
    private var rootWatchers = 0
    private var roots: [String: String] = [:]
    /// Which contract a root means changes only when the listing does or an empty contract gets
    /// its first records: re-evaluated then, not on every pump (it is a pass over every contract).
    private var rootsDirty = true
    /// The folders' modification times at the last listing.
    private var listedStamp: [Int64] = []
    /// Bumped whenever the files worth watching change (a contract tailed or closed, a listing).
    private var watchGeneration = 0
    private var watchChanged: (@Sendable () -> Void)?
    /// Subscriptions by the symbol the client named, then by client id.
    private var subscriptions: [String: [Int: Subscription]] = [:]
    private var clientSymbols: [Int: Set<String>] = [:]
    private var subscriptionCount = 0
    /// With trace timestamps: when the watcher woke for the pump under way (Unix µs).
    private var traceWake: Int64?

    /// See ``HubConfiguration/maxTailedContracts``.
    public let maxTailedContracts: Int

    public init(configuration: HubConfiguration, metrics: BridgeMetrics, logger: Logger) {
        self.configuration = configuration
        var limit = rlimit()
        let descriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(min(limit.rlim_cur, 1 << 20)) : 1_024
        self.maxTailedContracts = configuration.maxTailedContracts ?? max(4, (descriptors - 32) / 4)
        self.folder = DataFolder(path: configuration.dataDirectory)
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: - Files

    /// Lists the folder: which contracts and depth days exist, which contract each root means.
    /// Opens nothing but what is needed. Returns every contract found.
    @discardableResult
    public func refresh() -> [String] {
        // The folders' times before the listing: a change during it is seen at the next recheck.
        let stamp = folderStamp()
        let files = folder.intradayFiles()
        let depth = folder.latestDepthFiles()
        return lock.withLock {
            listedStamp = stamp
            var listed: [String: DataFolder.IntradayFile] = [:]
            for file in files where configuration.includeRoots?.contains(file.contract.root) ?? true {
                listed[file.contract.name] = file
                if entries[file.contract.name] == nil {
                    logger.debug("found contract", metadata: ["contract": "\(file.contract.name)", "root": "\(file.contract.root)"])
                }
            }
            entries = listed
            depthFiles = depth
            rootsDirty = true
            for (contract, feed) in feeds {
                if let file = depth[contract] { feed.followDepth(file: file) }
            }
            watchTargetsChangedLocked()
            pumpLocked(nil, detectedAt: nil, checkPaths: true)
            sweepLocked()
            return entries.keys.sorted()
        }
    }

    /// The folder's listing, again only if the folders' modification times say a file came or
    /// went (one `stat` each); otherwise only the empty contracts are looked at (a rollover's new
    /// file getting its first records). A missed directory event costs at most a check interval.
    public func recheck() {
        let stamp = folderStamp()
        if lock.withLock({ stamp != listedStamp }) {
            refresh()
            return
        }
        let empty = lock.withLock { entries.values.filter { $0.recordCount == 0 && feeds[$0.contract.name] == nil } }
        touched(Set(empty.map { $0.contract.name + DataFolder.intradayExtension }))
    }

    /// The folders' modification times (ns; -1 for one that cannot be read).
    private func folderStamp() -> [Int64] {
        [folder.path, folder.depthPath].map { path -> Int64 in
            var info = stat()
            guard stat(path, &info) == 0 else { return -1 }
            return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        }
    }

    /// Files that changed but are not tailed (`NQH26-CME.scid`). An empty one is looked at again,
    /// so a new contract's first records are seen (a rollover) without listing the folder; the
    /// others' sizes wait for the next listing.
    public func touched(_ fileNames: Set<String>) {
        lock.withLock {
            var changed = false
            for name in fileNames where name.hasSuffix(DataFolder.intradayExtension) {
                let contract = String(name.dropLast(DataFolder.intradayExtension.count))
                guard feeds[contract] == nil, var entry = entries[contract], entry.recordCount == 0 else { continue }
                var info = stat()
                guard stat(folder.path + "/" + name, &info) == 0 else { continue }
                if entry.size != Int(info.st_size) {
                    entry.size = Int(info.st_size)
                    entries[contract] = entry
                    changed = true
                }
            }
            if changed {
                rootsDirty = true
                updateRoots()
                watchTargetsChangedLocked()
            }
        }
    }

    private func sweepLocked() {
        let now = WallClock.monotonicNanoseconds()
        let idle = UInt64(max(0, configuration.idleCloseSeconds) * 1e9)
        for (name, feed) in feeds {
            if isNeededLocked(feed) {
                lastNeeded[name] = now
            } else if now &- (lastNeeded[name] ?? 0) >= idle {
                closeLocked(name)
            }
        }
    }

    private func closeLocked(_ name: String) {
        guard let feed = feeds.removeValue(forKey: name) else { return }
        lastNeeded[name] = nil
        // The size it reached is what the listing would say now.
        if var entry = entries[name] {
            entry.size = max(entry.size, IntradayFormat.headerSize + feed.recordCount * IntradayFormat.recordSize)
            entries[name] = entry
        }
        metrics.tailedContracts.record(feeds.count)
        watchTargetsChangedLocked()
        logger.debug("closed contract nobody needs", metadata: ["contract": "\(name)"])
    }

    private func isNeededLocked(_ feed: ContractFeed) -> Bool {
        let name = feed.contract.name
        if subscriptions[name]?.isEmpty == false { return true }
        let root = feed.contract.root
        return roots[root] == name && (rootWatchers > 0 || subscriptions[root]?.isEmpty == false)
    }

    /// The feed of a contract, opened if it is not tailed yet (nil: no such contract).
    private func openLocked(_ name: String) -> ContractFeed? {
        if let feed = feeds[name] { return feed }
        guard let entry = entries[name] else { return nil }
        if feeds.count >= maxTailedContracts {
            // The descriptor bound: make room by closing the least recently needed idle contract.
            let idle = feeds.values.filter { !isNeededLocked($0) }.min { (lastNeeded[$0.contract.name] ?? 0) < (lastNeeded[$1.contract.name] ?? 0) }
            if let idle { closeLocked(idle.contract.name) }
        }
        let multiplier = configuration.priceMultipliers[name] ?? configuration.priceMultipliers[entry.contract.root] ?? 1
        let feed = ContractFeed(
            contract: entry.contract,
            folder: folder,
            priceMultiplier: multiplier,
            depthLevels: configuration.depthLevels,
            historyLimit: configuration.historyLimit,
            logger: logger
        )
        if let depth = depthFiles[name] { feed.followDepth(file: depth) }
        // The first read places the tailer at the session: what is there is history, sent to nobody.
        let changes = feed.pump()
        metrics.recordsRead.increment(by: changes.recordsRead)
        feeds[name] = feed
        lastNeeded[name] = WallClock.monotonicNanoseconds()
        metrics.tailedContracts.record(feeds.count)
        watchTargetsChangedLocked()
        logger.debug("tailing contract", metadata: ["contract": "\(name)"])
        return feed
    }

    /// Keeps every root's active contract tailed while a dashboard follows them all.
    public func watchRoots(_ watching: Bool) {
        lock.withLock {
            rootWatchers = max(0, rootWatchers + (watching ? 1 : -1))
            if watching { for contract in roots.values { _ = openLocked(contract) } }
        }
    }

    /// Reads new data for the named contracts (all when nil) and fans it out.
    /// `detectedAt` (monotonic ns) is when the watcher woke, for the detection-to-send metric.
    /// `checkPaths` also checks that each path still names the file being read (a replacement)
    /// and that its first record is unchanged (a rewrite): the watcher asks for it after directory
    /// events and on its periodic listing, not on every append.
    public func pump(_ contracts: Set<String>? = nil, detectedAt: UInt64? = nil, checkPaths: Bool = true) {
        lock.withLock {
            pumpLocked(contracts, detectedAt: detectedAt, checkPaths: checkPaths)
            if contracts == nil { sweepLocked() }
        }
    }

    private func pumpLocked(_ contracts: Set<String>?, detectedAt: UInt64?, checkPaths: Bool) {
        var sent = false
        if configuration.traceTimestamps {
            let now = WallClock.nowMicroseconds()
            traceWake = detectedAt.map { now - Int64((WallClock.monotonicNanoseconds() &- $0) / 1000) } ?? now
        }
        defer { traceWake = nil }
        for (name, feed) in feeds where contracts?.contains(name) ?? true {
            let wasEmpty = feed.recordCount == 0
            let changes = feed.pump(checkPath: checkPaths)
            if wasEmpty != (feed.recordCount == 0) || changes.reset != nil { rootsDirty = true }
            if changes.recordsRead > 0 {
                metrics.recordsRead.increment(by: changes.recordsRead)
                metrics.activity.read(records: changes.recordsRead)
            }
            if !changes.isEmpty {
                sent = fanOut(feed, changes) || sent
            }
        }
        updateRoots()
        if sent, let detectedAt {
            let nanoseconds = WallClock.monotonicNanoseconds() &- detectedAt
            metrics.detectToSend.recordNanoseconds(Int64(nanoseconds))
            metrics.activity.detectToSend(microseconds: nanoseconds / 1000)
        }
    }

    /// Re-evaluates which contract each root means (tailed contracts by what was read, the others
    /// by their size); tells root subscribers about a rollover.
    private func updateRoots() {
        guard rootsDirty else { return }
        rootsDirty = false
        let counts = entries.values.map { entry in (entry.contract, feeds[entry.contract.name]?.recordCount ?? entry.recordCount) }
        let active = DataFolder.activeContracts(counts, contract: \.0, recordCount: \.1)
        for (root, (contract, _)) in active where roots[root] != contract.name {
            let previous = roots[root]
            roots[root] = contract.name
            guard previous != nil else { continue }
            logger.info("rollover", metadata: ["root": "\(root)", "from": "\(previous ?? "-")", "to": "\(contract.name)"])
            let followed = rootWatchers > 0 || subscriptions[root]?.isEmpty == false
            guard followed, let feed = openLocked(contract.name) else { continue }
            let message = control(ServerMessages.rollover(root: root, from: previous, to: feed.contract.name), event: .rollover)
            for (_, subscription) in subscriptions[root] ?? [:] {
                subscription.outbox.enqueue(message, channel: nil)
                // Everything the new contract holds so far, then its state.
                if subscription.channels.contains(.trades) {
                    replay(feed, after: -1, to: subscription.outbox, announce: false)
                }
                subscription.outbox.enqueue(snapshotMessage(feed), channel: nil)
            }
        }
    }

    // MARK: - Fan-out

    /// The subscribers of a contract: by its name, and by its root while it is the active contract.
    private func subscribers(of feed: ContractFeed) -> [Subscription] {
        var result = Array((subscriptions[feed.contract.name] ?? [:]).values)
        if roots[feed.contract.root] == feed.contract.name, let byRoot = subscriptions[feed.contract.root] {
            if result.isEmpty {
                result = Array(byRoot.values)
            } else {
                var byClient: [Int: Int] = [:]
                for (index, subscription) in result.enumerated() { byClient[subscription.outbox.id] = index }
                for subscription in byRoot.values {
                    if let index = byClient[subscription.outbox.id] {
                        result[index].channels.formUnion(subscription.channels)
                    } else {
                        result.append(subscription)
                    }
                }
            }
        }
        return result
    }

    /// Encodes each change once and queues the bytes for every subscriber that wants them.
    private func fanOut(_ feed: ContractFeed, _ changes: FeedChanges) -> Bool {
        let targets = subscribers(of: feed)
        guard !targets.isEmpty else { return false }
        var slow: [ClientOutbox] = []
        let source = feed.source
        let state = feed.state

        if let reason = changes.reset {
            let reset = control(ServerMessages.reset(source, reason: reason), event: .reset)
            let snapshot = snapshotMessage(feed)
            for target in targets {
                target.outbox.enqueue(reset, channel: nil)
                target.outbox.enqueue(snapshot, channel: nil)
            }
            return true
        }

        for trade in changes.trades {
            let message = market(
                ServerMessages.trade(source, seq: trade.seq, prev: trade.prev, record: trade.record),
                event: .trade,
                source,
                seq: trade.seq
            )
            for target in targets where target.channels.contains(.trades) {
                if !target.outbox.enqueue(message, channel: .trades) { slow.append(target.outbox) }
            }
        }
        if let quote = changes.quote {
            let delta = market(
                ServerMessages.quote(source, seq: state.seq, t: state.updatedUnixMicroseconds, bid: quote.bid, ask: quote.ask, full: false),
                event: .quote,
                source,
                seq: state.seq
            )
            let full = Lazy {
                self.market(
                    ServerMessages.quote(source, seq: state.seq, t: state.updatedUnixMicroseconds, bid: state.bid, ask: state.ask, full: true),
                    event: .quote,
                    source,
                    seq: state.seq
                )
            }
            for target in targets where target.channels.contains(.quotes) {
                target.outbox.enqueue(delta, channel: .quotes, full: full.get)
            }
        }
        if changes.stats.stats {
            let delta = market(ServerMessages.stats(source, state: state, change: changes.stats, full: false), event: .stats, source, seq: state.seq)
            let full = Lazy {
                self.market(ServerMessages.stats(source, state: state, change: StateChange(), full: true), event: .stats, source, seq: state.seq)
            }
            for target in targets where target.channels.contains(.stats) {
                target.outbox.enqueue(delta, channel: .stats, full: full.get)
            }
        }
        if let depth = changes.depth {
            let file = state.depthFile ?? ""
            // The first book of a new day's file replaces the client's: it goes out whole.
            let restarted = changes.depthRestarted
            let delta = market(
                ServerMessages.depth(
                    source,
                    seq: state.depthSeq,
                    t: state.updatedUnixMicroseconds,
                    file: file,
                    bids: restarted ? state.bids : depth.bids,
                    asks: restarted ? state.asks : depth.asks,
                    full: restarted
                ),
                event: .depth,
                source,
                seq: state.depthSeq
            )
            let full = Lazy {
                self.market(
                    ServerMessages.depth(
                        source,
                        seq: state.depthSeq,
                        t: state.updatedUnixMicroseconds,
                        file: file,
                        bids: state.bids,
                        asks: state.asks,
                        full: true
                    ),
                    event: .depth,
                    source,
                    seq: state.depthSeq
                )
            }
            for target in targets where target.channels.contains(.depth) {
                target.outbox.enqueue(delta, channel: .depth, full: full.get)
            }
        }
        for outbox in slow { dropLocked(outbox.id, reason: "slow_consumer") }
        return true
    }

    private func market(_ bytes: [UInt8], event: MessageType, _ source: ServerMessages.Source, seq: Int) -> OutboundMessage {
        if let wake = traceWake, bytes.count > 1 {
            // `…}` becomes `…,"tw":WAKE,"tq":QUEUED}`: encoded once, like the rest of the message.
            let traced = bytes.dropLast() + Array(",\"tw\":\(wake),\"tq\":\(WallClock.nowMicroseconds())}".utf8)
            return OutboundMessage(json: traced, type: event, contract: source.contract, epoch: source.epoch, seq: seq)
        }
        return OutboundMessage(json: bytes, type: event, contract: source.contract, epoch: source.epoch, seq: seq)
    }

    private func control(_ bytes: [UInt8], event: MessageType) -> OutboundMessage {
        OutboundMessage(json: bytes, type: event)
    }

    private func snapshotMessage(_ feed: ContractFeed) -> OutboundMessage {
        market(ServerMessages.snapshot(feed.state), event: .snapshot, feed.source, seq: feed.state.seq)
    }

    // MARK: - Clients

    /// The result of a subscribe: which symbols resolved to which contract, and which were refused.
    public struct SubscribeResult: Sendable {
        public var resolved: [String: String] = [:]
        public var refused: [(symbol: String, code: ErrorCode, message: String)] = []
    }

    /// Subscribes a client: queues the `subscribed` acknowledgement (and an `error` for each symbol
    /// refused), then for each symbol an optional resume (trades replayed from memory or the file)
    /// and a snapshot; live updates follow in order.
    @discardableResult
    public func subscribe(_ outbox: ClientOutbox, request: ClientRequest) -> SubscribeResult {
        let requested = request.channels ?? MarketChannel.allCases
        let channels = ChannelSet(requested)
        return lock.withLock {
            var result = SubscribeResult()
            var owned = clientSymbols[outbox.id] ?? []
            var accepted: [(String, ContractFeed)] = []
            for symbol in request.symbols ?? [] where result.resolved[symbol] == nil {
                guard let feed = resolveLocked(symbol) else {
                    result.refused.append((symbol, .unknownSymbol, "unknown symbol \"\(Self.printable(symbol))\"; see /api/symbols"))
                    continue
                }
                if !owned.contains(symbol), owned.count >= configuration.maxSubscriptionsPerClient {
                    result.refused.append((symbol, .tooManySubscriptions, "at most \(configuration.maxSubscriptionsPerClient) symbols per client"))
                    continue
                }
                result.resolved[symbol] = feed.contract.name
                let existing = subscriptions[symbol]?[outbox.id]?.channels ?? []
                if !owned.contains(symbol) { subscriptionCount += 1 }
                owned.insert(symbol)
                subscriptions[symbol, default: [:]][outbox.id] = Subscription(outbox: outbox, channels: existing.union(channels))
                accepted.append((symbol, feed))
            }
            clientSymbols[outbox.id] = owned
            metrics.subscriptions.record(subscriptionCount)

            outbox.enqueue(
                control(
                    ServerMessages.subscription(.subscribed, id: request.id, resolved: result.resolved, channels: requested),
                    event: .subscribed
                ),
                channel: nil
            )
            for refusal in result.refused {
                outbox.enqueue(
                    control(ServerMessages.error(code: refusal.code, message: refusal.message, id: request.id), event: .error),
                    channel: nil
                )
            }
            for (symbol, feed) in accepted {
                if channels.contains(.trades), let point = request.resume?[symbol] {
                    resumeLocked(feed, point: point, outbox: outbox)
                }
                outbox.enqueue(snapshotMessage(feed), channel: nil)
            }
            return result
        }
    }

    /// Removes channels (all when `channels` is nil) of the named symbols.
    public func unsubscribe(_ outbox: ClientOutbox, symbols: [String], channels: [MarketChannel]?) -> [String: String] {
        lock.withLock {
            var done: [String: String] = [:]
            for symbol in symbols {
                guard var subscription = subscriptions[symbol]?[outbox.id] else { continue }
                done[symbol] = contractNameLocked(symbol) ?? symbol
                subscription.channels.subtract(channels.map { ChannelSet($0) } ?? .all)
                if subscription.channels.isEmpty {
                    subscriptions[symbol]?[outbox.id] = nil
                    clientSymbols[outbox.id]?.remove(symbol)
                    subscriptionCount -= 1
                } else {
                    subscriptions[symbol]?[outbox.id] = subscription
                }
            }
            metrics.subscriptions.record(subscriptionCount)
            return done
        }
    }

    /// Forgets a client (after its connection ended).
    public func remove(_ outbox: ClientOutbox) {
        lock.withLock { dropLocked(outbox.id, reason: nil) }
    }

    private func dropLocked(_ id: Int, reason: String?) {
        for symbol in clientSymbols.removeValue(forKey: id) ?? [] {
            if subscriptions[symbol]?.removeValue(forKey: id) != nil { subscriptionCount -= 1 }
            if subscriptions[symbol]?.isEmpty == true { subscriptions[symbol] = nil }
        }
        if let reason { metrics.queueDrop(reason) }
        metrics.subscriptions.record(subscriptionCount)
    }

    private func resumeLocked(_ feed: ContractFeed, point: ClientRequest.ResumePoint, outbox: ClientOutbox) {
        let source = feed.source
        func refuse(_ reason: String) {
            metrics.resume("not_recovered")
            outbox.enqueue(
                control(
                    ServerMessages.notRecovered(source, reason: reason, requestedEpoch: point.epoch, requestedSeq: point.seq),
                    event: .notRecovered
                ),
                channel: nil
            )
        }
        if point.epoch != feed.state.epoch {
            refuse("epoch_changed")
        } else if point.seq > feed.state.seq {
            refuse("ahead_of_file")
        } else {
            switch replay(feed, after: point.seq, to: outbox, announce: true) {
            case .trades: break
            case .tooOld: refuse("too_old")
            case .unavailable: refuse("history_unavailable")
            }
        }
    }

    /// Queues the trades after `seq` (all of them, or none when they cannot all be replayed).
    @discardableResult
    private func replay(_ feed: ContractFeed, after seq: Int, to outbox: ClientOutbox, announce: Bool) -> ContractFeed.Replay {
        let replay = feed.trades(after: seq, limit: configuration.maxReplay)
        guard case .trades(let trades, let fromMemory) = replay else { return replay }
        let source = feed.source
        for trade in trades {
            outbox.enqueue(
                market(ServerMessages.trade(source, seq: trade.seq, prev: trade.prev, record: trade.record), event: .trade, source, seq: trade.seq),
                channel: .trades
            )
        }
        if announce {
            let origin = fromMemory ? "memory" : "file"
            metrics.resume(origin)
            outbox.enqueue(
                control(ServerMessages.resumed(source, from: seq + 1, to: feed.state.seq, replayed: trades.count, origin: origin), event: .resumed),
                channel: nil
            )
        }
        return replay
    }

    // MARK: - Queries

    /// A symbol is a contract name or a root from the discovered set, never a path.
    public func resolve(_ symbol: String) -> String? {
        lock.withLock { contractNameLocked(symbol) }
    }

    /// The contract a symbol names: itself, or the root's active contract.
    private func contractNameLocked(_ symbol: String) -> String? {
        if entries[symbol] != nil || feeds[symbol] != nil { return symbol }
        return roots[symbol.uppercased()]
    }

    /// The feed of the contract a symbol names, tailed from now on if it was not.
    private func resolveLocked(_ symbol: String) -> ContractFeed? {
        contractNameLocked(symbol).flatMap { openLocked($0) }
    }

    /// The `snapshot` JSON of a symbol (what `/api/live_data/{symbol}` returns), or nil if unknown.
    /// A request keeps the contract tailed for ``HubConfiguration/idleCloseSeconds``.
    public func snapshotJSON(_ symbol: String) -> [UInt8]? {
        lock.withLock {
            guard let feed = resolveLocked(symbol) else { return nil }
            lastNeeded[feed.contract.name] = WallClock.monotonicNanoseconds()
            return ServerMessages.snapshot(feed.state)
        }
    }

    /// The state of every tailed contract.
    public func states() -> [MarketState] {
        lock.withLock { feeds.values.map(\.state).sorted { $0.contract < $1.contract } }
    }

    /// One contract of the folder as `/api/symbols` lists it: its state when tailed, else what
    /// its listing says.
    public struct CatalogEntry: Sendable {
        public var contract: String
        public var root: String
        public var records: Int
        public var active: Bool
        public var state: MarketState?
    }

    /// Every contract of the folder, tailed or not, by name.
    public func catalog() -> [CatalogEntry] {
        lock.withLock {
            entries.values.sorted { $0.contract < $1.contract }.map { entry in
                let feed = feeds[entry.contract.name]
                return CatalogEntry(
                    contract: entry.contract.name,
                    root: entry.contract.root,
                    records: feed.map { max($0.recordCount, entry.recordCount) } ?? entry.recordCount,
                    active: roots[entry.contract.root] == entry.contract.name,
                    state: feed?.state
                )
            }
        }
    }

    /// Contracts tailed now (open files).
    public var tailedContracts: [String] { lock.withLock { feeds.keys.sorted() } }

    /// Root → active contract.
    public func activeRoots() -> [String: String] {
        lock.withLock { roots }
    }

    /// Every contract in the folder.
    public var contractNames: [String] {
        lock.withLock { entries.keys.sorted() }
    }

    public var contractCount: Int { lock.withLock { entries.count } }

    /// The contracts for a log line: every name of a small folder; of one with hundreds, the
    /// count and what each root means now (every contract is in /api/symbols).
    public var contractSummary: String {
        lock.withLock {
            guard entries.count > 12 else { return entries.keys.sorted().joined(separator: ", ") }
            let active = roots.sorted { $0.key < $1.key }.map { "\($0.key) → \($0.value)" }
            return "\(entries.count) (\(active.joined(separator: ", ")); the rest in /api/symbols)"
        }
    }

    /// What a new WebSocket client's `hello` lists: every contract of a small folder; of one with
    /// hundreds, what each root means now (the rest is in /api/symbols), so a hello stays small.
    public var helloContracts: [String] {
        lock.withLock { entries.count <= 64 ? entries.keys.sorted() : Set(roots.values).sorted() }
    }

    public var totalSubscriptions: Int { lock.withLock { subscriptionCount } }

    /// Entries in the hub's client tables: clients with symbols, and (symbol, client) pairs. Both
    /// are 0 once every client left; a closed connection must leave nothing here.
    public var clientTableSizes: (clients: Int, subscriptions: Int) {
        lock.withLock { (clientSymbols.count, subscriptions.values.reduce(0) { $0 + $1.count }) }
    }

    /// The files worth a watch of their own, by path: the tailed contracts' `.scid` and `.depth`,
    /// and the empty contracts' `.scid` (a rollover starts with a new file's first record). An
    /// append to any other file wakes nothing. With the generation the set belongs to.
    public func watchTargets() -> (generation: Int, paths: [String: String]) {
        lock.withLock {
            var paths: [String: String] = [:]
            for (name, feed) in feeds {
                paths[folder.intradayPath(contract: name)] = name
                if let depth = feed.depthPath { paths[depth] = name }
            }
            for entry in entries.values where entry.recordCount == 0 && feeds[entry.contract.name] == nil {
                paths[folder.intradayPath(contract: entry.contract.name)] = entry.contract.name
            }
            return (watchGeneration, paths)
        }
    }

    /// Whether the files worth watching changed since `generation`.
    public func watchTargetsChanged(since generation: Int) -> Bool {
        lock.withLock { watchGeneration != generation }
    }

    /// Called (from any thread) when the files worth watching change: the watcher wakes for it.
    public func onWatchTargetsChange(_ action: @escaping @Sendable () -> Void) {
        lock.withLock { watchChanged = action }
    }

    private func watchTargetsChangedLocked() {
        watchGeneration += 1
        watchChanged?()
    }

    /// Whether a contract is tailed now.
    public func isTailed(_ contract: String) -> Bool {
        lock.withLock { feeds[contract] != nil }
    }

    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    }

}

/// A value computed at most once, on first use (full messages for conflation are rarely needed).
final class Lazy<Value>: @unchecked Sendable {
    private var value: Value?
    private let make: () -> Value

    init(_ make: @escaping () -> Value) {
        self.make = make
    }

    func get() -> Value {
        if let value { return value }
        let made = make()
        value = made
        return made
    }
}
