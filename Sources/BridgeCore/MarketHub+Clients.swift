import BridgeWire
import SierraFormat

extension MarketHub {
    /// The result of a subscribe: which symbols resolved to which contract, and which were refused.
    public struct SubscribeResult: Sendable {
        public var resolved: [String: String] = [:]
        public var refused: [(symbol: String, code: ErrorCode, message: String)] = []
    }

    /// Subscribes a client: queues the `subscribed` acknowledgement (and an `error` for each symbol
    /// refused), then for each symbol an optional resume (trades and bars replayed from memory or
    /// the file) and a snapshot; live updates follow in order.
    @discardableResult
    public func subscribe(_ outbox: ClientOutbox, request: ClientRequest) -> SubscribeResult {
        let requested = request.channels ?? MarketChannel.standard
        let channels = ChannelSet(requested)
        let cap = request.maxRate.map { RateCap(rate: $0) }
        let result = lock.withLock {
            var result = SubscribeResult()
            var owned = table.symbols(of: outbox.id)
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
                owned.insert(symbol)
                table.add(outbox, symbol: symbol, channels: channels, cap: cap)
                accepted.append((symbol, feed))
            }
            metrics.subscriptions.record(table.count)

            outbox.enqueue(
                control(
                    ServerMessages.subscription(.subscribed, id: request.id, resolved: result.resolved, channels: requested),
                    event: .subscribed
                ),
                channel: nil
            )
            for refusal in result.refused {
                outbox.enqueue(
                    control(ServerMessages.error(code: refusal.code, message: refusal.message, id: request.id), event: .error),
                    channel: nil
                )
            }
            for (symbol, feed) in accepted {
                if let point = request.resume?[symbol] {
                    if channels.contains(.trades) { resumeLocked(feed, point: point, outbox: outbox) }
                    for channel in channels.barChannels { resumeBarsLocked(feed, channel, point: point, outbox: outbox) }
                }
                outbox.enqueue(snapshotMessage(feed, channels), channel: nil)
            }
            return result
        }
        // Bars close on the watcher's timer: let it know there is one more to keep.
        if !channels.isDisjoint(with: .bars), !result.resolved.isEmpty { lock.withLock { watchChanged }?() }
        return result
    }

    /// Removes channels (all when `channels` is nil) of the named symbols.
    public func unsubscribe(_ outbox: ClientOutbox, symbols: [String], channels: [MarketChannel]?) -> [String: String] {
        lock.withLock {
            var done: [String: String] = [:]
            for symbol in symbols where table.subscription(symbol, client: outbox.id) != nil {
                done[symbol] = contractNameLocked(symbol) ?? symbol
                table.remove(channels.map { ChannelSet($0) } ?? .all, symbol: symbol, client: outbox.id)
            }
            metrics.subscriptions.record(table.count)
            return done
        }
    }

    /// Forgets a client (after its connection ended).
    public func remove(_ outbox: ClientOutbox) {
        lock.withLock { dropLocked(outbox.id, reason: nil) }
    }

    func dropLocked(_ id: Int, reason: String?) {
        table.drop(id)
        heldCaps = heldCaps.filter { $0.value.outbox.id != id }
        if let reason { metrics.queueDrop(reason) }
        metrics.subscriptions.record(table.count)
    }

    private func refuseResume(
        _ feed: ContractFeed,
        _ reason: String,
        point: ClientRequest.ResumePoint,
        seq: Int,
        channel: MarketChannel?,
        outbox: ClientOutbox
    ) {
        metrics.resume("not_recovered")
        outbox.enqueue(
            control(
                ServerMessages.notRecovered(feed.source, reason: reason, requestedEpoch: point.epoch, requestedSeq: seq, channel: channel),
                event: .notRecovered
            ),
            channel: nil
        )
    }

    func resumeLocked(_ feed: ContractFeed, point: ClientRequest.ResumePoint, outbox: ClientOutbox) {
        func refuse(_ reason: String) { refuseResume(feed, reason, point: point, seq: point.seq, channel: nil, outbox: outbox) }
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

    /// Queues the bars of `channel` that closed after the client's last one, from memory (the
    /// feed rebuilds them from the file's session after a bridge restart); a resume older than
    /// what memory holds gets `not_recovered` (the snapshot's last bars follow).
    func resumeBarsLocked(_ feed: ContractFeed, _ channel: MarketChannel, point: ClientRequest.ResumePoint, outbox: ClientOutbox) {
        let seq = point.barSeq(channel)
        func refuse(_ reason: String) { refuseResume(feed, reason, point: point, seq: seq, channel: channel, outbox: outbox) }
        guard point.epoch == feed.state.epoch else { return refuse("epoch_changed") }
        guard seq <= feed.state.seq else { return refuse("ahead_of_file") }
        guard let series = feed.bars.first(where: { $0.channel == channel }), let bars = series.closedBars(after: seq) else {
            return refuse("too_old")
        }
        let source = feed.source
        for bar in bars { outbox.enqueue(barMessage(source, bar), channel: channel) }
        metrics.resume("memory")
        outbox.enqueue(
            control(
                ServerMessages.resumed(source, from: seq + 1, to: bars.last?.seq ?? seq, replayed: bars.count, origin: "memory", channel: channel),
                event: .resumed
            ),
            channel: nil
        )
    }

    /// Queues the trades after `seq` (all of them, or none when they cannot all be replayed).
    @discardableResult
    func replay(_ feed: ContractFeed, after seq: Int, to outbox: ClientOutbox, announce: Bool) -> ContractFeed.Replay {
        let replay = feed.trades(after: seq, limit: configuration.maxReplay)
        guard case .trades(let trades, let fromMemory) = replay else { return replay }
        let source = feed.source
        for trade in trades { outbox.enqueue(tradeMessage(source, trade), channel: .trades) }
        if announce {
            let origin = fromMemory ? "memory" : "file"
            metrics.resume(origin)
            outbox.enqueue(
                control(ServerMessages.resumed(source, from: seq + 1, to: feed.state.seq, replayed: trades.count, origin: origin), event: .resumed),
                channel: nil
            )
        }
        return replay
    }
}
