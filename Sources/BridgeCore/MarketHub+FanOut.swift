import BridgeWire
import Clocks
import SierraFormat

extension MarketHub {
    /// The subscribers of a contract: by its name, and by its root while it is the active contract.
    func subscribers(of feed: ContractFeed) -> [Subscription] {
        table.subscribers(contract: feed.contract.name, root: feed.contract.root, rootActive: roots[feed.contract.root] == feed.contract.name)
    }

    /// Encodes each change once and queues the bytes for every subscriber that wants them.
    func fanOut(_ feed: ContractFeed, _ changes: FeedChanges) -> Bool {
        let targets = subscribers(of: feed)
        guard !targets.isEmpty else { return false }
        var slow: [ClientOutbox] = []
        let source = feed.source

        if let reason = changes.reset {
            let reset = control(ServerMessages.reset(source, reason: reason), event: .reset)
            var snapshots = SnapshotCache()
            for target in targets {
                target.outbox.enqueue(reset, channel: nil)
                target.outbox.enqueue(snapshots.message(feed, target.channels, hub: self), channel: nil)
            }
            return true
        }

        // Nothing is encoded for trades nobody follows.
        let tradeTargets = targets.contains { $0.channels.contains(.trades) } ? changes.trades : []
        for trade in tradeTargets {
            let message = tradeMessage(source, trade)
            for target in targets where target.channels.contains(.trades) {
                if !target.outbox.enqueue(message, channel: .trades) { slow.append(target.outbox) }
            }
        }
        if let quote = changes.quote {
            let state = feed.state
            fanOutState(.quotes, feed, targets) {
                self.market(
                    ServerMessages.quote(source, seq: state.seq, t: state.updatedUnixMicroseconds, bid: quote.bid, ask: quote.ask, full: false),
                    event: .quote,
                    source,
                    seq: state.seq
                )
            }
        }
        if changes.stats.stats {
            let state = feed.state
            let change = changes.stats
            fanOutState(.stats, feed, targets) {
                self.market(ServerMessages.stats(source, state: state, change: change, full: false), event: .stats, source, seq: state.seq)
            }
        }
        if let depth = changes.depth {
            // The first book of a new day's file replaces the client's: it goes out whole.
            let restarted = changes.depthRestarted
            fanOutState(.depth, feed, targets) { restarted ? self.fullMessage(.depth, of: feed) : self.depthDelta(feed, depth) }
        }
        for closed in changes.bars {
            slow += fanOutBar(closed, feed, targets)
        }
        for outbox in slow { dropLocked(outbox.id, reason: "slow_consumer") }
        return true
    }

    /// Queues a state channel's delta for its subscribers; a rate-capped one's update is held
    /// for its cap's next tick (the timer sends the latest full state then).
    private func fanOutState(_ channel: MarketChannel, _ feed: ContractFeed, _ targets: [Subscription], delta: () -> OutboundMessage) {
        let bit = ChannelSet(channel)
        // Each encoded at most once, and only when needed: the delta if a subscriber wants the
        // channel uncapped, the full state if a client's unsent value must be replaced. Locals,
        // not boxes: nothing is allocated here for a channel nobody follows.
        var message: OutboundMessage?
        var full: OutboundMessage?
        var now: UInt64 = 0
        for target in targets where target.channels.contains(bit) {
            guard let cap = target.cap else {
                let update = message ?? delta()
                message = update
                target.outbox.enqueue(update, channel: channel) {
                    let made = full ?? fullMessage(channel, of: feed)
                    full = made
                    return made
                }
                continue
            }
            if now == 0 { now = WallClock.monotonicNanoseconds() }
            cap.hold(contract: feed.contract.name, channel: channel, now: now)
            heldCaps[ObjectIdentifier(cap)] = (cap, target.outbox)
        }
    }

    /// Queues a closed bar for the subscribers of its channel; returns the clients that fell behind.
    func fanOutBar(_ closed: ClosedBar, _ feed: ContractFeed, _ targets: [Subscription]) -> [ClientOutbox] {
        let bit = ChannelSet(closed.channel)
        guard targets.contains(where: { $0.channels.contains(bit) }) else { return [] }
        let message = barMessage(feed.source, closed.bar)
        var slow: [ClientOutbox] = []
        for target in targets where target.channels.contains(bit) {
            if !target.outbox.enqueue(message, channel: closed.channel) { slow.append(target.outbox) }
        }
        return slow
    }

