import BridgeClient
import BridgeWire
import Foundation
import HummingbirdWSClient
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

/// The swarm's clients for a bridge described by a profile (docs/PROFILES.md): a WebSocket per
/// symbol (or one with subscribe messages), an SSE stream, a poller. Each message is read through
/// the profile and each trade matched to its `.scid` record, so loss, duplicates, order and
/// write → decode latency are measured for any bridge as for the reference one.
extension Swarm {
    /// The values a profile's URL and message templates are filled with.
    func placeholders(symbol: String?) -> [String: String] {
        var values = [
            "host": host == "localhost" ? "127.0.0.1" : host, "port": String(port),
            "symbols": configuration.symbols.joined(separator: ","), "channels": configuration.channels.map(\.rawValue).joined(separator: ","),
            "token": configuration.token ?? "",
        ]
        if let symbol { values["symbol"] = symbol }
        return values
    }

    /// Accounts for one message of a profile client: each update it holds is classified,
    /// counted and, for a trade, matched to its record.
    func observeProfiled(
        _ text: String,
        symbol: String?,
        receivedAt: Int64,
        histogram: String,
        state: ProfileClientState
    ) {
        guard let reader = profileReader else { return }
        let updates = reader.read(text)
        for update in updates {
            let kind: WireScanner.MessageKind
            switch update.kind {
            case .trade: kind = .trade
            case .quote: kind = .quote
            case .snapshot: kind = .snapshot
            case .other: kind = .other
            }
            var measured = false
            state.messages += 1
            switch update.kind {
            case .trade:
                state.trades += 1
                measured = matchTrade(update, symbol: symbol, receivedAt: receivedAt, histogram: histogram, state: state)
            case .snapshot:
                if !state.firstSnapshot {
                    state.firstSnapshot = true
                    recorder.record("subscribe_to_snapshot", microseconds: receivedAt - (state.connectedAt ?? state.started))
                }
            default:
                break
            }
            totals.message(bytes: update.bytes, kind: kind, measured: measured)
        }
        if state.messages >= 200, state.trades == 0, !state.warned {
            state.warned = true
            totals.problem("no trade recognised in the first 200 messages: check trade.match in \(reader.profile.file)")
        }
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
    /// one connection with subscribe messages. Reconnects after a second when dropped.
    func runProfileWebSocket(until end: UInt64) async {
        guard let route = profileReader?.profile.webSocket else { return }
        let state = ProfileClientState(started: WallClock.nowMicroseconds())
        let connections: [String?] = route.perSymbol ? configuration.symbols.map { $0 } : [nil]
        let connected = NIOLockedValueBox(0)
        await withTaskGroup(of: Void.self) { group in
            for symbol in connections {
                group.addTask {
                    var attempt = 0
                    while WallClock.monotonicNanoseconds() < end {
                        let url = URLTemplate.fill(route.url, self.placeholders(symbol: symbol))
                        let reconnecting = attempt > 0
                        let dropped = WallClock.nowMicroseconds()
                        attempt += 1
                        do {
                            try await withDeadline(end) {
                                _ = try await WebSocketClient.connect(url: url, logger: self.logger) { inbound, outbound, _ in
                                    let now = WallClock.nowMicroseconds()
                                    if connected.withLockedValue({
                                        $0 += 1
                                        return $0
                                    }) == 1 {
                                        state.connectedAt = now
                                        self.recorder.record("connect", microseconds: now - state.started)
                                        self.totals.update { $0.connected[.ws, default: 0] += 1 }
                                    }
                                    if reconnecting {
                                        self.recorder.record("reconnect", microseconds: now - dropped)
                                        self.totals.update { $0.reconnects += 1 }
                                    }
                                    if let subscribe = route.subscribe {
                                        let symbols = symbol.map { [$0] } ?? self.configuration.symbols
                                        if subscribe.contains("{symbol}") {
                                            for each in symbols {
                                                try await outbound.write(.text(URLTemplate.fill(subscribe, self.placeholders(symbol: each))))
                                            }
                                        } else {
                                            try await outbound.write(.text(URLTemplate.fill(subscribe, self.placeholders(symbol: nil))))
                                        }
                                    }
                                    let beat = route.heartbeat.map { heartbeat in
                                        Task {
                                            while !Task.isCancelled {
                                                try await Task.sleep(for: .milliseconds(Int64(heartbeat.every * 1000)))
                                                try await outbound.write(.text(heartbeat.text))
                                            }
                                        }
                                    }
                                    defer { beat?.cancel() }
                                    for try await message in inbound.messages(maxSize: 1 << 24) {
                                        guard case .text(let text) = message else { continue }
                                        self.observeProfiled(
                                            text,
                                            symbol: symbol,
                                            receivedAt: WallClock.nowMicroseconds(),
                                            histogram: "update_ws",
                                            state: state
                                        )
                                    }
                                }
                            }
                        } catch {
                            if WallClock.monotonicNanoseconds() < end { self.totals.error("ws_" + ErrorName.of(error)) }
                        }
                        guard WallClock.monotonicNanoseconds() < end else { break }
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            await group.waitForAll()
        }
        finishProfiled(state)
    }

    /// An EventSource on the profile's SSE route: reconnects after `retry:` (2 s unless told).
    func runProfileSSE(until end: UInt64) async {
        guard let route = profileReader?.profile.sse else { return }
        let state = ProfileClientState(started: WallClock.nowMicroseconds())
        let stream = SSEClientState()
        let path = URLTemplate.path(of: URLTemplate.fill(route, placeholders(symbol: configuration.symbols.first)))
        while WallClock.monotonicNanoseconds() < end {
            do {
                try await withDeadline(end) {
                    try await HTTPConnection.with(host: self.placeholders(symbol: nil)["host"]!, port: self.port) { connection in
                        try await connection.send(path, headers: stream.lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
                        let head = try await connection.head()
                        self.totals.update { $0.sseStatus[Int(head.status.code), default: 0] += 1 }
                        guard head.status == .ok else { throw SwarmError("SSE answered \(head.status.code)") }
                        if state.connectedAt == nil {
                            state.connectedAt = WallClock.nowMicroseconds()
                            self.recorder.record("connect", microseconds: state.connectedAt! - state.started)
                            self.totals.update { $0.connected[.sse, default: 0] += 1 }
                        }
                        var parser = SSEParser()
                        while let chunk = try await connection.chunk() {
                            for event in parser.feed(chunk) {
                                if let id = event.id { stream.lastEventID = id }
                                if let value = event.retry { stream.retry = value / 1000 }
                                guard let data = event.data else { continue }
                                self.observeProfiled(
                                    data,
                                    symbol: nil,
                                    receivedAt: WallClock.nowMicroseconds(),
                                    histogram: "update_sse",
                                    state: state
                                )
                            }
                        }
                    }
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { totals.error("sse_" + ErrorName.of(error)) }
            }
            guard WallClock.monotonicNanoseconds() < end else { break }
            try? await Task.sleep(for: .milliseconds(Int64(stream.retry * 1000)))
        }
        finishProfiled(state)
    }

    /// The old client against the profile's poll route: a fixed rate, latency from the intended
    /// send time, and the staleness of the last trade each answer carried.
    func runProfilePoller(index: Int, until end: UInt64) async {
        guard let reader = profileReader, let route = reader.profile.poll else { return }
        let interval = 1 / configuration.pollRate
        let first = WallClock.monotonicNanoseconds()
        let poller = PollerState()
        let host = placeholders(symbol: nil)["host"]!
        while WallClock.monotonicNanoseconds() < end {
            do {
                try await withDeadline(end) {
                    try await HTTPConnection.with(host: host, port: self.port) { connection in
                        if !poller.connected {
                            poller.connected = true
                            self.totals.update { $0.connected[.poll, default: 0] += 1 }
                        }
                        while true {
                            let request = poller.request
                            let intended = first + UInt64(Double(request) * interval * 1e9)
                            guard intended < end else { return }
                            try await Self.sleep(until: intended)
                            let symbol = self.configuration.symbols[(index + request) % self.configuration.symbols.count]
                            poller.request += 1
                            let response = try await connection.get(
                                URLTemplate.path(of: URLTemplate.fill(route.url, self.placeholders(symbol: symbol)))
                            )
                            let done = WallClock.monotonicNanoseconds()
                            let receivedAt = WallClock.nowMicroseconds()
                            self.recorder.record("poll_request", microseconds: Int64(done - intended) / 1000)
                            self.totals.update {
                                $0.httpRequests += 1
                                $0.httpStatus[response.status, default: 0] += 1
                                $0.messages += 1
                                $0.bytes += response.body.readableBytes
                            }
                            if response.status == 200 {
                                self.observePoll(String(buffer: response.body), symbol: symbol, receivedAt: receivedAt, poller: poller)
                            }
                            if response.headers["connection"].first?.lowercased() == "close" { return }
                        }
                    }
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { totals.error("poll_" + ErrorName.of(error)) }
                try? await Task.sleep(for: .milliseconds(50))
            }
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

/// A profile client's state across its connections (one per symbol may run at once, so every
/// field is behind one lock).
final class ProfileClientState: @unchecked Sendable {
    private let lock = NIOLock()
    let started: Int64
    private var _connectedAt: Int64?
    private var _firstSnapshot = false
    private var _messages = 0
    private var _trades = 0
    private var _warned = false
    private var _ledgers: [String: DeliveryLedger] = [:]

    init(started: Int64) { self.started = started }

    var connectedAt: Int64? {
        get { lock.withLock { _connectedAt } }
        set { lock.withLock { _connectedAt = newValue } }
    }
    var firstSnapshot: Bool {
        get { lock.withLock { _firstSnapshot } }
        set { lock.withLock { _firstSnapshot = newValue } }
    }
    var messages: Int {
        get { lock.withLock { _messages } }
        set { lock.withLock { _messages = newValue } }
    }
    var trades: Int {
        get { lock.withLock { _trades } }
        set { lock.withLock { _trades = newValue } }
    }
    var warned: Bool {
        get { lock.withLock { _warned } }
        set { lock.withLock { _warned = newValue } }
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
