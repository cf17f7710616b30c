import BridgeClient
import BridgeWire
import Foundation
import Histogram
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// A swarm of clients against one bridge, measuring exactly what they experience.
public final class Swarm: Sendable {
    public let configuration: SwarmConfiguration
    public let recorder: LatencyRecorder
    let totals = SwarmTotals()
    let logger: Logger
    /// Where clients connect: the bridge, or the fault proxy in front of it.
    private let target = NIOLockedValueBox<(host: String, port: Int)>(("127.0.0.1", 0))
    public let faultProxy: FaultProxy?
    let bridgeProcess: BridgeProcessController?
    /// A bridge described by a profile: its messages are read through it and its trades matched
    /// to their records (nil: the reference bridge's protocol).
    let profileReader: MessageReader?
    let tradeMatcher: TradeMatcher?

    var host: String { target.withLockedValue { $0.host } }
    var port: Int { target.withLockedValue { $0.port } }
    var webSocketURL: String { "ws://\(host):\(port)" }

    public init(configuration: SwarmConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        let journal = configuration.dataDirectory.map { JournalIndex(path: $0 + "/bridgelab-journal.tsv") }
        self.recorder = LatencyRecorder(journal: journal)
        self.profileReader = configuration.profile.map(MessageReader.init)
        self.tradeMatcher = configuration.profile == nil ? nil : configuration.dataDirectory.map { TradeMatcher(dataDirectory: $0) }
        self.bridgeProcess = configuration.bridgeCommand.map(BridgeProcessController.init)
        self.faultProxy =
            configuration.proxy || configuration.faults.contains(where: \.needsProxy)
            ? FaultProxy(upstreamHost: configuration.host == "localhost" ? "127.0.0.1" : configuration.host, upstreamPort: configuration.port) : nil
        target.withLockedValue { $0 = (configuration.host, configuration.port) }
    }

