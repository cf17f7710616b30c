import NIOConcurrencyHelpers
import SierraFormat

/// Finds the `.scid` record a foreign bridge's trade message stands for, so its loss,
/// duplicates, order and write → decode latency are measured against the files, as for the
/// reference bridge's `seq`.
///
/// By time: the trade record of that contract whose time falls within the message's precision
/// and whose price and size are the message's. By order (a bridge that sends no record time): the
/// next trade record after the client's last one with that price and size.
///
/// Each contract's recent trades are kept as a compact index, read from the file once and then
/// as it grows (a miss reads what was appended), shared by every client of the swarm.
public final class TradeMatcher: Sendable {
    public let dataDirectory: String
    /// How many records before the file's end, at first use, are indexed (a snapshot's last trade
    /// and a resume's come from there).
    public let lookBack: Int
    /// How far by-order matching looks ahead of the client's last trade for the next one.
    public let orderWindow: Int

    struct Trade {
        var time: Int64
        var price: Float
        var size: UInt32
        var index: Int
    }

    final class ContractIndex: @unchecked Sendable {
        let reader: RecordReader<IntradayFormat>
        var trades: [Trade] = []
        var scanned: Int
        init(reader: RecordReader<IntradayFormat>, from: Int) {
            self.reader = reader
            self.scanned = from
        }

        func refresh() {
            let count = reader.count
            guard count > scanned else { return }
            reader.forEach(in: scanned..<count) { index, record in
                if record.isTrade {
                    trades.append(Trade(time: record.dateTime.unixMicroseconds, price: record.close, size: record.totalVolume, index: index))
                }
                return true
            }
            scanned = count
        }
    }

    private struct State {
        var contracts: [String: ContractIndex] = [:]
        /// Names as messages give them (a root, a contract) → the contract file.
        var names: [String: String] = [:]
    }
    private let state = NIOLockedValueBox(State())

    public init(dataDirectory: String, lookBack: Int = 50_000, orderWindow: Int = 5_000) {
        self.dataDirectory = dataDirectory
        self.lookBack = lookBack
        self.orderWindow = orderWindow
    }

    /// The contract file `name` means: a contract of the folder, or a root's active contract.
    public func contract(named name: String) -> String? {
        state.withLockedValue { resolve(name, &$0) }
    }

    private func resolve(_ name: String, _ s: inout State) -> String? {
        if let known = s.names[name] { return known }
        let folder = DataFolder(path: dataDirectory)
        let files = folder.intradayFiles()
        let found: String?
        if files.contains(where: { $0.contract.name == name }) {
            found = name
        } else {
            found = DataFolder.activeContracts(files)[name.uppercased()]?.name
        }
        // A root is resolved again after a rollover: only contract names are kept for good.
        if let found, found == name { s.names[name] = found }
        return found
    }

    /// The record index of the trade in `contract` that the message stands for, or nil.
    /// `after`: the client's last matched trade of that contract (by-order matching continues
    /// from it).
    /// `received`: whether the client already has a record (by-order matching skips those when
    /// it looks back for a late trade).
    public func match(
        contract name: String,
        time: MessageTime?,
        price: Double,
        size: Double?,
        after: Int?,
        received: (Int) -> Bool = { _ in false }
    ) -> Int? {
        state.withLockedValue { s -> Int? in
            guard let file = resolve(name, &s), let index = index(file, &s) else { return nil }
            if let found = find(index, time: time, price: price, size: size, after: after, received: received), !received(found) { return found }
            // Not indexed yet (or only its equal, already received, is): the bridge read it
            // before this client's matcher did.
            index.refresh()
            return find(index, time: time, price: price, size: size, after: after, received: received)
        }
    }

    private func index(_ file: String, _ s: inout State) -> ContractIndex? {
        if let index = s.contracts[file] { return index }
        guard let reader = RecordReader<IntradayFormat>(path: dataDirectory + "/" + file + DataFolder.intradayExtension) else { return nil }
        let index = ContractIndex(reader: reader, from: max(0, reader.count - lookBack))
        index.refresh()
        s.contracts[file] = index
        return index
    }

    static func same(_ trade: Trade, price: Double, size: Double?) -> Bool {
        guard abs(Double(trade.price) - price) <= max(1e-6, abs(price) * 1e-6) else { return false }
        guard let size else { return true }
        return abs(Double(trade.size) - size) < 0.5
    }

