import BridgeWire
import Foundation

/// What a client knows from the bridge's messages, as a value: where each contract is (for
/// resume), what was lost or repeated, the latest view of each contract, which contract a
/// symbol means, and where bars resume. ``BridgeClient`` keeps one behind its lock and feeds it
/// every message of every connection; it needs no socket, so it is tested on messages alone.
public struct ClientSession: Sendable {
    public private(set) var trackers: [String: ContractTracker] = [:]
    public private(set) var views: [String: ContractView] = [:]
    /// Requested symbol → contract (from `subscribed`, updated by `rollover`, or a poll's answer).
    public private(set) var resolved: [String: String] = [:]
    /// Per contract and bar period (`1m`): the seq of the last bar held, where bars resume.
    public private(set) var lastBars: [String: [String: Int]] = [:]
    /// The heartbeat period the bridge announced in its `hello`.
    public private(set) var heartbeatSeconds = 15.0
    public var statistics = ClientStatistics()

    public init() {}

    /// The `subscribe` request, with a resume point for every symbol already followed.
    public func subscribeRequest(symbols: [String], channels: [MarketChannel], maxRate: Double? = nil) -> ClientRequest {
        var points: [String: ClientRequest.ResumePoint] = [:]
        for symbol in symbols {
            guard let contract = resolved[symbol], let tracker = trackers[contract], !tracker.epoch.isEmpty else { continue }
            let bars = lastBars[contract]
            points[symbol] = ClientRequest.ResumePoint(epoch: tracker.epoch, seq: tracker.position, bars: bars?.isEmpty == false ? bars : nil)
        }
        return ClientRequest(op: .subscribe, symbols: symbols, channels: channels, resume: points.isEmpty ? nil : points, maxRate: maxRate)
    }

    /// Applies one message (`text`, scanned as `message`), received at `receivedAt` (Unix µs);
    /// returns the tracker's verdict for a trade.
    @discardableResult
    public mutating func apply(_ message: WireScanner, text: Substring, receivedAt: Int64) -> ContractTracker.TradeVerdict? {
        statistics.messages += 1
        statistics.bytes += text.utf8.count
        let contract = String(message.contract)
        switch message.kind {
        case .snapshot, .trade, .reset:
            let verdict = trackers[contract, default: ContractTracker(contract: contract)].apply(message)
            if message.kind == .snapshot {
                views[contract] = ContractView(snapshot: message, receivedAt: receivedAt)
                // The snapshot's bars are held now: bars resume after its last ones.
                if let bars = message.nested["bars"] { lastBars[contract, default: [:]].merge(Self.lastBarSeqs(bars)) { max($0, $1) } }
            } else if message.kind == .trade {
                views[contract]?.apply(last: message.price, at: receivedAt)
            }
            return verdict
        case .bar:
            if let seq = message.seq, let period = message.periodSeconds, let name = MarketChannel(barPeriodSeconds: period)?.barPeriodName {
                lastBars[contract, default: [:]][name] = max(seq, lastBars[contract]?[name] ?? -1)
            }
        case .quote:
            views[contract]?.apply(bid: message.bid, ask: message.ask, at: receivedAt)
        case .stats:
            views[contract]?.apply(volume: message.volume, at: receivedAt)
        case .hello:
            if let period = message.heartbeat, period > 0 { heartbeatSeconds = period }
        case .resumed:
            statistics.resumesRecovered += 1
        case .notRecovered:
            statistics.resumesNotRecovered += 1
        case .subscribed:
            if let symbols = message.nested["symbols"], let object = try? JSONSerialization.jsonObject(with: Data(symbols.utf8)) as? [String: String]
            {
                resolved.merge(object) { $1 }
            }
        case .rollover:
            // A root subscription now means the new contract (rare: parsed in full).
            if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], let root = object["root"] as? String,
                let to = object["to"] as? String, resolved[root] != nil
            {
                resolved[root] = to
            }
        case .error:
            statistics.errors[String(message.code), default: 0] += 1
        default:
            break
        }
        return nil
    }

    /// A poll's answer for `symbol` (`/api/live_data`, a snapshot): the view is replaced whole.
    public mutating func applyPoll(symbol: String, snapshot message: WireScanner, receivedAt: Int64) {
        let contract = String(message.contract)
        resolved[symbol] = contract
        views[contract] = ContractView(snapshot: message, receivedAt: receivedAt)
    }

    /// The view of the contract `symbol` means.
    public func view(of symbol: String) -> ContractView? {
        views[resolved[symbol] ?? symbol]
    }

    /// The last bar's seq per period in a snapshot's `bars` object (`{"1m":[{…,"seq":41}]}`).
    static func lastBarSeqs(_ json: Substring) -> [String: Int] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        var seqs: [String: Int] = [:]
        for (period, bars) in object {
            if let last = (bars as? [[String: Any]])?.last, let seq = last["seq"] as? Int { seqs[period] = seq }
        }
        return seqs
    }
}