    /// Runs the swarm for the configured duration and returns its summary.
    public func run() async throws -> SwarmSummary {
        if let bridgeProcess {
            try bridgeProcess.start()
            try await waitUntilHealthy(seconds: 15)
        }
        defer { bridgeProcess?.stop() }
        try await checkReachable()
        if let faultProxy {
            let port = try await faultProxy.start()
            target.withLockedValue { $0 = ("127.0.0.1", port) }
        }
        defer { if let faultProxy { Task { await faultProxy.stop() } } }
        let usageBefore = ResourceUsage.now()
        let startedAt = WallClock.nowMicroseconds()
        let start = WallClock.monotonicNanoseconds()
        let end = start + UInt64(configuration.duration * 1e9)
        let kinds = configuration.assignedKinds()

        let timeline = SwarmTimeline()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.resolveLoop(until: end) }
            group.addTask { await self.timelineLoop(timeline, start: start, end: end) }
            if configuration.progress { group.addTask { await self.progressLoop(start: start, end: end) } }
            for fault in configuration.faults {
                group.addTask {
                    try? await Self.sleep(until: start + UInt64(fault.at * 1e9))
                    if case .kill(let down) = fault.fault, let bridgeProcess = self.bridgeProcess {
                        bridgeProcess.kill()
                        try? await Task.sleep(for: .milliseconds(Int64(down * 1000)))
                        do {
                            try bridgeProcess.restart()
                        } catch {
                            self.totals.error("bridge_restart")
                        }
                    } else if let faultProxy = self.faultProxy {
                        await fault.apply(to: faultProxy)
                    }
                }
            }
            for (index, kind) in kinds.enumerated() {
                let arrival = configuration.arrivalRate.map { UInt64(Double(index) / $0 * 1e9) } ?? 0
                let leave: UInt64 =
                    configuration.rampDown > 0
                    ? end - UInt64(configuration.rampDown * 1e9 * Double(kinds.count - index) / Double(kinds.count)) : end
                group.addTask {
                    try? await Self.sleep(until: start + arrival)
                    guard WallClock.monotonicNanoseconds() < leave else { return }
                    self.totals.update {
                        $0.started[kind, default: 0] += 1
                        $0.running += 1
                    }
                    await self.runClient(index: index, kind: kind, until: max(leave, start + arrival))
                    self.totals.update { $0.running -= 1 }
                }
            }
            await group.waitForAll()
        }
        recorder.resolve(final: true)
        timeline.append(row(start: start, totals: totals.values, window: recorder.takeWindow()))
        let usage = ResourceUsage.now().since(usageBefore)
        let elapsed = Double(WallClock.monotonicNanoseconds() - start) / 1e9
        let summary = SwarmSummary.make(
            configuration: configuration,
            kinds: kinds,
            totals: totals.values,
            recorder: recorder,
            lost: lostTrades(totals.values.owed),
            startedAt: startedAt,
            elapsed: elapsed,
            usage: usage
        )
        if let directory = configuration.outputDirectory { try summary.write(to: directory, recorder: recorder, timeline: timeline) }
        return summary
    }

    /// Waits for a bridge loadgen started to answer /health.
    private func waitUntilHealthy(seconds: Double) async throws {
        let deadline = WallClock.monotonicNanoseconds() + UInt64(seconds * 1e9)
        while WallClock.monotonicNanoseconds() < deadline {
            if (try? await checkReachable()) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SwarmError("the bridge started with --bridge-command did not answer /health within \(Int(seconds)) s")
    }

    /// A clear error before anything else when the bridge is not there.
    private func checkReachable() async throws {
        do {
            let status = try await HTTPConnection.with(host: configuration.host, port: configuration.port, connectTimeout: .seconds(3)) {
                connection in
                try await connection.get(self.healthPath).status
            }
            guard status == 200 else { throw SwarmError("the bridge at \(configuration.url) answered /health with \(status)") }
        } catch let error as SwarmError {
            throw error
        } catch {
            throw SwarmError("cannot reach a bridge at \(configuration.url): \(error)")
        }
    }

    /// The health route: the reference bridge's, or the profile's.
    var healthPath: String {
        guard let profile = profileReader?.profile else { return "/health" }
        return URLTemplate.path(of: URLTemplate.fill(profile.health, placeholders(symbol: configuration.symbols.first)))
    }

    static func sleep(until deadline: UInt64) async throws {
        let now = WallClock.monotonicNanoseconds()
        if deadline > now { try await Task.sleep(for: .nanoseconds(Int64(deadline - now))) }
    }

    private func resolveLoop(until end: UInt64) async {
        while WallClock.monotonicNanoseconds() < end {
            try? await Task.sleep(for: .milliseconds(100))
            recorder.resolve()
        }
    }

    /// One row a second: how many clients ran, what they received, and that second's latency.
    private func timelineLoop(_ timeline: SwarmTimeline, start: UInt64, end: UInt64) async {
        var next = start
        while true {
            next += 1_000_000_000
            guard next <= end else { return }
            try? await Self.sleep(until: next)
            timeline.append(row(start: start, totals: totals.values, window: recorder.takeWindow()))
        }
    }

    private func row(start: UInt64, totals v: SwarmTotals.Values, window: [String: Histogram<UInt64>]) -> SwarmTimeline.Row {
        SwarmTimeline.Row(
            seconds: Double(WallClock.monotonicNanoseconds() - start) / 1e9,
            running: v.running,
            messages: v.messages,
            measured: v.measuredUpdates,
            bytes: v.bytes,
            httpRequests: v.httpRequests,
            errors: v.errors.values.reduce(0, +),
            update: window["update"],
            pollRequest: window["poll_request"]
        )
    }

    private func progressLoop(start: UInt64, end: UInt64) async {
        var lastMessages = 0
        while WallClock.monotonicNanoseconds() < end {
            try? await Task.sleep(for: .seconds(1))
            let v = totals.values
            let seconds = Double(WallClock.monotonicNanoseconds() - start) / 1e9
            let p99 = recorder.histogram("update").map { $0.totalCount > 0 ? "\(Double($0.valueAtPercentile(99)) / 1000) ms" : "-" } ?? "-"
            let line = String(
                format: "loadgen: %5.1fs  clients %d  messages %d (%d/s)  http requests %d  update p99 %@\n",
                seconds,
                v.started.values.reduce(0, +),
                v.messages,
                v.messages - lastMessages,
                v.httpRequests,
                p99
            )
            lastMessages = v.messages
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    // MARK: - Clients

    private func runClient(index: Int, kind: ClientKind, until end: UInt64) async {
        if profileReader != nil {
            switch kind {
            case .ws: await runProfileWebSocket(until: end)
            case .sse: await runProfileSSE(until: end)
            case .poll: await runProfilePoller(index: index, until: end)
            case .leak: await runLeak(until: end)
            default: break  // refused by validate()
            }
            return
        }
        switch kind {
        case .ws, .slow: await runWebSocket(kind: kind, until: end)
        case .sse: await runSSE(until: end)
        case .poll: await runPoller(index: index, until: end)
        case .stuck, .vanish: await runSilent(kind: kind, until: end)
        case .churn: await runChurn(until: end)
        case .malformed: await runMalformed(until: end)
        case .leak: await runLeak(until: end)
        }
    }

    private func clientConfiguration() -> BridgeClientConfiguration {
        var client = BridgeClientConfiguration(url: webSocketURL, symbols: configuration.symbols)
        client.channels = configuration.channels
        client.token = configuration.token
        return client
    }

    /// Accounts for one message. `milestones` holds when the client started and when its first
    /// `hello` (connected) arrived; the first `snapshot` ends the subscribe measurement.
    private func observe(
        _ message: ReceivedMessage,
        started: Int64,
        firstSnapshot: inout Bool,
        histogram: String = "update",
        connectedAt: inout Int64?
    ) {
        let measured = (message.kind == .trade || message.kind == .quote || message.kind == .stats) && message.seq != nil
        totals.message(bytes: message.bytes, kind: message.kind, measured: measured)
        switch message.kind {
        case .hello:
            if connectedAt == nil {
                connectedAt = message.receivedAt
                recorder.record("connect", microseconds: message.receivedAt - started)
            }
        case .trade, .quote, .stats:
            if let seq = message.seq {
                recorder.update(contract: message.contract, seq: seq, receivedAt: message.receivedAt, histogram: histogram)
                // Where the time went, when the bridge says (--trace-timestamps).
                if let wake = message.wake, let queued = message.queued {
                    recorder.update(contract: message.contract, seq: seq, receivedAt: wake, histogram: "stage_write_to_wake")
                    recorder.recordStages(wakeToQueued: queued - wake, queuedToDecoded: message.receivedAt - queued)
                }
            }
        case .snapshot:
            if !firstSnapshot {
                firstSnapshot = true
                recorder.record("subscribe_to_snapshot", microseconds: message.receivedAt - (connectedAt ?? started))
            }
        default:
            break
        }
    }

    private func runWebSocket(kind: ClientKind, until end: UInt64) async {
        let started = WallClock.nowMicroseconds()
        var settings = clientConfiguration()
        if kind == .slow {
            settings.deliverUpdates = true
            settings.queueLimit = 64
        }
        let first = FirstFlag()
        let histogram = kind == .slow ? "update_slow" : "update_ws"
        let client = BridgeClient(configuration: settings, logger: logger) { message in
            var seen = first.value
            var connectedAt = first.connectedAt
            self.observe(message, started: started, firstSnapshot: &seen, histogram: histogram, connectedAt: &connectedAt)
            first.value = seen
            first.connectedAt = connectedAt
        }
        let delay = configuration.slowDelayMilliseconds
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            if kind == .ws, configuration.cacheReadsPerSecond > 0 {
                // The application asks for the latest data as often as the old client polled;
                // the local view answers (a hit) while it is younger than the cache TTL.
                let symbols = configuration.symbols
                let interval = UInt64(1e9 / configuration.cacheReadsPerSecond)
                group.addTask {
                    var read = 0
                    var next = WallClock.monotonicNanoseconds() + interval
                    while next < end, !Task.isCancelled {
                        try? await Self.sleep(until: next)
                        _ = client.latest(symbols[read % symbols.count])
                        read += 1
                        next += interval
                    }
                }
            }
            if kind == .slow {
                group.addTask {
                    while await client.updates.next() != nil { try? await Task.sleep(for: .milliseconds(delay)) }
                }
            }
            try? await Self.sleep(until: end)
            client.stop()
            client.updates.finish()
            await group.waitForAll()
        }
        let statistics = client.statistics
        for micros in statistics.reconnectMicroseconds { recorder.record("reconnect", microseconds: micros) }
        totals.update { $0.connected[kind, default: 0] += statistics.connects > 0 ? 1 : 0 }
        totals.add(statistics, trackers: client.trackers)
    }

    /// An EventSource: reconnects after `retry:` with `Last-Event-ID`.
    private func runSSE(until end: UInt64) async {
        let started = WallClock.nowMicroseconds()
        let client = SSEClientState()
        let channels = configuration.channels.map(\.rawValue).joined(separator: ",")
        let path =
            "/sse?symbols=\(configuration.symbols.joined(separator: ","))&channels=\(channels)" + (configuration.token.map { "&token=\($0)" } ?? "")
        while WallClock.monotonicNanoseconds() < end {
            do {
                try await withDeadline(end) {
                    try await HTTPConnection.with(host: self.host, port: self.port) { connection in
                        try await connection.send(path, headers: client.lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
                        let head = try await connection.head()
                        self.totals.update { $0.sseStatus[Int(head.status.code), default: 0] += 1 }
                        guard head.status == .ok else { throw SwarmError("SSE answered \(head.status.code)") }
                        if !client.connected {
                            client.connected = true
                            client.connectedAt = WallClock.nowMicroseconds()
                            self.recorder.record("connect", microseconds: client.connectedAt! - started)
                            self.totals.update { $0.connected[.sse, default: 0] += 1 }
                        }
                        var parser = SSEParser()
                        while let chunk = try await connection.chunk() {
                            for event in parser.feed(chunk) {
                                if let id = event.id { client.lastEventID = id }
                                if let value = event.retry { client.retry = value / 1000 }
                                guard let data = event.data else { continue }
                                let receivedAt = WallClock.nowMicroseconds()
                                let message = WireScanner(data)
                                let contract = String(message.contract)
                                var verdict: ContractTracker.TradeVerdict?
                                switch message.kind {
                                case .snapshot, .trade, .reset:
                                    verdict = client.trackers[contract, default: ContractTracker(contract: contract)].apply(message)
                                case .resumed:
                                    self.totals.update { $0.resumesRecovered += 1 }
                                case .notRecovered:
                                    self.totals.update { $0.resumesNotRecovered += 1 }
                                default:
                                    break
                                }
                                var first = client.firstSnapshot
                                // SSE has no hello: the response head was the moment it connected.
                                var connectedAt: Int64? = client.connectedAt
                                self.observe(
                                    ReceivedMessage(
                                        type: message.type,
                                        kind: message.kind,
                                        contract: message.contract,
                                        seq: message.seq,
                                        receivedAt: receivedAt,
                                        bytes: data.utf8.count,
                                        verdict: verdict,
                                        wake: message.tw,
                                        queued: message.tq
                                    ),
                                    started: started,
                                    firstSnapshot: &first,
                                    histogram: "update_sse",
                                    connectedAt: &connectedAt
                                )
                                client.firstSnapshot = first
                            }
                        }
                    }
                }
            } catch {
                if WallClock.monotonicNanoseconds() < end { totals.error("sse_" + ErrorName.of(error)) }
            }
            guard WallClock.monotonicNanoseconds() < end else { break }
            try? await Task.sleep(for: .milliseconds(Int64(client.retry * 1000)))
        }
        totals.add(trackers: client.trackers)
    }

    /// The old client: a fixed request rate, latency from the *intended* send time (no coordinated
    /// omission: when the bridge stalls, the requests that should have gone out meanwhile all count
    /// the stall), plus the staleness of the data each answer carried.
    private func runPoller(index: Int, until end: UInt64) async {
        let token = configuration.token.map { "?token=\($0)" } ?? ""
        await poll(index: index, until: end, host: host) {
            "/api/live_data/\($0)\(token)"
        } observe: { response, _, receivedAt, poller in
            let message = WireScanner(String(buffer: response.body))
            guard let seq = message.seq, seq >= 0 else { return }
            self.recorder.staleness(contract: message.contract, seq: seq, receivedAt: receivedAt)
            let contract = String(message.contract)
            if let seen = poller.seen[contract], seq > seen {
                self.recorder.delivery(contract: message.contract, after: seen, seq: seq, receivedAt: receivedAt)
            }
            if seq > poller.seen[contract, default: -1] { poller.seen[contract] = seq }
        }
    }

    /// A poller's loop, for the reference bridge and for a profiled one: requests at the
    /// configured rate on a keep-alive connection (a new one when the bridge closes it), each
    /// timed from its intended send; `observe` reads a 200 answer (symbol, received at).
    func poll(
        index: Int,
        until end: UInt64,
        host: String,
        path: @escaping @Sendable (String) -> String,
        observe: @escaping @Sendable (HTTPConnection.Response, String, Int64, PollerState) -> Void
    ) async {
        let interval = 1 / configuration.pollRate
        let first = WallClock.monotonicNanoseconds()
        let poller = PollerState()
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
                            let response = try await connection.get(path(symbol))
                            let done = WallClock.monotonicNanoseconds()
                            let receivedAt = WallClock.nowMicroseconds()
                            self.recorder.record("poll_request", microseconds: Int64(done - intended) / 1000)
                            self.totals.update {
                                $0.httpRequests += 1
                                $0.httpStatus[response.status, default: 0] += 1
                                $0.messages += 1
                                $0.bytes += response.body.readableBytes
                            }
                            if response.status == 200 { observe(response, symbol, receivedAt, poller) }
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

    /// `stuck`: subscribed and never reading. `vanish`: handshake, then silence (half-open).
    private func runSilent(kind: ClientKind, until end: UInt64) async {
        let symbol = configuration.symbols[0]
        let path = kind == .stuck ? "/ws/live_data/\(symbol)" : "/ws"
        let token = configuration.token.map { "?token=\($0)" } ?? ""
        let host = self.host
        let port = self.port
        let ok: Bool = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var size: Int32 = 4096
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr(host == "localhost" ? "127.0.0.1" : host)
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                var request = Array(
                    "GET \(path)\(token) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                        .utf8
                )
                let sent = connected == 0 && request.withUnsafeMutableBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } > 0
                continuation.resume(returning: sent)
                // Hold the socket open, reading nothing, until the run ends.
                while WallClock.monotonicNanoseconds() < end { usleep(50_000) }
                close(fd)
            }
        }
        totals.update { if ok { $0.connected[kind, default: 0] += 1 } }
        if !ok { totals.error("\(kind.rawValue)_connect") }
        try? await Self.sleep(until: end)
    }

    /// A connection leaker: a new keep-alive connection every second, one request each, none ever
    /// closed until the run ends (a server without an idle timeout keeps every one of them).
    private func runLeak(until end: UInt64) async {
        let symbol = configuration.symbols[0]
        let token = configuration.token.map { "?token=\($0)" } ?? ""
        let host = self.host == "localhost" ? "127.0.0.1" : self.host
        let port = self.port
        let totals = self.totals
        // The poll route: the reference bridge's, or the profile's.
        let path =
            profileReader?.profile.poll.map { URLTemplate.path(of: URLTemplate.fill($0.url, placeholders(symbol: symbol))) }
            ?? "/api/live_data/\(symbol)\(token)"
        let opened: Int = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var sockets: [Int32] = []
                var next = WallClock.monotonicNanoseconds()
                while WallClock.monotonicNanoseconds() < end {
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    var timeout = timeval(tv_sec: 2, tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_port = in_port_t(UInt16(port).bigEndian)
                    address.sin_addr.s_addr = inet_addr(host)
                    let connected = withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: keep-alive\r\n\r\n".utf8)
                    var answered = false
                    if connected == 0, request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) > 0 {
                        var buffer = [UInt8](repeating: 0, count: 4096)
                        answered = recv(fd, &buffer, buffer.count, 0) > 0
                    }
                    totals.update {
                        $0.httpRequests += 1
                        if !answered { $0.errors["leak_unanswered", default: 0] += 1 }
                    }
                    sockets.append(fd)
                    next += 1_000_000_000
                    let now = WallClock.monotonicNanoseconds()
                    if next > now { usleep(UInt32(min(next - now, end > now ? end - now : 0) / 1000)) }
                }
                for fd in sockets { close(fd) }
                continuation.resume(returning: sockets.count)
            }
        }
        totals.update { $0.connected[.leak, default: 0] += opened > 0 ? 1 : 0 }
    }

    private func runChurn(until end: UInt64) async {
        let connects = PollerState()
        while WallClock.monotonicNanoseconds() < end {
            let stayMilliseconds = Int64.random(in: 100...1_000)
            var url = webSocketURL + "/ws"
            if let token = configuration.token { url += "?token=\(token)" }
            let subscribe = "{\"op\":\"subscribe\",\"symbols\":[\"\(configuration.symbols[0])\"]}"
            do {
                let frame = try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                    connects.request += 1
                    try await outbound.write(.text(subscribe))
                    let leave = WallClock.monotonicNanoseconds() + UInt64(stayMilliseconds) * 1_000_000
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        if case .text(let text) = message {
                            for line in text.split(separator: "\n") { self.totals.message(bytes: line.utf8.count) }
                        }
                        if WallClock.monotonicNanoseconds() > leave { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                if let frame { totals.update { $0.closeCodes[Int(UInt16(webSocketErrorCode: frame.closeCode)), default: 0] += 1 } }
            } catch {
                totals.error("churn_" + ErrorName.of(error))
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        totals.update { $0.connected[.churn, default: 0] += connects.request > 0 ? 1 : 0 }
    }

    private func runMalformed(until end: UInt64) async {
        var url = webSocketURL + "/ws"
        if let token = configuration.token { url += "?token=\(token)" }
        let garbage = [
            "{not json", "[]", "{\"op\":\"explode\"}", "{\"op\":\"subscribe\",\"symbols\":[\"../../etc/passwd\"]}",
            String(repeating: "x", count: 300),
        ]
        do {
            let frame = try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                self.totals.update { $0.connected[.malformed, default: 0] += 1 }
                let sender = Task {
                    var i = 0
                    while WallClock.monotonicNanoseconds() < end {
                        try await outbound.write(.text(garbage[i % garbage.count]))
                        i += 1
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                defer { sender.cancel() }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message {
                        for line in text.split(separator: "\n") where WireScanner(line).type == "error" {
                            self.totals.update { $0.serverErrors += 1 }
                        }
                    }
                }
            }
            if let frame { totals.update { $0.closeCodes[Int(UInt16(webSocketErrorCode: frame.closeCode)), default: 0] += 1 } }
        } catch {
            totals.error("malformed_" + ErrorName.of(error))
        }
    }

    // MARK: - Loss

    /// Trades the clients were owed (after where each started, up to the last it saw, per
    /// contract) that they never received: counted against the `.scid` files themselves.
    private func lostTrades(_ owed: [(contract: String, after: Int, through: Int, received: Int)]) -> Int? {
        guard let directory = configuration.dataDirectory else { return nil }
        var prefix: [String: [Int]] = [:]
        var lost = 0
        for entry in owed {
            if prefix[entry.contract] == nil {
                guard let records = try? IntradayFormat.readFile(atPath: directory + "/" + entry.contract + ".scid").records else { continue }
                var counts = [Int](repeating: 0, count: records.count + 1)
                for (i, record) in records.enumerated() { counts[i + 1] = counts[i] + (record.isTrade ? 1 : 0) }
                prefix[entry.contract] = counts
            }
            guard let counts = prefix[entry.contract], entry.through < counts.count - 1 else { continue }
            let expected = counts[entry.through + 1] - counts[max(0, entry.after + 1)]
            lost += max(0, expected - entry.received)
        }
        return lost
    }
}

/// A Bool a @Sendable closure can set (each client's callbacks run one at a time).
final class FirstFlag: @unchecked Sendable {
    var value = false
    var connectedAt: Int64?
}

/// An SSE client's state across its reconnections (used by one task at a time).
final class SSEClientState: @unchecked Sendable {
    var trackers: [String: ContractTracker] = [:]
    var lastEventID: String?
    var retry = 2.0
    var firstSnapshot = false
    var connected = false
    var connectedAt: Int64?
}

/// A poller's state across reconnections (used by one task at a time).
final class PollerState: @unchecked Sendable {
    var request = 0
    var connected = false
    /// Per contract, the newest record an answer carried.
    var seen: [String: Int] = [:]
}

/// Runs `body`, cancelling it at the monotonic `deadline`.
func withDeadline(_ deadline: UInt64, _ body: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Swarm.sleep(until: deadline)
            throw CancellationError()
        }
        defer { group.cancelAll() }
        _ = try await group.next()
    }
}
