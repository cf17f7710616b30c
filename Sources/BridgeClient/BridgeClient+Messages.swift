import BridgeWire
import Clocks
import Foundation
import NIOCore
import SierraFormat

/// What the client sends and how it reads what it gets: the subscribe with its resume points, and
/// each message applied to the local state (trackers, views, bar positions).
extension BridgeClient {
    /// `subscribe`, with a resume point for every symbol already followed.
    func subscribeMessage() -> String {
        let resume = state.withLockedValue { s -> [String: ClientRequest.ResumePoint] in
            var points: [String: ClientRequest.ResumePoint] = [:]
            for symbol in configuration.symbols {
                guard let contract = s.resolved[symbol], let tracker = s.trackers[contract], !tracker.epoch.isEmpty else { continue }
                let bars = s.lastBars[contract]
                points[symbol] = ClientRequest.ResumePoint(epoch: tracker.epoch, seq: tracker.position, bars: bars?.isEmpty == false ? bars : nil)
            }
            return points
        }
        let request = ClientRequest(
            op: .subscribe,
            symbols: configuration.symbols,
            channels: configuration.channels,
            resume: resume.isEmpty ? nil : resume,
            maxRate: configuration.maxRate
        )
        let data = (try? JSONEncoder().encode(request)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Applies the messages of one text frame of connection attempt `attempt` (the frame, or one
    /// message per line when batches were asked for), each then given to `each`; false, with the
    /// rest left alone, once that attempt is over or the client stopped.
    @discardableResult
    func applyFrame(_ data: ByteBuffer, attempt: Int, _ each: (ReceivedMessage) -> Void = { _ in }) -> Bool {
        let text = String(buffer: data)
        guard configuration.batchFrames else {
            guard let received = apply(text[...], attempt: attempt) else { return false }
            each(received)
            return true
        }
        for line in text.split(separator: "\n") {
            guard let received = apply(line, attempt: attempt) else { return false }
            each(received)
        }
        return true
    }

    /// Applies one message to the client's state and tells `onMessage`; nil (nothing applied) if
    /// attempt `attempt` is no longer current or the client stopped. It also notes the connection
    /// was heard from: one lock per message.
    func apply(_ text: Substring, attempt: Int) -> ReceivedMessage? {
        let receivedAt = WallClock.nowMicroseconds()
        let message = WireScanner(text)
        let contract = String(message.contract)
        var verdict: ContractTracker.TradeVerdict?
        let current = state.withLockedValue { s -> Bool in
            guard s.attempt == attempt, !s.stopped else { return false }
            s.lastHeard = WallClock.monotonicNanoseconds()
            s.statistics.messages += 1
            s.statistics.bytes += text.utf8.count
            switch message.kind {
            case .snapshot, .trade, .reset:
                verdict = s.trackers[contract, default: ContractTracker(contract: contract)].apply(message)
                if message.kind == .snapshot {
                    s.views[contract] = ContractView(snapshot: message, receivedAt: receivedAt)
                    // The snapshot's bars are held now: bars resume after its last ones.
                    if let bars = message.nested["bars"] { s.lastBars[contract, default: [:]].merge(Self.lastBarSeqs(bars)) { max($0, $1) } }
                } else if message.kind == .trade {
                    s.views[contract]?.apply(last: message.price, at: receivedAt)
                }
            case .bar:
                if let seq = message.seq, let period = message.periodSeconds,
                    let name = MarketChannel(barPeriodSeconds: period)?.barPeriodName
                {
                    s.lastBars[contract, default: [:]][name] = max(seq, s.lastBars[contract]?[name] ?? -1)
                }
            case .quote:
                s.views[contract]?.apply(bid: message.bid, ask: message.ask, at: receivedAt)
            case .stats:
                s.views[contract]?.apply(volume: message.volume, at: receivedAt)
            case .hello:
                if let period = message.heartbeat, period > 0 { s.heartbeatSeconds = period }
            case .resumed:
                s.statistics.resumesRecovered += 1
            case .notRecovered:
                s.statistics.resumesNotRecovered += 1
            case .subscribed:
                if let symbols = message.nested["symbols"],
                    let object = try? JSONSerialization.jsonObject(with: Data(symbols.utf8)) as? [String: String]
                {
                    s.resolved.merge(object) { $1 }
                }
            case .error:
                s.statistics.errors[String(message.code), default: 0] += 1
            default:
                break
            }
            return true
        }
        guard current else { return nil }
        if message.kind == .rollover, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let root = object["root"] as? String, let to = object["to"] as? String
        {
            // A root subscription now means the new contract.
            state.withLockedValue { s in
                if s.resolved[root] != nil { s.resolved[root] = to }
            }
        }
        let received = ReceivedMessage(
            type: message.type,
            kind: message.kind,
            contract: message.contract,
            seq: message.seq,
            receivedAt: receivedAt,
            bytes: text.utf8.count,
            verdict: verdict,
            wake: message.tw,
            queued: message.tq
        )
        onMessage?(received)
        return received
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
