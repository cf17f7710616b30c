import BridgeClient
import BridgeWire
import Clocks
import Foundation
import Histogram
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Processes
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
    /// The bridge loadgen started itself (`--bridge-command`), to kill and restart it.
    let bridgeProcess: RestartableProcess?
    /// A bridge described by a profile: its messages are read through it and its trades matched
    /// to their records (nil: the reference bridge's protocol).
    let profileReader: MessageReader?
    let tradeMatcher: TradeMatcher?

    /// The host clients connect to: an address (`localhost` is 127.0.0.1), for the raw sockets too.
    var host: String { target.withLockedValue { $0.host } }
    /// `?token=…` for the bridge's routes, or nothing: built once.
    let tokenQuery: String
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
        self.bridgeProcess = configuration.bridgeCommand.map { RestartableProcess(Self.bridge($0)) }
        self.faultProxy =
            configuration.proxy || configuration.faults.contains(where: \.needsProxy)
            ? FaultProxy(upstreamHost: Self.address(configuration.host), upstreamPort: configuration.port) : nil
        self.tokenQuery = configuration.token.map { "?token=\($0)" } ?? ""
        target.withLockedValue { $0 = (Self.address(configuration.host), configuration.port) }
    }

    /// `localhost` as the address it means here (raw sockets take addresses, not names).
    static func address(_ host: String) -> String { host == "localhost" ? "127.0.0.1" : host }

    /// Runs the swarm for the configured duration and returns its summary.
    public func run() async throws -> SwarmSummary {
        guard let bridgeProcess else { return try await runClients() }
        do {
            try bridgeProcess.start()
        } catch {
            throw SwarmError("cannot start the bridge (\(configuration.bridgeCommand?.first ?? "")): \(error)")
        }
        do {
            try await waitUntilHealthy(seconds: 15)
            let summary = try await runClients()
            await bridgeProcess.stop()
            return summary
        } catch {
            await bridgeProcess.stop()
            throw error
        }
    }

    /// The bridge of `--bridge-command`, its output discarded.
    static func bridge(_ command: [String]) -> ChildProcess {
        ChildProcess(name: "bridge", executable: command.first ?? "", arguments: Array(command.dropFirst()), logPath: nil)
    }

    private func runClients() async throws -> SwarmSummary {
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
                        do {
                            try await bridgeProcess.killAndRestart(down: .milliseconds(Int64(down * 1000))) {
                                let fresh = Self.bridge(self.configuration.bridgeCommand ?? [])
                                try fresh.start()
                                return fresh
                            }
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
        await kind.client(for: self, index: index)?.run(until: end)
    }

    func clientConfiguration() -> BridgeClientConfiguration {
        var client = BridgeClientConfiguration(url: webSocketURL, symbols: configuration.symbols)
        client.channels = configuration.channels
        client.maxRate = configuration.maxRate
        client.token = configuration.token
        return client
    }

    /// Accounts for one message. `milestones` holds when the client started and when its first
    /// `hello` (connected) arrived; the first `snapshot` ends the subscribe measurement.
    func observe(
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

    /// Freshness measured as for a poller: every record is delivered by the first message whose
    /// seq reaches it (a trade, a quote, stats, a bar, a snapshot after a reconnect), and the time
    /// from its write to then goes to `delivery` — so a rate-capped or bar client's data is as old
    /// as it really was, and the arms compare at equal information. The first snapshot delivers
    /// history, not news: it only places the cursor.
    func delivered(_ message: ReceivedMessage, cursor: FirstFlag) {
        guard let seq = message.seq else { return }
        // Contract names are short: a String of its own, held inline (a Substring key would keep
        // the whole message alive).
        let contract = String(message.contract)
        switch message.kind {
        case .snapshot:
            if let after = cursor.delivered[contract] {
                if seq > after {
                    recorder.delivery(contract: message.contract, after: after, seq: seq, receivedAt: message.receivedAt, histogram: "delivery")
                }
                cursor.delivered[contract] = max(after, seq)
            } else {
                cursor.delivered[contract] = seq
            }
        case .trade, .quote, .stats, .bar:
            guard let after = cursor.delivered[contract], seq > after else { return }
            recorder.delivery(contract: message.contract, after: after, seq: seq, receivedAt: message.receivedAt, histogram: "delivery")
            cursor.delivered[contract] = seq
        default:
            break
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
