import BridgeWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

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

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }
}

/// One client's subscription to one symbol (a contract name or a root).
struct Subscription {
    var outbox: ClientOutbox
    var channels: ChannelSet
}

/// The bridge's core: discovers the data folder's contracts, keeps one ``ContractFeed`` per
/// contract, maps roots to their active contract, and fans every change out to the subscribed
/// clients' outboxes — encoding each update once.
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

    private var feeds: [String: ContractFeed] = [:]
    private var roots: [String: String] = [:]
    /// Subscriptions by the symbol the client named, then by client id.
    private var subscriptions: [String: [Int: Subscription]] = [:]
    private var clientSymbols: [Int: Set<String>] = [:]
    private var subscriptionCount = 0
    /// With trace timestamps: when the watcher woke for the pump under way (Unix µs).
    private var traceWake: Int64?

    public init(configuration: HubConfiguration, metrics: BridgeMetrics, logger: Logger) {
        self.configuration = configuration
        self.folder = DataFolder(path: configuration.dataDirectory)
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: - Files

    /// Looks for new contracts and new depth days, and loads them. Returns the contracts found.
    @discardableResult
    public func refresh() -> [String] {
        let files = folder.intradayFiles()
        let depth = folder.latestDepthFiles()
        return lock.withLock {
            for file in files where feeds[file.contract.name] == nil && (configuration.includeRoots?.contains(file.contract.root) ?? true) {
                let multiplier = configuration.priceMultipliers[file.contract.name] ?? configuration.priceMultipliers[file.contract.root] ?? 1
                let feed = ContractFeed(
                    contract: file.contract,
                    folder: folder,
                    priceMultiplier: multiplier,
                    depthLevels: configuration.depthLevels,
                    historyLimit: configuration.historyLimit,
                    logger: logger
                )
                feeds[file.contract.name] = feed
                logger.info("found contract", metadata: ["contract": "\(file.contract.name)", "root": "\(file.contract.root)"])
            }
            for (contract, file) in depth {
                feeds[contract]?.followDepth(file: file)
            }
            pumpLocked(nil, detectedAt: nil)
            return feeds.keys.sorted()
        }
    }

    /// Reads new data for the named contracts (all when nil) and fans it out.
    /// `detectedAt` (monotonic ns) is when the watcher woke, for the detection-to-send metric.
    public func pump(_ contracts: Set<String>? = nil, detectedAt: UInt64? = nil) {
        lock.withLock { pumpLocked(contracts, detectedAt: detectedAt) }
    }

    private func pumpLocked(_ contracts: Set<String>?, detectedAt: UInt64?) {
        var sent = false
        if configuration.traceTimestamps {
            let now = WallClock.nowMicroseconds()
            traceWake = detectedAt.map { now - Int64((WallClock.monotonicNanoseconds() &- $0) / 1000) } ?? now
        }
        defer { traceWake = nil }
        for (name, feed) in feeds where contracts?.contains(name) ?? true {
            let changes = feed.pump()
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

    /// Re-evaluates which contract each root means; tells root subscribers about a rollover.
    private func updateRoots() {
        let active = DataFolder.activeContracts(feeds.values, contract: \.contract, recordCount: \.recordCount)
        for (root, feed) in active where roots[root] != feed.contract.name {
            let previous = roots[root]
            roots[root] = feed.contract.name
            guard previous != nil else { continue }
            logger.info("rollover", metadata: ["root": "\(root)", "from": "\(previous ?? "-")", "to": "\(feed.contract.name)"])
            let message = control(ServerMessages.rollover(root: root, from: previous, to: feed.contract.name), event: "rollover")
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
            let reset = control(ServerMessages.reset(source, reason: reason), event: "reset")
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
                event: "trade",
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
                event: "quote",
                source,
                seq: state.seq
            )
            let full = Lazy {
                self.market(
                    ServerMessages.quote(source, seq: state.seq, t: state.updatedUnixMicroseconds, bid: state.bid, ask: state.ask, full: true),
                    event: "quote",
                    source,
                    seq: state.seq
                )
            }
            for target in targets where target.channels.contains(.quotes) {
                target.outbox.enqueue(delta, channel: .quotes, full: full.get)
            }
        }
        if changes.stats.stats {
            let delta = market(ServerMessages.stats(source, state: state, change: changes.stats, full: false), event: "stats", source, seq: state.seq)
            let full = Lazy {
                self.market(ServerMessages.stats(source, state: state, change: StateChange(), full: true), event: "stats", source, seq: state.seq)
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
                event: "depth",
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
                    event: "depth",
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

    private func market(_ bytes: [UInt8], event: String, _ source: ServerMessages.Source, seq: Int) -> OutboundMessage {
        if let wake = traceWake, bytes.count > 1 {
            // `…}` becomes `…,"tw":WAKE,"tq":QUEUED}`: encoded once, like the rest of the message.
            let traced = bytes.dropLast() + Array(",\"tw\":\(wake),\"tq\":\(WallClock.nowMicroseconds())}".utf8)
            return OutboundMessage(json: traced, event: event, contract: source.contract, epoch: source.epoch, seq: seq)
        }
        return OutboundMessage(json: bytes, event: event, contract: source.contract, epoch: source.epoch, seq: seq)
    }

    private func control(_ bytes: [UInt8], event: String) -> OutboundMessage {
        OutboundMessage(json: bytes, event: event)
    }

    private func snapshotMessage(_ feed: ContractFeed) -> OutboundMessage {
        market(ServerMessages.snapshot(feed.state), event: "snapshot", feed.source, seq: feed.state.seq)
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
                    ServerMessages.subscription("subscribed", id: request.id, resolved: result.resolved, channels: requested),
                    event: "subscribed"
                ),
                channel: nil
            )
            for refusal in result.refused {
                outbox.enqueue(
                    control(ServerMessages.error(code: refusal.code, message: refusal.message, id: request.id), event: "error"),
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
                done[symbol] = resolveLocked(symbol)?.contract.name ?? symbol
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
                    event: "not_recovered"
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
                market(ServerMessages.trade(source, seq: trade.seq, prev: trade.prev, record: trade.record), event: "trade", source, seq: trade.seq),
                channel: .trades
            )
        }
        if announce {
            let origin = fromMemory ? "memory" : "file"
            metrics.resume(origin)
            outbox.enqueue(
                control(ServerMessages.resumed(source, from: seq + 1, to: feed.state.seq, replayed: trades.count, origin: origin), event: "resumed"),
                channel: nil
            )
        }
        return replay
    }

    // MARK: - Queries

    /// A symbol is a contract name or a root from the discovered set, never a path.
    public func resolve(_ symbol: String) -> String? {
        lock.withLock { resolveLocked(symbol)?.contract.name }
    }

    private func resolveLocked(_ symbol: String) -> ContractFeed? {
        if let feed = feeds[symbol] { return feed }
        if let contract = roots[symbol.uppercased()] { return feeds[contract] }
        return nil
    }

    /// The `snapshot` JSON of a symbol (what `/api/live_data/{symbol}` returns), or nil if unknown.
    public func snapshotJSON(_ symbol: String) -> [UInt8]? {
        lock.withLock { resolveLocked(symbol).map { ServerMessages.snapshot($0.state) } }
    }

    /// The state of every contract.
    public func states() -> [MarketState] {
        lock.withLock { feeds.values.map(\.state).sorted { $0.contract < $1.contract } }
    }

    /// Root → active contract.
    public func activeRoots() -> [String: String] {
        lock.withLock { roots }
    }

    public var contractNames: [String] {
        lock.withLock { feeds.keys.sorted() }
    }

    public var totalSubscriptions: Int { lock.withLock { subscriptionCount } }

    /// Entries in the hub's client tables: clients with symbols, and (symbol, client) pairs. Both
    /// are 0 once every client left; a closed connection must leave nothing here.
    public var clientTableSizes: (clients: Int, subscriptions: Int) {
        lock.withLock { (clientSymbols.count, subscriptions.values.reduce(0) { $0 + $1.count }) }
    }

    /// Paths of the files the hub reads, mapped to their contract (for the watcher).
    public func watchedPaths() -> [String: String] {
        lock.withLock {
            var paths: [String: String] = [:]
            for (name, feed) in feeds {
                paths[name + DataFolder.intradayExtension] = name
                if let depth = feed.depthPath, let file = depth.split(separator: "/").last { paths[String(file)] = name }
            }
            return paths
        }
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
