import BridgeWire
import Clocks
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

extension MarketHub {
    // MARK: - Queries

    /// A symbol is a contract name or a root from the discovered set, never a path.
    public func resolve(_ symbol: String) -> String? {
        lock.withLock { contractNameLocked(symbol) }
    }

    /// The contract a symbol names: itself, or the root's active contract.
    func contractNameLocked(_ symbol: String) -> String? {
        if entries[symbol] != nil || feeds[symbol] != nil { return symbol }
        return roots[symbol.uppercased()]
    }

    /// The feed of the contract a symbol names, tailed from now on if it was not.
    func resolveLocked(_ symbol: String) -> ContractFeed? {
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

    public var totalSubscriptions: Int { lock.withLock { table.count } }

    /// Entries in the hub's client tables: clients with symbols, and (symbol, client) pairs. Both
    /// are 0 once every client left; a closed connection must leave nothing here.
    public var clientTableSizes: (clients: Int, subscriptions: Int) {
        lock.withLock { table.sizes }
    }

}
