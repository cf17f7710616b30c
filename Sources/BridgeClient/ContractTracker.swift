import BridgeWire

/// What a client has seen of one contract: where it is (for resume), and whether anything was
/// lost, duplicated or reordered. A trade's `prev` names the trade before it, so a gap is seen
/// the moment the next trade arrives.
public struct ContractTracker: Sendable, Equatable {
    public var contract: String
    public var epoch: String = ""
    /// The last trade (or snapshot) seq processed: the resume point.
    public var position: Int = -1
    /// The seq of the last trade processed, which the next trade's `prev` must name.
    public var lastTrade: Int = -1
    public var trades = 0
    public var duplicates = 0
    public var outOfOrder = 0
    /// Trades whose `prev` did not name the last trade seen: something was lost before them.
    public var gaps = 0
    /// The first position this client started from (trades after it were owed to it).
    public var firstPosition: Int?

    public init(contract: String) {
        self.contract = contract
    }

    public enum TradeVerdict: Sendable, Equatable {
        case inOrder
        case duplicate
        case outOfOrder
        case afterGap
    }

    public mutating func snapshot(epoch: String, seq: Int, lastTrade: Int) {
        if self.epoch != epoch { firstPosition = nil }
        self.epoch = epoch
        position = max(seq, -1)
        self.lastTrade = lastTrade
        if firstPosition == nil { firstPosition = lastTrade }
    }

    public mutating func reset(epoch: String) {
        self.epoch = epoch
        position = -1
        lastTrade = -1
        firstPosition = nil
    }

    /// Applies a `snapshot`, `trade` or `reset` message; returns the verdict for a trade.
    @discardableResult
    public mutating func apply(_ message: WireScanner) -> TradeVerdict? {
        switch message.kind {
        case .snapshot:
            let last = message.nested["last"].flatMap { WireScanner($0).seq } ?? -1
            snapshot(epoch: String(message.epoch), seq: message.seq ?? -1, lastTrade: last)
        case .trade:
            guard let seq = message.seq, let prev = message.prev else { return nil }
            if epoch.isEmpty { epoch = String(message.epoch) }
            return trade(seq: seq, prev: prev)
        case .reset:
            reset(epoch: String(message.epoch))
        default:
            break
        }
        return nil
    }

    public mutating func trade(seq: Int, prev: Int) -> TradeVerdict {
        if seq == lastTrade {
            duplicates += 1
            return .duplicate
        }
        if seq < lastTrade {
            outOfOrder += 1
            return .outOfOrder
        }
        var verdict = TradeVerdict.inOrder
        if prev != lastTrade, firstPosition != nil {
            gaps += 1
            verdict = .afterGap
        }
        if firstPosition == nil { firstPosition = prev }
        lastTrade = seq
        position = max(position, seq)
        trades += 1
        return verdict
    }
}
