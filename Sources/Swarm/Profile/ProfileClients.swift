import BridgeClient
import BridgeWire
import Clocks
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SierraFormat

/// The swarm's clients for a bridge described by a profile (docs/PROFILES.md): a WebSocket per
/// symbol (or one with subscribe messages), an SSE stream, a poller. Each message is read through
/// the profile and each trade matched to its `.scid` record, so loss, duplicates, order and
/// write → decode latency are measured for any bridge as for the reference one.
extension Swarm {
    /// The values a profile's URL and message templates are filled with.
    func placeholders(symbol: String?) -> [String: String] {
        var values = [
            "host": host, "port": String(port),
            "symbols": configuration.symbols.joined(separator: ","), "channels": configuration.channels.map(\.rawValue).joined(separator: ","),
            "token": configuration.token ?? "",
        ]
        if let symbol { values["symbol"] = symbol }
        return values
    }

    /// Accounts for one message of a profile client: each update it holds is classified,
    /// counted and, for a trade, matched to its record. Reads the bytes where they are.
    func observeProfiled(
        _ buffer: UnsafeBufferPointer<UInt8>,
        symbol: String?,
        receivedAt: Int64,
        histogram: String,
        state: ProfileClientState
    ) {
        guard let reader = profileReader else { return }
        reader.read(buffer) { update in
            let kind: WireScanner.MessageKind
            switch update.kind {
            case .trade: kind = .trade
            case .quote: kind = .quote
            case .snapshot: kind = .snapshot
            case .other: kind = .other
            }
            let (firstSnapshot, warn) = state.count(update.kind)
            var measured = false
            if update.kind == .trade {
                measured = matchTrade(update, symbol: symbol, receivedAt: receivedAt, histogram: histogram, state: state)
            } else if firstSnapshot {
                recorder.record("subscribe_to_snapshot", microseconds: receivedAt - (state.connectedAt ?? state.started))
            }
            totals.message(bytes: update.bytes, kind: kind, measured: measured)
            if warn { totals.problem("no trade recognised in the first 200 messages: check trade.match in \(reader.profile.file)") }
        }
    }

    func observeProfiled(_ text: String, symbol: String?, receivedAt: Int64, histogram: String, state: ProfileClientState) {
        var text = text
        text.withUTF8 { observeProfiled($0, symbol: symbol, receivedAt: receivedAt, histogram: histogram, state: state) }
    }

    /// Matches a trade to its record; true if it got a latency sample.
    private func matchTrade(_ update: ProfiledMessage, symbol: String?, receivedAt: Int64, histogram: String, state: ProfileClientState) -> Bool {
        guard let matcher = tradeMatcher, let name = update.contract ?? symbol, let price = update.price else {
            totals.update { $0.unmatchedTrades += 1 }
            return false
        }
        let file = matcher.contract(named: name) ?? name
        let index: Int?
        if let seq = update.seq {
            index = seq
        } else {
            index = matcher.match(contract: file, time: update.time, price: price, size: update.size, after: state.last(file)) {
                state.has(file, $0)
            }
        }
        guard let index else {
            totals.update { $0.unmatchedTrades += 1 }
            return false
        }
        let verdict = state.receive(file, index)
        guard verdict != .duplicate else { return false }
        recorder.update(contract: Substring(file), seq: index, receivedAt: receivedAt, histogram: histogram)
        return true
    }

    func finishProfiled(_ state: ProfileClientState) {
        totals.update { v in
            for ledger in state.ledgers {
                v.trades += ledger.received.count
                v.duplicates += ledger.duplicates
                v.outOfOrder += ledger.outOfOrder
                if let owed = ledger.owed, owed.through > owed.after { v.owed.append((ledger.contract, owed.after, owed.through, owed.received)) }
            }
        }
    }

    /// One WebSocket client: a connection per symbol (the plan's `/ws/live_data/{symbol}`), or
    /// one connection with subscribe messages. Frames are read on the event loop that received
    /// them (``LoopWebSocket``), so the generator stays cheaper than the bridge it measures.
    /// Reconnects after a second when dropped.
    func runProfileWebSocket(until end: UInt64) async {
        guard let route = profileReader?.profile.webSocket else { return }
        let state = ProfileClientState(started: WallClock.nowMicroseconds())
        let connections: [String?] = route.perSymbol ? configuration.symbols.map { $0 } : [nil]
        await withTaskGroup(of: Void.self) { group in
            for symbol in connections {
                group.addTask { await self.runProfileConnection(route, symbol: symbol, state: state, until: end) }
            }
            await group.waitForAll()
        }
        finishProfiled(state)
    }

