import BridgeCore
import BridgeWire
import Clocks
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import SierraFormat

/// `/api/live_data/{symbol}` from disk: each call lists the folder, reads the contract's `.scid`
/// file and its depth file, and computes the state from scratch. The JSON is the event mode's,
/// byte for byte in shape: the same ``ContractFeed`` computes it.
///
/// `wholeFile` reads the whole `.scid` every time, as the old bridge did (polling-naive); without
/// it only the current session is read (polling-cached, the plan's Phase 1 fix, which need not
/// carry the old bridge's file I/O into every cache miss).
///
/// The reads run on a thread pool of their own (blocking file I/O must not occupy the Swift
/// concurrency pool, which has one thread per core); it is large, like the old server's, so that
/// the naive mode really has no concurrency limit to speak of.
struct DiskSnapshotReader: Sendable {
    let configuration: BridgeConfiguration
    let logger: Logger
    var wholeFile = false
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 64)
        pool.start()
        return pool
    }()

    /// ``read(_:)`` on the file-reading pool.
    func readOffPool(_ symbol: String) async -> [UInt8]? {
        (try? await Self.pool.runIfActive { read(symbol) }) ?? nil
    }

    /// The snapshot JSON, or nil for an unknown symbol.
    func read(_ symbol: String) -> [UInt8]? {
        let folder = DataFolder(path: configuration.dataDirectory)
        let files = folder.intradayFiles()
        let contract: ContractSymbol
        if let exact = files.first(where: { $0.contract.name == symbol }) {
            contract = exact.contract
        } else if let active = DataFolder.activeContracts(files)[symbol.uppercased()] {
            contract = active
        } else {
            return nil
        }
        let multiplier = configuration.priceMultipliers[contract.name] ?? configuration.priceMultipliers[contract.root] ?? 1
        let feed = ContractFeed(
            contract: contract,
            folder: folder,
            priceMultiplier: multiplier,
            depthLevels: configuration.depthLevels,
            historyLimit: 0,
            // A poll's snapshot has no bars: the re-read of the session builds none.
            barChannels: [],
            startAtSession: !wholeFile,
            logger: logger
        )
        if let depth = folder.latestDepthFiles()[contract.name] { feed.followDepth(file: depth) }
        _ = feed.pump()
        return ServerMessages.snapshot(feed.state)
    }

    func symbols() -> [String: String] {
        let files = DataFolder(path: configuration.dataDirectory).intradayFiles()
        var result: [String: String] = [:]
        for file in files { result[file.contract.name] = file.contract.root }
        return result
    }
}

/// The plan's Phase 1 fix over ``DiskSnapshotReader``: answers from a cache for `ttl` seconds,
/// merges identical concurrent reads into one, and admits at most `maxInFlight` requests at once
/// (the rest get 503, as the old server's concurrency limit did).
final class CachedSnapshotReader: Sendable {
    enum Outcome {
        case hit([UInt8])
        case miss([UInt8])
        case unknown
        case overloaded
    }

    private struct State {
        var cache: [String: (bytes: [UInt8], expires: UInt64)] = [:]
        var loading: [String: Task<[UInt8]?, Never>] = [:]
        var inFlight = 0
        var hits = 0
        var misses = 0
    }

    let reader: DiskSnapshotReader
    let ttlNanoseconds: UInt64
    let maxInFlight: Int
    private let state = NIOLockedValueBox(State())

    init(reader: DiskSnapshotReader, ttlSeconds: Double, maxInFlight: Int) {
        self.reader = reader
        self.ttlNanoseconds = UInt64(ttlSeconds * 1e9)
        self.maxInFlight = maxInFlight
    }

    var hitRate: (hits: Int, misses: Int) { state.withLockedValue { ($0.hits, $0.misses) } }

    func read(_ symbol: String) async -> Outcome {
        let admitted = state.withLockedValue { s -> Bool in
            guard s.inFlight < maxInFlight else { return false }
            s.inFlight += 1
            return true
        }
        guard admitted else { return .overloaded }
        defer { state.withLockedValue { $0.inFlight -= 1 } }

        let now = WallClock.monotonicNanoseconds()
        let (cached, task): ([UInt8]?, Task<[UInt8]?, Never>?) = state.withLockedValue { s in
            if let entry = s.cache[symbol], entry.expires > now {
                s.hits += 1
                return (entry.bytes, nil)
            }
            s.misses += 1
            if let loading = s.loading[symbol] { return (nil, loading) }
            let reader = self.reader
            let task = Task { await reader.readOffPool(symbol) }
            s.loading[symbol] = task
            return (nil, task)
        }
        if let cached { return .hit(cached) }
        guard let task else { return .unknown }
        let bytes = await task.value
        state.withLockedValue { s in
            s.loading[symbol] = nil
            if let bytes { s.cache[symbol] = (bytes, WallClock.monotonicNanoseconds() + ttlNanoseconds) }
        }
        return bytes.map { .miss($0) } ?? .unknown
    }
}