    private func depthDelta(_ feed: ContractFeed, _ depth: (bids: [DepthLevel], asks: [DepthLevel])) -> OutboundMessage {
        let state = feed.state
        return market(
            ServerMessages.depth(
                feed.source,
                seq: state.depthSeq,
                file: state.depthFile ?? "",
                bids: depth.bids,
                asks: depth.asks,
                full: false
            ),
            event: .depth,
            feed.source,
            seq: state.depthSeq
        )
    }

    /// A state channel's whole value now: what replaces a conflated delta, and what a rate cap's
    /// timer sends.
    func fullMessage(_ channel: MarketChannel, of feed: ContractFeed) -> OutboundMessage {
        let state = feed.state
        let source = feed.source
        switch channel {
        case .quotes:
            return market(
                ServerMessages.quote(source, seq: state.seq, t: state.updatedUnixMicroseconds, bid: state.bid, ask: state.ask, full: true),
                event: .quote,
                source,
                seq: state.seq
            )
        case .depth:
            return market(
                ServerMessages.depth(
                    source,
                    seq: state.depthSeq,
                    file: state.depthFile ?? "",
                    bids: state.bids,
                    asks: state.asks,
                    full: true
                ),
                event: .depth,
                source,
                seq: state.depthSeq
            )
        default:
            return market(ServerMessages.stats(source, state: state, change: StateChange(), full: true), event: .stats, source, seq: state.seq)
        }
    }

    func market(_ bytes: [UInt8], event: MessageType, _ source: ServerMessages.Source, seq: Int) -> OutboundMessage {
        if let wake = traceWake, bytes.count > 1 {
            // `…}` becomes `…,"tw":WAKE,"tq":QUEUED}`: encoded once, like the rest of the message.
            let traced = bytes.dropLast() + Array(",\"tw\":\(wake),\"tq\":\(WallClock.nowMicroseconds())}".utf8)
            return OutboundMessage(json: traced, type: event, contract: source.contract, epoch: source.epoch, seq: seq)
        }
        return OutboundMessage(json: bytes, type: event, contract: source.contract, epoch: source.epoch, seq: seq)
    }

    /// A trade as every subscriber (and a resume's replay) gets it.
    func tradeMessage(_ source: ServerMessages.Source, _ trade: FeedTrade) -> OutboundMessage {
        market(ServerMessages.trade(source, seq: trade.seq, prev: trade.prev, record: trade.record), event: .trade, source, seq: trade.seq)
    }

    /// A closed bar as every subscriber (and a resume's replay) gets it.
    func barMessage(_ source: ServerMessages.Source, _ bar: Bar) -> OutboundMessage {
        market(ServerMessages.bar(source, bar), event: .bar, source, seq: bar.seq)
    }

    func control(_ bytes: [UInt8], event: MessageType) -> OutboundMessage {
        OutboundMessage(json: bytes, type: event)
    }

    /// A contract's snapshot for a client following `channels`: with the last closed bars of each
    /// bar channel among them.
    func snapshotMessage(_ feed: ContractFeed, _ channels: ChannelSet = []) -> OutboundMessage {
        let bars = channels.barChannels.compactMap { channel -> (MarketChannel, [Bar])? in
            guard let series = feed.bars.first(where: { $0.channel == channel }) else { return nil }
            return (channel, series.last(configuration.snapshotBars))
        }
        return market(ServerMessages.snapshot(feed.state, bars: bars), event: .snapshot, feed.source, seq: feed.state.seq)
    }
}

/// Snapshots of one contract made during one fan-out, one per set of bar channels followed:
/// most clients follow the same, so most share one encoding.
struct SnapshotCache {
    private var made: [UInt16: OutboundMessage] = [:]

    mutating func message(_ feed: ContractFeed, _ channels: ChannelSet, hub: MarketHub) -> OutboundMessage {
        let key = channels.intersection(.bars).rawValue
        if let message = made[key] { return message }
        let message = hub.snapshotMessage(feed, channels)
        made[key] = message
        return message
    }
}
