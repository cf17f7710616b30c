import BridgeWire
import Clocks
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

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
/// All state sits behind one lock. The file watcher (on its event loop) calls ``refresh()`` and ``pump(_:)``;
/// connection handlers call ``subscribe(_:request:)`` and friends. A snapshot and the updates after
/// it are queued under the same lock, so nothing slips between them.
public final class MarketHub: @unchecked Sendable {
    public let configuration: HubConfiguration
    public let folder: DataFolder
    public let metrics: BridgeMetrics
    let logger: Logger
    let lock = NIOLock()

    /// Every contract in the folder, as its listing shows it.
    var entries: [String: DataFolder.IntradayFile] = [:]
    /// Each contract's newest depth file.
    var depthFiles: [String: DataFolder.DepthFile] = [:]
    /// The contracts being tailed.
    var feeds: [String: ContractFeed] = [:]
    /// When each tailed contract was last needed (monotonic ns).
    var lastNeeded: [String: UInt64] = [:]
    /// Connections that follow every root's active contract (dashboards).
    var rootWatchers = 0
    var roots: [String: String] = [:]
    /// Which contract a root means changes only when the listing does or an empty contract gets
    /// its first records: re-evaluated then, not on every pump (it is a pass over every contract).
    var rootsDirty = true
    /// The folders' modification times at the last listing.
    var listedStamp: [Int64] = []
    /// Bumped whenever the files worth watching change (a contract tailed or closed, a listing).
    var watchGeneration = 0
    var watchChanged: (@Sendable () -> Void)?
    /// Who follows what.
    var table = SubscriptionTable()
    /// Rate caps holding an update, with their client: the timer sends them.
    var heldCaps: [ObjectIdentifier: (cap: RateCap, outbox: ClientOutbox)] = [:]
    /// With trace timestamps: when the watcher woke for the pump under way (Unix µs).
    var traceWake: Int64?

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
    func folderStamp() -> [Int64] {
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

    func sweepLocked() {
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

    func closeLocked(_ name: String) {
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

    func isNeededLocked(_ feed: ContractFeed) -> Bool {
        let name = feed.contract.name
        if table.hasSubscribers(name) { return true }
        let root = feed.contract.root
        return roots[root] == name && (rootWatchers > 0 || table.hasSubscribers(root))
    }

    /// The feed of a contract, opened if it is not tailed yet (nil: no such contract).
    func openLocked(_ name: String) -> ContractFeed? {
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
            barsKept: configuration.barsKept,
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

    func pumpLocked(_ contracts: Set<String>?, detectedAt: UInt64?, checkPaths: Bool) {
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
    func updateRoots() {
        guard rootsDirty else { return }
        rootsDirty = false
        let counts = entries.values.map { entry in (entry.contract, feeds[entry.contract.name]?.recordCount ?? entry.recordCount) }
        let active = DataFolder.activeContracts(counts, contract: \.0, recordCount: \.1)
        for (root, (contract, _)) in active where roots[root] != contract.name {
            let previous = roots[root]
            roots[root] = contract.name
            guard previous != nil else { continue }
            logger.info("rollover", metadata: ["root": "\(root)", "from": "\(previous ?? "-")", "to": "\(contract.name)"])
            let followed = rootWatchers > 0 || table.hasSubscribers(root)
            guard followed, let feed = openLocked(contract.name) else { continue }
            let message = control(ServerMessages.rollover(root: root, from: previous, to: feed.contract.name), event: .rollover)
            var snapshots = SnapshotCache()
            for (_, subscription) in table.subscriptions(naming: root) ?? [:] {
                subscription.outbox.enqueue(message, channel: nil)
                subscription.cap?.forget(previous ?? "")
                // Everything the new contract holds so far, then its state.
                if subscription.channels.contains(.trades) {
                    replay(feed, after: -1, to: subscription.outbox, announce: false)
                }
                subscription.outbox.enqueue(snapshots.message(feed, subscription.channels, hub: self), channel: nil)
            }
        }
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

    func watchTargetsChangedLocked() {
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
