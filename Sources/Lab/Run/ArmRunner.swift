import BridgeClient
import BridgeWire
import Foundation
import MarketSim
import NIOConcurrencyHelpers
import NIOPosix
import Processes
import SierraFormat
import Swarm

#if canImport(Glibc)
import Glibc
#endif

/// Runs one arm: a fresh simulator and bridge, the swarm, and everything watching them; then
/// stops them all and leaves the arm's folder with its raw measurements.
///
/// The time axis: the simulator starts first, the bridge next; the swarm starts `lead` seconds
/// after the simulator (later only if the bridge was slow to come up), and scripted market events
/// and faults are timed from the swarm's start.
final class ArmRunner: Sendable {
    let scenario: Scenario
    let arm: Scenario.Arm
    let plan: Scenario.SwarmPlan
    let executables: Executables
    let directory: String
    let console: Console
    let interruption: Interruption
    let label: String

    /// Seconds from the simulator's start to the swarm's (without an idle window).
    static let lead = 3.0
    /// This scenario's: the idle window comes before the swarm.
    var lead: Double { Self.lead + scenario.idle }

    let pids = NIOLockedValueBox(ResourceSampler.Targets())
    /// Everything started, stopped on every way out (an error included).
    private let children = NIOLockedValueBox<[ChildProcess]>([])