    private func find(_ index: ContractIndex, time: MessageTime?, price: Double, size: Double?, after: Int?, received: (Int) -> Bool) -> Int? {
        let trades = index.trades
        guard !trades.isEmpty else { return nil }
        if let time {
            // The first trade at or after the window's start, then every trade in the window.
            let from = time.unixMicroseconds - time.resolution
            let to = time.unixMicroseconds + time.resolution
            var low = 0
            var high = trades.count
            while low < high {
                let mid = (low + high) / 2
                if trades[mid].time < from { low = mid + 1 } else { high = mid }
            }
            // Of the equal trades in the window, the one nearest the message's time that the
            // client does not have yet (equal trades within one millisecond come in order); if it
            // has them all, the nearest (a duplicate). A time given to the second (ISO-8601 with
            // no fraction when the microseconds are 0) still finds its exact record first.
            var best: (index: Int, distance: Int64, new: Bool)?
            var position = low
            while position < trades.count, trades[position].time <= to {
                let trade = trades[position]
                if Self.same(trade, price: price, size: size) {
                    let candidate = (index: trade.index, distance: abs(trade.time - time.unixMicroseconds), new: !received(trade.index))
                    if let current = best {
                        if (candidate.new && !current.new) || (candidate.new == current.new && candidate.distance < current.distance) {
                            best = candidate
                        }
                    } else {
                        best = candidate
                    }
                }
                position += 1
            }
            return best?.index
        }
        // By order (docs/PROFILES.md): the next trade if it is equal; the client's last trade again
        // if that one is (a duplicate); else the nearer of the next equal trade ahead (the ones
        // between were lost) and the nearest equal one behind not yet received (a late one).
        guard let after else {
            var position = trades.count - 1
            while position >= max(0, trades.count - orderWindow) {
                if Self.same(trades[position], price: price, size: size) { return trades[position].index }
                position -= 1
            }
            return nil
        }
        var low = 0
        var high = trades.count
        while low < high {
            let mid = (low + high) / 2
            if trades[mid].index <= after { low = mid + 1 } else { high = mid }
        }
        if low < trades.count, Self.same(trades[low], price: price, size: size) { return trades[low].index }
        if low > 0, trades[low - 1].index == after, Self.same(trades[low - 1], price: price, size: size) { return after }
        var ahead: Int?
        var position = low
        while position < min(trades.count, low + orderWindow) {
            if Self.same(trades[position], price: price, size: size) {
                ahead = position
                break
            }
            position += 1
        }
        var behind: Int?
        position = low - 1
        while position >= max(0, low - orderWindow) {
            if Self.same(trades[position], price: price, size: size), !received(trades[position].index) {
                behind = position
                break
            }
            position -= 1
        }
        switch (ahead, behind) {
        case (let a?, let b?): return (a - low < low - 1 - b ? trades[a] : trades[b]).index
        case (let a?, nil): return trades[a].index
        case (nil, let b?): return trades[b].index
        case (nil, nil): return nil
        }
    }
}

/// What one client received of one contract's trades, by record index: the foreign bridge's
/// counterpart of ``ContractTracker`` (which reads the reference bridge's `seq` and `prev`).
public struct DeliveryLedger: Sendable, Equatable {
    public var contract: String
    public private(set) var first: Int?
    public private(set) var last = -1
    public private(set) var received = Set<Int>()
    public private(set) var duplicates = 0
    public private(set) var outOfOrder = 0
    /// Trade messages no record was found for (a wrong price, a wrong contract, a made-up trade).
    public var unmatched = 0

    public init(contract: String) { self.contract = contract }

    public enum Verdict: Sendable, Equatable { case inOrder, duplicate, outOfOrder }

    @discardableResult
    public mutating func receive(_ index: Int) -> Verdict {
        if received.contains(index) {
            duplicates += 1
            return .duplicate
        }
        received.insert(index)
        if first == nil { first = index }
        if index < last {
            outOfOrder += 1
            return .outOfOrder
        }
        last = index
        return .inOrder
    }

    /// The range of trades it was owed (from its first to its last), and how many distinct ones it got.
    public var owed: (after: Int, through: Int, received: Int)? {
        guard let first, last >= first else { return nil }
        let lowest = received.min() ?? first
        return (lowest - 1, last, received.count)
    }
}
