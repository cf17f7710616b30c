import BridgeClient
import BridgeWire
import NIOConcurrencyHelpers

/// Counters of the whole swarm, added to by every client as it goes.
final class SwarmTotals: Sendable {
    struct Values {
        var started: [ClientKind: Int] = [:]
        /// Clients whose task is running now (arrived and not yet left).
        var running = 0
        var connected: [ClientKind: Int] = [:]
        var messages = 0
        /// Trades, quotes and stats decoded by ws and sse clients: each must get a latency sample.
        var measuredUpdates = 0
        var bytes = 0
        /// Messages and bytes by message type: snapshots against the deltas that follow them.
        var payload = PayloadCounts()
        var trades = 0
        var duplicates = 0
        var outOfOrder = 0
        var gaps = 0
        var httpRequests = 0
        var httpStatus: [Int: Int] = [:]
        /// Statuses of SSE connection attempts.
        var sseStatus: [Int: Int] = [:]
        var errors: [String: Int] = [:]
        var closeCodes: [Int: Int] = [:]
        var resumesRecovered = 0
        var resumesNotRecovered = 0
        var reconnects = 0
        var cacheHits = 0
        var cacheMisses = 0
        var serverErrors = 0
        /// Trade messages of a profiled bridge that no record of the files was found for.
        var unmatchedTrades = 0
        /// What a profile client found wrong with the profile (said once each).
        var problems: Set<String> = []
        /// Per contract, the trade ranges clients were owed and how many they got.
        var owed: [(contract: String, after: Int, through: Int, received: Int)] = []
    }

    private let box = NIOLockedValueBox(Values())

    func update(_ change: (inout Values) -> Void) {
        box.withLockedValue(change)
    }

    var values: Values { box.withLockedValue { $0 } }

    /// One message received; `measured`: an update whose latency is recorded.
    func message(bytes: Int, kind: WireScanner.MessageKind = .other, measured: Bool = false) {
        let kind = PayloadCounts.Kind(kind)
        box.withLockedValue {
            if measured { $0.measuredUpdates += 1 }
            $0.messages += 1
            $0.bytes += bytes
            $0.payload.add(kind, bytes: bytes)
        }
    }

    func problem(_ text: String) {
        box.withLockedValue { $0.problems.insert(text) }
    }

    func error(_ kind: String) {
        box.withLockedValue { $0.errors[kind, default: 0] += 1 }
    }

    /// Folds a finished BridgeClient's statistics and trackers in.
    func add(_ statistics: ClientStatistics, trackers: [String: ContractTracker]) {
        box.withLockedValue { v in
            for (code, count) in statistics.closeCodes { v.closeCodes[code, default: 0] += count }
            for (error, count) in statistics.errors { v.errors[error, default: 0] += count }
            v.resumesRecovered += statistics.resumesRecovered
            v.resumesNotRecovered += statistics.resumesNotRecovered
            v.reconnects += statistics.reconnectMicroseconds.count
            v.cacheHits += statistics.cacheHits
            v.cacheMisses += statistics.cacheMisses
            v.httpRequests += statistics.pollRequests
            add(trackers, &v)
        }
    }

    func add(trackers: [String: ContractTracker]) {
        box.withLockedValue { add(trackers, &$0) }
    }

    private func add(_ trackers: [String: ContractTracker], _ v: inout Values) {
        for tracker in trackers.values {
            v.trades += tracker.trades
            v.duplicates += tracker.duplicates
            v.outOfOrder += tracker.outOfOrder
            v.gaps += tracker.gaps
            if let first = tracker.firstPosition, tracker.lastTrade > first {
                v.owed.append((tracker.contract, first, tracker.lastTrade, tracker.trades))
            }
        }
    }
}

/// Messages and bytes per message type, without a dictionary lookup per message.
struct PayloadCounts {
    enum Kind: Int, CaseIterable {
        case snapshot, trade, quote, depth, stats, bar, other

        init(_ kind: WireScanner.MessageKind) {
            switch kind {
            case .snapshot: self = .snapshot
            case .trade: self = .trade
            case .quote: self = .quote
            case .depth: self = .depth
            case .stats: self = .stats
            case .bar: self = .bar
            default: self = .other
            }
        }

        var name: String { "\(self)" }
        /// Quotes, depth and stats change the state a snapshot gave: they are its deltas. Trades
        /// are events, each new data sent whole (and counted apart).
        var isDelta: Bool { self == .quote || self == .depth || self == .stats }
    }

    var messages = [Int](repeating: 0, count: Kind.allCases.count)
    var bytes = [Int](repeating: 0, count: Kind.allCases.count)

    mutating func add(_ kind: Kind, bytes count: Int) {
        messages[kind.rawValue] += 1
        bytes[kind.rawValue] += count
    }
}