    init(
        scenario: Scenario,
        arm: Scenario.Arm,
        executables: Executables,
        directory: String,
        console: Console,
        interruption: Interruption,
        label: String
    ) {
        self.scenario = scenario
        self.arm = arm
        self.plan = scenario.swarm(for: arm)
        self.executables = executables
        self.directory = directory
        self.console = console
        self.interruption = interruption
        self.label = label
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e6) }

    /// Runs the arm and returns its record (also saved in its folder with the raw data).
    func run() async -> ArmRecord {
        var record = ArmRecord(name: arm.name, mode: arm.mode, role: arm.role)
        record.clients = plan.clients
        record.kinds = plan.kinds
        let data = NSTemporaryDirectory() + "bridgelab-\(getpid())-\(arm.name)-\(UUID().uuidString.prefix(8))"
        defer {
            try? FileManager.default.removeItem(atPath: data)
            try? FileManager.default.removeItem(atPath: data + "-capture")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try await execute(&record, data: data)
        } catch {
            record.status = .error
            record.error = "\(error)"
            console.say("  \(arm.name): \(error)")
        }
        for child in children.withLockedValue({ $0 }) { await child.stop() }
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(record).write(to: URL(fileURLWithPath: directory + "/" + ArmData.recordFile))
        } catch {
            console.say("  \(arm.name): could not save arm.json: \(error)")
        }
        return record
    }

    private func execute(_ record: inout ArmRecord, data: String) async throws {
        // The market: simulated, or a capture replayed (written by the simulator first if the
        // scenario names no folder).
        var replayStart = scenario.market.replay?.start
        if let replay = scenario.market.replay {
            let source = try await captureSource(replay, data: data, window: &replayStart)
            record.replay = .init(source: replay.from ?? replay.capture.description, speed: arm.replaySpeed ?? replay.speed, windowStart: replayStart)
            record.commands["replay source"] = source
        }
        let simulator = ChildProcess(
            name: "simulator",
            executable: executables.simulator,
            arguments: simulatorArguments(data: data, replayStart: replayStart),
            logPath: directory + "/simulator.log"
        )
        record.commands["simulator"] = simulator.commandLine
        try start(simulator)
        let simulatorStart = Self.now()
        pids.withLockedValue { $0.simulator = simulator.pid }
        try await waitForFiles(in: data, simulator: simulator)
        record.dataFiles = dataFiles(in: data)

        // The bridge: the reference one on a free port it picks and writes in its port file; a
        // foreign one on a free port the runner picks and fills into its command.
        let profile = try arm.profile.map { path throws(ScenarioError) in try ProfileLoader.load(path) }
        record.profile = profile.map { "\($0.name) (\($0.file))" }
        if arm.bridge != nil { record.port = try Self.freePort() }
        let bridges = RestartableProcess(try makeBridge(data: data, port: record.port, record: &record))
        try start(bridges.current)
        if arm.bridge == nil { record.port = try await bridgePort(bridges.current) }
        let port = record.port
        try await waitUntilHealthy(bridges.current, port: port, profile: profile)
        if record.launch.allocator != "system" {
            record.allocatorLoaded = ProcReader.read("/proc/\(bridges.current.pid)/maps")?.contains("lib\(record.launch.allocator)") ?? false
        }

        let ready = readyURL(port: port, profile: profile)
        let probe = BridgeProbe(
            port: port,
            healthPath: URLTemplate.path(of: profile.map { _ in ready } ?? "/health"),
            metricsPath: arm.bridge == nil ? "/metrics" : profile?.metrics.map { URLTemplate.path(of: $0) }
        )
        let sampler = ResourceSampler(port: port) { [pids] in pids.withLockedValue { $0 } }
        // The dashboard stream: the reference bridge's, or the one a foreign bridge's profile names.
        let dashboardPath =
            arm.bridge == nil
            ? "/api/stream/dashboard"
            : profile?.dashboard.map { URLTemplate.path(of: URLTemplate.fill($0, foreignPlaceholders(data: data, port: port))) }
        let follows = arm.mode == "event" && dashboardPath != nil
        record.dashboardFollowed = follows

        // Everything that watches the bridge runs in this group: an error anywhere cancels it
        // and waits for it; on the normal way out it is cancelled before the bridge stops.
        var wasRunning = false
        try await withThrowingTaskGroup(of: Void.self) { watchers in
            watchers.addTask { await sampler.run() }
            watchers.addTask { await probe.probeHealth(alive: { bridges.current.isRunning }) }
            watchers.addTask { await probe.scrapeMetrics(saveTo: self.directory + "/" + ArmData.metricsFolder) }
            // With an idle window the dashboard follower (a client) waits for the swarm.
            if follows, scenario.idle == 0 { watchers.addTask { await probe.followDashboard(path: dashboardPath!) } }
            await settleFollower(follows && scenario.idle == 0, probe: probe)
            record.before = connections(bridges.current.pid, port: port)

            // The swarm, `lead` seconds after the simulator started.
            if scenario.idle > 0 { record.idleFrom = Self.now() + 500_000 }
            let wait = Double(simulatorStart - Self.now()) / 1e6 + lead
            if wait > 0 { try? await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
            if scenario.idle > 0 {
                record.idleTo = Self.now()
                if follows {
                    watchers.addTask { await probe.followDashboard(path: dashboardPath!) }
                    await settleFollower(true, probe: probe)
                    record.before = connections(bridges.current.pid, port: port)
                }
            }
            if arm.bridge == nil, arm.mode == "event" { await warmUpWebSocket(port: port) }
            // A descriptor limit is set by `bridgelab launch`, as the bridge's is.
            let (loadgenExecutable, loadgenArguments) = try Launch(descriptorLimit: plan.descriptorLimit).commandLine(
                launcher: executables.bridgelab,
                executable: executables.loadgen,
                arguments: loadgenArguments(data: data, port: port) + (arm.profile.map { ["--profile", $0] } ?? [])
            )
            let loadgen = ChildProcess(
                name: "loadgen",
                executable: loadgenExecutable,
                arguments: loadgenArguments,
                logPath: directory + "/loadgen.log"
            )
            record.commands["loadgen"] = loadgen.commandLine
            try start(loadgen)
            record.swarmStart = Self.now()
            pids.withLockedValue { $0.loadgen = loadgen.pid }
            record.measureFrom = record.swarmStart + Int64(scenario.warmup * 1e6)
            record.measureTo = record.swarmStart + Int64((scenario.duration - plan.rampDown) * 1e6)
            addMarkers(&record, simulatorStart: simulatorStart)

            // Kill faults are the runner's: it owns the bridge process.
            var kills = killFaults()
            var noticed = 0
            var measuredRequests = false
            let deadline = record.swarmStart + Int64((swarmSeconds + 60) * 1e6)
            while loadgen.isRunning {
                let now = Self.now()
                if interruption.isSet {
                    await loadgen.stop(grace: 2)
                    break
                }
                if now > deadline {
                    await loadgen.stop(grace: 2)
                    throw RunnerError("loadgen did not finish within 60 s of the run's end: \(loadgen.logTail())")
                }
                if let (at, down) = kills.first, now >= record.swarmStart + Int64(at * 1e6) {
                    kills.removeFirst()
                    let outage = try await bridges.killAndRestart(down: .milliseconds(Int64(down * 1000))) {
                        let fresh = try makeBridge(data: data, port: port, record: &record)
                        try start(fresh)
                        return fresh
                    } ready: { fresh in
                        try await waitUntilHealthy(fresh, port: port, profile: profile)
                    }
                    record.markers.append(.init(at: outage.killedAt, kind: .fault, label: "kill (SIGKILL)"))
                    record.bridgeEndings += outage.ending.map { [$0] } ?? []
                    record.outages.append(.init(from: outage.killedAt, to: outage.readyAt))
                    record.markers.append(.init(at: outage.readyAt, kind: .restart, label: "bridge restarted"))
                }
                if let ending = bridges.current.ending, !ending.requested, noticed == 0 {
                    noticed += 1
                    record.markers.append(.init(at: ending.at, kind: .crash, label: "bridge \(ending.description)"))
                    console.say(
                        "  \(arm.name): the bridge \(ending.description) at \(String(format: "%.1f", Double(ending.at - record.swarmStart) / 1e6)) s"
                    )
                }
                if let cost = scenario.requestCost, !measuredRequests, now >= record.measureTo, bridges.current.isRunning {
                    measuredRequests = true
                    for path in cost.paths {
                        console.status("[\(label)] \(cost.requests * RequestCostProbe.rounds) requests of \(path) with the clients connected")
                        let open = SocketStates.read(port: port)["ESTABLISHED"]
                        record.requestCosts.append(
                            await RequestCostProbe(port: port, path: path, requests: cost.requests).measure(
                                pid: bridges.current.pid,
                                openConnections: open
                            )
                        )
                    }
                    continue
                }
                status(record: record, sampler: sampler, probe: probe)
                try? await Task.sleep(for: .milliseconds(200))
            }
            record.loadgenStatus = loadgen.ending?.status
            record.swarmEnd = Self.now()
            pids.withLockedValue { $0.loadgen = nil }

            // After the clients left: are connections and descriptors back where they were?
            if !interruption.isSet {
                console.status("[\(label)] settling \(Int(scenario.settle)) s, then checking for leaked connections")
                try? await Task.sleep(for: .milliseconds(Int64(scenario.settle * 1000)))
            }
            if bridges.current.isRunning { record.after = connections(bridges.current.pid, port: port) }
            watchers.cancelAll()
            wasRunning = bridges.current.isRunning
            // Stopped before the watchers are awaited: a stream they follow ends with the bridge.
            await bridges.stop()
            await simulator.stop()
        }
        if record.replay != nil, let journal = try? WriteJournal.read(path: data + "/" + WriteJournal.defaultFileName) {
            record.replay?.lag = ReplayLag.read(journal: journal)
            record.replay?.records = journal.filter { $0.kind == .scid }.map(\.count).reduce(0, +)
            record.replay?.loops = journal.filter { $0.event == "loop" }.count
        }

        if let ending = bridges.current.ending { record.bridgeEndings.append(ending) }
        if interruption.isSet {
            // Ctrl-C reaches every child of the terminal: their endings were asked for.
            record.bridgeEndings = record.bridgeEndings.map { ending in
                var ending = ending
                if ending.at >= (interruption.at ?? 0) - 1_000_000 { ending.requested = true }
                return ending
            }
        }
        record.dashboardEvents = probe.dashboardEvents
        record.hangs = probe.hangs
        for hang in record.hangs { record.markers.append(.init(at: hang, kind: .hang, label: "no /health answer for 5 s")) }
        record.status = interruption.isSet ? .interrupted : (record.crashes.isEmpty && wasRunning ? .completed : .crashed)
        try ArmData(record: record, samples: sampler.all, health: probe.health).write(to: directory)
    }

    // MARK: - Processes

    /// The arm's bridge, not yet started: the reference one (port 0: it picks a free one and writes
    /// it in its port file), or a foreign one on `port`. A restart's has a log of its own.
    func makeBridge(data: String, port: Int, record: inout ArmRecord) throws -> ChildProcess {
        if let foreign = arm.bridge { return try makeForeignBridge(foreign, data: data, port: port, record: &record) }
        try? FileManager.default.removeItem(atPath: portFile)
        let arguments =
            ["--data-dir", data, "--port", String(port), "--port-file", portFile, "--mode", arm.mode, "--log-level", "warning"]
            + scenario.bridge.flags + arm.flags
        // A descriptor limit or an allocator is set by `bridgelab launch`, before the bridge starts.
        let launch = scenario.launch(for: arm)
        record.launch = launch
        let (executable, launched) = try launch.commandLine(launcher: executables.bridgelab, executable: executables.bridge, arguments: arguments)
        let bridge = ChildProcess(
            name: "bridge",
            executable: executable,
            arguments: launched,
            logPath: directory + (record.commands["bridge"] == nil ? "/bridge.log" : "/bridge-restart-\(Self.now()).log")
        )
        if record.commands["bridge"] == nil { record.commands["bridge"] = bridge.commandLine }
        return bridge
    }

    /// One WebSocket opened (until its hello) and closed before the swarm. The first connection a
    /// process ever serves costs it about 1 MB once (the Swift runtime's and NIO's first-use
    /// allocations: the one-client arms kept that much for their one connection); with it paid
    /// before the samples the figures read as "before", memory per connection and memory kept
    /// per closed connection measure what each connection adds.
    func warmUpWebSocket(port: Int) async {
        let closer = NIOLockedValueBox<LoopWebSocket.Closer?>(nil)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try? await LoopWebSocket.connect(
                    host: "127.0.0.1",
                    port: port,
                    path: "/ws",
                    on: MultiThreadedEventLoopGroup.singleton.next(),
                    connectTimeout: .seconds(2),
                    onOpen: { opened, _ in closer.withLockedValue { $0 = opened } },
                    onText: { _ in closer.withLockedValue { $0 }?.close(code: CloseCode.normal, reason: "warm-up") }
                )
            }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            _ = await group.next()
            group.cancelAll()
        }
        // A sample after it, before the swarm.
        try? await Task.sleep(for: .milliseconds(300))
    }

    /// Starts `child`, stopped on every way out; a bridge becomes the one sampled.
    func start(_ child: ChildProcess) throws {
        try child.start()
        children.withLockedValue { $0.append(child) }
        if child.name == "bridge" { pids.withLockedValue { $0.bridge = child.pid } }
    }

    /// Waits until the dashboard follower (when there is one) has its first event, and a moment
    /// more: the leak check's "before" then counts the follower and the contracts it keeps
    /// tailed, however long its connection took (at most 5 s; 400 ms without a follower).
    func settleFollower(_ follows: Bool, probe: BridgeProbe) async {
        guard follows else {
            try? await Task.sleep(for: .milliseconds(400))
            return
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, probe.dashboardEvents.isEmpty { try? await Task.sleep(for: .milliseconds(20)) }
        try? await Task.sleep(for: .milliseconds(300))
    }

    /// Where the bridge writes its port once it listens (`bridge --port-file`, docs/PROTOCOL.md).
    var portFile: String { directory + "/bridge-port.json" }

    /// The port from the bridge's port file: a contract, not a log line.
    func bridgePort(_ bridge: ChildProcess) async throws -> Int {
        struct PortFile: Decodable { var port: Int }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: portFile), let file = try? JSONDecoder().decode(PortFile.self, from: data) {
                return file.port
            }
            guard bridge.isRunning else { throw RunnerError("the bridge ended before it listened: \(bridge.logTail())") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RunnerError("the bridge wrote no port file within 30 s: \(bridge.logTail())")
    }

    func waitUntilHealthy(_ bridge: ChildProcess, port: Int, profile: BridgeProfile?) async throws {
        if arm.bridge != nil || profile != nil {
            try await waitUntilReady(bridge, url: readyURL(port: port, profile: profile), port: port, timeout: arm.bridge?.readyTimeout ?? 20)
            return
        }
        let probe = BridgeProbe(port: port)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let response = try? await probe.get("/health"), response.status == 200 { return }
            guard bridge.isRunning else { throw RunnerError("the bridge ended before it answered /health: \(bridge.logTail())") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RunnerError("the bridge did not answer /health within 20 s")
    }

    /// Waits until the market has started: its journal's `start` line is written once every past
    /// (history, expired contracts, a replay's copied past) is in place, so the bridge starts on
    /// the whole folder.
    func waitForFiles(in data: String, simulator: ChildProcess) async throws {
        let market = scenario.market
        let wait: Double = market.history == nil && market.replay == nil && market.expired == nil && arm.expired == nil ? 10 : 300
        let deadline = Date().addingTimeInterval(wait)
        let journal = data + "/" + WriteJournal.defaultFileName
        while Date() < deadline {
            if let text = ProcReader.read(journal), text.contains("\tstart\t") { return }
            guard simulator.isRunning else { throw RunnerError("the simulator ended before writing: \(simulator.logTail())") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RunnerError("the simulator did not start writing within \(Int(wait)) s")
    }

    /// The data files as the bridge first saw them: name → (bytes, records).
    func dataFiles(in data: String) -> [String: ArmRecord.DataFile] {
        var files: [String: ArmRecord.DataFile] = [:]
        for file in DataFolder(path: data).intradayFiles() {
            files[file.contract.name + DataFolder.intradayExtension] = .init(bytes: file.size, records: file.recordCount)
        }
        return files
    }

    func connections(_ pid: Int32, port: Int) -> ArmRecord.Connections? {
        guard let descriptors = ProcReader.descriptors(pid) else { return nil }
        return ArmRecord.Connections(descriptors: descriptors, sockets: SocketStates.read(port: port))
    }

    func addMarkers(_ record: inout ArmRecord, simulatorStart: Int64) {
        for fault in scenario.faults {
            record.markers.append(.init(at: record.swarmStart + Int64(fault.at * 1e6), kind: .fault, label: fault.description))
        }
        // A replay's events are the capture's: they come round at the replay's own pace.
        for event in scenario.market.replay == nil ? scenario.market.events : [] {
            record.markers.append(.init(at: simulatorStart + Int64((event.time + lead) * 1e6), kind: .event, label: event.description))
        }
        if scenario.warmup > 0 { record.markers.append(.init(at: record.measureFrom, kind: .phase, label: "warm-up ends")) }
        if plan.rampDown > 0 { record.markers.append(.init(at: record.measureTo, kind: .phase, label: "ramp-down")) }
    }

    // MARK: - Progress

    func status(record: ArmRecord, sampler: ResourceSampler, probe: BridgeProbe) {
        let elapsed = Double(Self.now() - record.swarmStart) / 1e6
        let phase = elapsed < scenario.warmup ? "warm-up" : "measuring"
        var line = "[\(label)] \(phase) \(Int(elapsed))/\(Int(scenario.duration)) s"
        // CPU ticks are 10 ms: one 100 ms sample reads 0 % or 10 % for a light load, so the line
        // shows the last second's mean.
        let recent = sampler.recent(10)
        if let sample = recent.last {
            let bridge = recent.map(\.bridgePercent).reduce(0, +) / Double(recent.count)
            let loadgen = recent.map(\.loadgenPercent).reduce(0, +) / Double(recent.count)
            line += " · connections \(sample.sockets["ESTABLISHED"])"
            line += String(format: " · bridge %.0f%% CPU %.0f MB · loadgen %.0f%%", bridge, sample.bridgeRSSMB, loadgen)
        }
        let metrics = probe.metrics.suffix(2)
        if metrics.count == 2, let first = metrics.first, let last = metrics.last, last.at > first.at {
            let seconds = Double(last.at - first.at) / 1e6
            line += String(
                format: " · %.0f msg/s · %.0f req/s",
                (last.messagesSent - first.messagesSent) / seconds,
                (last.clientRequests - first.clientRequests) / seconds
            )
        }
        console.status(line)
    }
}