    private func runProfileConnection(_ route: BridgeProfile.WebSocketRoute, symbol: String?, state: ProfileClientState, until end: UInt64) async {
        var attempt = 0
        let values = placeholders(symbol: symbol)
        let path = URLTemplate.path(of: URLTemplate.fill(route.url, values))
        let subscribes: [String]
        if let subscribe = route.subscribe {
            let symbols = symbol.map { [$0] } ?? configuration.symbols
            subscribes =
                subscribe.contains("{symbol}")
                ? symbols.map { URLTemplate.fill(subscribe, placeholders(symbol: $0)) } : [URLTemplate.fill(subscribe, values)]
        } else {
            subscribes = []
        }
        while WallClock.monotonicNanoseconds() < end {
            let reconnecting = attempt > 0
            let dropped = WallClock.nowMicroseconds()
            attempt += 1
            let sender = NIOLockedValueBox<(@Sendable (String) -> Void)?>(nil)
            let closer = NIOLockedValueBox<LoopWebSocket.Closer?>(nil)
            do {
                try await withDeadline(end) {
                    let beat = route.heartbeat.map { heartbeat in
                        Task {
                            while !Task.isCancelled {
                                try await Task.sleep(for: .milliseconds(Int64(heartbeat.every * 1000)))
                                sender.withLockedValue { $0 }?(heartbeat.text)
                            }
                        }
                    }
                    defer {
                        beat?.cancel()
                        closer.withLockedValue { $0 }?.close(code: 1000, reason: "done")
                    }
                    _ = try await LoopWebSocket.connect(
                        host: values["host"]!,
                        port: self.port,
                        path: path,
                        on: MultiThreadedEventLoopGroup.singleton.next(),
                        connectTimeout: .seconds(5),
                        onOpen: { close, send in
                            let now = WallClock.nowMicroseconds()
                            sender.withLockedValue { $0 = send }
                            closer.withLockedValue { $0 = close }
                            if state.opened(at: now) {
                                self.recorder.record("connect", microseconds: now - state.started)
                                self.totals.update { $0.connected[.ws, default: 0] += 1 }
                            }
                            if reconnecting {
                                self.recorder.record("reconnect", microseconds: now - dropped)
                                self.totals.update { $0.reconnects += 1 }
                            }
                            for message in subscribes { send(message) }
                        },
                        onText: { buffer in
                            let receivedAt = WallClock.nowMicroseconds()
                            buffer.withUnsafeReadableBytes { raw in
                                self.observeProfiled(
                                    raw.assumingMemoryBound(to: UInt8.self),
                                    symbol: symbol,
                                    receivedAt: receivedAt,
                                    histogram: "update_ws",
                                    state: state
                                )
                            }
                        }
                    )
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { totals.error("ws_" + ErrorName.of(error)) }
            }
            guard WallClock.monotonicNanoseconds() < end else { break }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// An EventSource on the profile's SSE route: reconnects after `retry:` (2 s unless told).
    func runProfileSSE(until end: UInt64) async {
        guard let route = profileReader?.profile.sse else { return }
        let state = ProfileClientState(started: WallClock.nowMicroseconds())
        let path = URLTemplate.path(of: URLTemplate.fill(route, placeholders(symbol: configuration.symbols.first)))
        let stream = EventSource(host: host, port: port, path: path)
        while WallClock.monotonicNanoseconds() < end {
            do {
                try await withDeadline(end) {
                    try await stream.connect { status in
                        self.totals.update { $0.sseStatus[status, default: 0] += 1 }
                        guard status == 200 else { return }
                        let now = WallClock.nowMicroseconds()
                        if state.opened(at: now) {
                            self.recorder.record("connect", microseconds: now - state.started)
                            self.totals.update { $0.connected[.sse, default: 0] += 1 }
                        }
                    } onEvent: { event in
                        guard let data = event.data else { return }
                        self.observeProfiled(data, symbol: nil, receivedAt: WallClock.nowMicroseconds(), histogram: "update_sse", state: state)
                    }
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { totals.error("sse_" + ErrorName.of(error)) }
            }
            guard WallClock.monotonicNanoseconds() < end else { break }
            try? await Task.sleep(for: .milliseconds(Int64(stream.retrySeconds * 1000)))
        }
        finishProfiled(state)
    }

    /// The old client against the profile's poll route: a fixed rate, latency from the intended
    /// send time, and the staleness of the last trade each answer carried.
    func runProfilePoller(index: Int, until end: UInt64) async {
        guard let route = profileReader?.profile.poll else { return }
        await poll(index: index, until: end) { symbol in
            URLTemplate.path(of: URLTemplate.fill(route.url, self.placeholders(symbol: symbol)))
        } observe: { response, symbol, receivedAt, poller in
            self.observePoll(String(buffer: response.body), symbol: symbol, receivedAt: receivedAt, poller: poller)
        }
    }

    private func observePoll(_ text: String, symbol: String, receivedAt: Int64, poller: PollerState) {
        guard let reader = profileReader, let matcher = tradeMatcher else { return }
        let answer = reader.readPoll(text)
        guard let price = answer.price else { return }
        let file = matcher.contract(named: answer.contract ?? symbol) ?? symbol
        guard let seq = answer.seq ?? matcher.match(contract: file, time: answer.time, price: price, size: answer.size, after: poller.seen[file])
        else {
            totals.update { $0.unmatchedTrades += 1 }
            return
        }
        recorder.staleness(contract: Substring(file), seq: seq, receivedAt: receivedAt)
        if let seen = poller.seen[file], seq > seen { recorder.delivery(contract: Substring(file), after: seen, seq: seq, receivedAt: receivedAt) }
        if seq > poller.seen[file, default: -1] { poller.seen[file] = seq }
    }
}

/// A profile client's state across its connections (one per symbol may run at once, on
/// different event loops, so every field is behind one lock, taken once per update).
final class ProfileClientState: @unchecked Sendable {
    private let lock = NIOLock()
    let started: Int64
    private var _connectedAt: Int64?
    private var firstSnapshot = false
    private var messages = 0
    private var trades = 0
    private var warned = false
    private var _ledgers: [String: DeliveryLedger] = [:]

    init(started: Int64) { self.started = started }

    var connectedAt: Int64? { lock.withLock { _connectedAt } }

    /// Notes a connection; true for the client's first.
    func opened(at time: Int64) -> Bool {
        lock.withLock {
            guard _connectedAt == nil else { return false }
            _connectedAt = time
            return true
        }
    }

    /// Counts one update: whether it is the client's first snapshot, and whether the profile
    /// has now failed to recognise any trade in 200 messages (said once).
    func count(_ kind: ProfiledMessage.Kind) -> (firstSnapshot: Bool, warn: Bool) {
        lock.withLock {
            messages += 1
            if kind == .trade { trades += 1 }
            var first = false
            if kind == .snapshot, !firstSnapshot {
                firstSnapshot = true
                first = true
            }
            let warn = messages >= 200 && trades == 0 && !warned
            if warn { warned = true }
            return (first, warn)
        }
    }

    /// The last trade matched of `file` (by-order matching continues from it).
    func last(_ file: String) -> Int? { lock.withLock { _ledgers[file]?.last } }

    /// Records a matched trade in its contract's ledger, in place.
    func receive(_ file: String, _ index: Int) -> DeliveryLedger.Verdict {
        lock.withLock { _ledgers[file, default: DeliveryLedger(contract: file)].receive(index) }
    }

    func has(_ file: String, _ index: Int) -> Bool { lock.withLock { _ledgers[file]?.received.contains(index) ?? false } }

    var ledgers: [DeliveryLedger] { lock.withLock { Array(_ledgers.values) } }
}

/// A profile's `ws` kind: ``Swarm/runProfileWebSocket(until:)``.
struct ProfileWebSocketClient: SwarmClient {
    let swarm: Swarm
    func run(until end: UInt64) async { await swarm.runProfileWebSocket(until: end) }
}

/// A profile's `sse` kind: ``Swarm/runProfileSSE(until:)``.
struct ProfileSSEClient: SwarmClient {
    let swarm: Swarm
    func run(until end: UInt64) async { await swarm.runProfileSSE(until: end) }
}

/// A profile's `poll` kind: ``Swarm/runProfilePoller(index:until:)``.
struct ProfilePollClient: SwarmClient {
    let swarm: Swarm
    let index: Int
    func run(until end: UInt64) async { await swarm.runProfilePoller(index: index, until: end) }
}
