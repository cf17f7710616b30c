import BridgeWire
import ConfigFile
import Foundation
import MarketSim
import Swarm
import Yams

/// Reads scenario files strictly: unknown fields, wrong types and impossible values are refused
/// with the file, the line and the field, before anything starts.
public enum ScenarioLoader {
    public static let bridgeModes = ["event", "polling-naive", "polling-cached"]

    /// A scenario file by path, or by name from a `scenarios/` folder (`smoke` → `scenarios/smoke.yaml`).
    public static func locate(_ nameOrPath: String, searching folders: [String]) throws(ScenarioError) -> String {
        try YAMLDocument.locate(nameOrPath, searching: folders, kind: "scenario")
    }

    /// Locates, reads and parses a scenario, with `--set` overrides applied.
    public static func load(
        _ nameOrPath: String,
        searching folders: [String],
        overrides: [String] = []
    ) throws(ScenarioError) -> (
        scenario: Scenario, path: String
    ) {
        let path = try locate(nameOrPath, searching: folders)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(file: path, line: nil, field: "", problem: "cannot be read")
        }
        return (try parse(String(decoding: data, as: UTF8.self), file: path, overrides: overrides), path)
    }

    /// Parses and validates a scenario's YAML text.
    public static func parse(_ text: String, file: String) throws(ScenarioError) -> Scenario {
        try scenario(YAMLField(file: file, path: "", node: try YAMLDocument.compose(text, file: file)))
    }

    /// The folder a scenario file's `profiles/` and `examples/` sit in: the parent of the
    /// `scenarios/` folder holding it (or the file's own folder).
    static func packageFolder(of file: String) -> String {
        let folder = (file as NSString).deletingLastPathComponent
        let absolute = folder.hasPrefix("/") ? folder : FileManager.default.currentDirectoryPath + (folder.isEmpty ? "" : "/" + folder)
        let standard = (absolute as NSString).standardizingPath
        return (standard as NSString).lastPathComponent == "scenarios" ? (standard as NSString).deletingLastPathComponent : standard
    }

    static func scenario(_ root: YAMLField) throws(ScenarioError) -> Scenario {
        let fields = try root.mapping(known: [
            "name", "description", "duration", "warmup", "settle", "idle", "market", "swarm", "faults", "bridge", "arms", "scale", "kpis",
            "request_cost",
        ])
        guard let nameField = fields["name"] else { throw root.error("a scenario needs a name") }
        let name = try nameField.string()
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw nameField.error("must be letters, digits, - and _ (it names the report folder), got '\(name)'")
        }
        var scenario = Scenario(name: name)
        if let field = fields["description"] { scenario.description = try field.string() }
        if let field = fields["duration"] { scenario.duration = try field.number(1...86_400, unit: "seconds") }
        if let field = fields["warmup"] {
            scenario.warmup = try field.number(0...86_400, unit: "seconds")
            guard scenario.warmup < scenario.duration else { throw field.error("must be shorter than duration (\(scenario.duration) s)") }
        }
        if let field = fields["settle"] { scenario.settle = try field.number(0...600, unit: "seconds") }
        if let field = fields["idle"] { scenario.idle = try field.number(0...3_600, unit: "seconds") }
        if let field = fields["request_cost"] { scenario.requestCost = try requestCost(field) }
        if let field = fields["market"] { scenario.market = try market(field, duration: scenario.duration) }
        if let field = fields["swarm"] { scenario.swarm = try swarm(field, duration: scenario.duration) }
        if let field = fields["faults"] {
            for item in try field.list() {
                let text = try item.string()
                do {
                    let fault = try ScheduledFault(parsing: text)
                    guard fault.at < scenario.duration else { throw SwarmError("comes at \(fault.at) s, after the run's \(scenario.duration) s") }
                    scenario.faults.append(fault)
                } catch {
                    throw item.error("'\(text)' is not a fault: \(error)")
                }
            }
        }
        if let field = fields["bridge"] {
            let bridge = try field.mapping(known: ["flags", "descriptor_limit", "allocator"])
            if let flags = bridge["flags"] { scenario.bridge.flags = try flags.strings() }
            if let limit = bridge["descriptor_limit"] { scenario.bridge.launch.descriptorLimit = try limit.integer(32...1_048_576) }
            if let allocator = bridge["allocator"] { scenario.bridge.launch.allocator = try allocator.oneOf(Launch.allocators) }
        }
        guard let armsField = fields["arms"] else { throw root.error("a scenario needs arms: at least one bridge to run") }
        var names = Set<String>()
        let package = packageFolder(of: root.file)
        scenario.packageFolder = package
        for item in try armsField.list() {
            let arm = try arm(item, package: package)
            guard names.insert(arm.name).inserted else { throw item.error("two arms are named '\(arm.name)'") }
            scenario.arms.append(arm)
        }
        guard !scenario.arms.isEmpty else { throw armsField.error("needs at least one arm") }
        for (index, arm) in scenario.arms.enumerated() {
            guard let profile = arm.profile else { continue }
            try checkKinds(scenario.swarm(for: arm).kinds, profile: profile, field: try armsField.list()[index])
        }
        if scenario.market.replay == nil, let index = scenario.arms.firstIndex(where: { $0.replaySpeed != nil }) {
            throw try armsField.list()[index].error("replay_speed needs a market that is a replay (market.replay)")
        }
        guard scenario.arms.contains(where: { $0.role == .candidate }) else {
            throw armsField.error("needs at least one arm with role candidate (baselines are only compared with)")
        }
        if let field = fields["scale"] {
            let scale = try field.mapping(known: ["clients", "stop_at_failure"])
            guard let clientsField = scale["clients"] else { throw field.error("needs clients: the client count of each step") }
            var steps: [Int] = []
            for item in try clientsField.list() { steps.append(try item.integer(1...100_000)) }
            guard !steps.isEmpty, steps == steps.sorted(), Set(steps).count == steps.count else {
                throw clientsField.error("must be a non-empty list of client counts in ascending order")
            }
            guard scenario.arms.filter({ $0.role == .candidate }).count == 1 else {
                throw field.error("a scale scenario has exactly one candidate arm (it runs once per step)")
            }
            scenario.scale = Scenario.Scale(clients: steps, stopAtFailure: try scale["stop_at_failure"]?.bool() ?? true)
        }
        if let field = fields["kpis"] {
            for (id, value) in try field.entries() {
                guard let kpi = KPI.catalog.first(where: { $0.id.rawValue == id }) else {
                    throw value.error("unknown KPI; KPIs: \(KPI.ids.joined(separator: ", "))")
                }
                scenario.kpis[id] = try override(value, kpi: kpi)
            }
        }
        return scenario
    }

    static func requestCost(_ field: YAMLField) throws(ScenarioError) -> Scenario.RequestCost {
        let fields = try field.mapping(known: ["paths", "requests"])
        var cost = Scenario.RequestCost()
        if let field = fields["paths"] {
            let items = try field.list()
            guard !items.isEmpty else { throw field.error("needs at least one path") }
            cost.paths = []
            for item in items {
                let path = try item.string()
                guard path.hasPrefix("/"), !path.contains(where: \.isWhitespace) else {
                    throw item.error("must be a path on the bridge, like /health")
                }
                cost.paths.append(path)
            }
        }
        if let field = fields["requests"] { cost.requests = try field.integer(10...100_000) }
        return cost
    }

    static func market(_ field: YAMLField, duration: Double) throws(ScenarioError) -> Scenario.Market {
        let fields = try field.mapping(known: [
            "symbols", "rate", "flush_ms", "arrivals", "seed", "events", "split_writes", "history", "replay", "expired",
        ])
        var market = Scenario.Market()
        if let field = fields["replay"] { market.replay = try replay(field) }
        // A user's own capture may hold roots the simulator does not know.
        if let field = fields["symbols"] { market.symbols = try roots(field, known: market.replay?.from == nil) }
        if let field = fields["rate"] { market.rate = try field.number(0.001...1_000_000, unit: "records per second") }
        if let field = fields["flush_ms"] { market.flushMilliseconds = try field.integer(0...60_000) }
        if let field = fields["arrivals"] { market.arrivals = try field.oneOf(ArrivalPattern.allCases.map(\.rawValue)) }
        if let field = fields["seed"] { market.seed = UInt64(try field.integer(0...Int.max)) }
        if let field = fields["split_writes"] { market.splitWrites = try field.number(0...1) }
        if let field = fields["expired"] {
            guard market.replay == nil else { throw field.error("a replay's folder is its capture's") }
            market.expired = try expired(field)
        }
        if let field = fields["history"] {
            guard market.replay == nil else {
                throw field.error("a replay's past is its capture's (replay.capture.history, or copy_past for a folder)")
            }
            market.history = try history(field)
        }
        if let field = fields["events"] {
            // With a replay the events are the capture's, timed from its start (a folder named by
            // `from` replaces the capture, and its events with it).
            let span = market.replay.map(\.capture.seconds) ?? duration
            let what = market.replay == nil ? "the run's" : "the capture's"
            for item in try field.list() {
                let text = try item.string()
                do {
                    let event = try ScriptedEvent(parsing: text)
                    guard event.time < span else { throw item.error("'\(text)' comes after \(what) \(span) s") }
                    market.events.append(event)
                } catch let error as ScenarioError {
                    throw error
                } catch {
                    throw item.error("'\(text)' is not a simulator event: \(error)")
                }
            }
        }
        return market
    }

    static func replay(_ field: YAMLField) throws(ScenarioError) -> Scenario.Replay {
        let fields = try field.mapping(known: ["from", "capture", "start", "end", "speed", "max_gap", "loop", "copy_past"])
        var replay = Scenario.Replay()
        if let field = fields["from"] {
            replay.from = try field.string()
            guard FileManager.default.fileExists(atPath: replay.from ?? "") else { throw field.error("no such folder '\(replay.from ?? "")'") }
        }
        if let field = fields["capture"] {
            let capture = try field.mapping(known: ["seconds", "history"])
            if let seconds = capture["seconds"] { replay.capture.seconds = try seconds.number(1...86_400, unit: "seconds") }
            if let history = capture["history"] {
                if case .scalar = history.node, try history.bool() == false {
                    replay.capture.history = nil
                } else {
                    replay.capture.history = try Self.history(history)
                }
            }
        }
        func time(_ field: YAMLField) throws(ScenarioError) -> Int64 {
            let text = try field.string()
            guard let time = ISOTime.parse(text) else { throw field.error("must be an ISO-8601 time such as 2026-11-30T14:30:00Z, got '\(text)'") }
            return time
        }
        if let field = fields["start"] { replay.start = try time(field) }
        if let field = fields["end"] {
            replay.end = try time(field)
            if let start = replay.start, let end = replay.end, end <= start { throw field.error("must come after start") }
        }
        if let field = fields["speed"] { replay.speed = try field.number(0...10_000, unit: "times real time; 0 = as fast as it can") }
        if let field = fields["max_gap"] { replay.maxGap = try field.number(0.001...86_400 * 7, unit: "seconds") }
        if let field = fields["loop"] { replay.loop = try field.bool() }
        if let field = fields["copy_past"] { replay.copyPast = try field.bool() }
        return replay
    }

    static func expired(_ field: YAMLField) throws(ScenarioError) -> Scenario.Expired {
        let fields = try field.mapping(known: ["contracts", "records"])
        guard let contracts = fields["contracts"] else { throw field.error("needs contracts: how many expired contracts per root") }
        var expired = Scenario.Expired(contracts: try contracts.integer(0...1_200))
        if let records = fields["records"] { expired.records = try records.integer(1...10_000_000) }
        return expired
    }

    static func history(_ field: YAMLField) throws(ScenarioError) -> HistorySpec {
        let history = try field.mapping(known: ["days", "records"])
        switch (history["days"], history["records"]) {
        case (let days?, nil): return .days(try days.integer(1...366))
        case (nil, let records?): return .records(try records.integer(1...2_000_000_000))
        default: throw field.error("give either days or records, e.g. {days: 5} or {records: 2000000}")
        }
    }

    static func roots(_ field: YAMLField, known checked: Bool = true) throws(ScenarioError) -> [String] {
        let symbols = try field.strings()
        guard !symbols.isEmpty else { throw field.error("needs at least one symbol") }
        guard checked else { return symbols }
        let known = Instrument.known.map(\.root)
        for (index, symbol) in symbols.enumerated() where !known.contains(symbol) {
            throw try field.list()[index].error("unknown root '\(symbol)'; the simulator knows \(known.joined(separator: ", "))")
        }
        return symbols
    }

    static func swarm(_ field: YAMLField, duration: Double) throws(ScenarioError) -> Scenario.SwarmPlan {
        let fields = try field.mapping(known: [
            "clients", "kinds", "symbols", "channels", "arrival_rate", "ramp_down", "poll_rate", "cache_reads", "slow_delay_ms", "max_rate",
            "descriptor_limit",
        ])
        var swarm = Scenario.SwarmPlan()
        if let field = fields["clients"] { swarm.clients = try field.integer(1...100_000) }
        if let field = fields["descriptor_limit"] { swarm.descriptorLimit = try field.integer(64...1_048_576) }
        if let field = fields["kinds"] { swarm.kinds = try kinds(field) }
        if let field = fields["symbols"] { swarm.symbols = try roots(field) }
        if let field = fields["channels"] { swarm.channels = try channels(field) }
        if let field = fields["arrival_rate"] { swarm.arrivalRate = try field.number(0.001...1_000_000, unit: "clients per second") }
        if let field = fields["ramp_down"] {
            swarm.rampDown = try field.number(0...86_400, unit: "seconds")
            guard swarm.rampDown < duration else { throw field.error("must be shorter than duration (\(duration) s)") }
        }
        if let field = fields["poll_rate"] { swarm.pollRate = try field.number(0.001...1_000, unit: "requests per second") }
        if let field = fields["cache_reads"] { swarm.cacheReads = try field.number(0...1_000, unit: "reads per second") }
        if let field = fields["slow_delay_ms"] { swarm.slowDelayMilliseconds = try field.integer(0...60_000) }
        if let field = fields["max_rate"] { swarm.maxRate = try maxRate(field) }
        return swarm
    }

    static func kinds(_ field: YAMLField) throws(ScenarioError) -> [String: Double] {
        var kinds: [String: Double] = [:]
        for (name, value) in try field.entries() {
            guard ClientKind(rawValue: name) != nil else {
                throw value.error("unknown client kind; kinds: \(ClientKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kinds[name] = try value.number(0.000_001...1_000_000, unit: "a weight")
        }
        guard !kinds.isEmpty else { throw field.error("needs at least one client kind") }
        return kinds
    }

    static func maxRate(_ field: YAMLField) throws(ScenarioError) -> Double {
        try field.number(0.001...ClientRequest.maxRateLimit, unit: "messages per second per contract and channel")
    }

    static func channels(_ field: YAMLField) throws(ScenarioError) -> [String] {
        let channels = try field.strings()
        guard !channels.isEmpty else { throw field.error("needs at least one channel") }
        for (index, channel) in channels.enumerated() where MarketChannel(rawValue: channel) == nil {
            throw try field.list()[index].error(
                "unknown channel '\(channel)'; channels: \(MarketChannel.names)"
            )
        }
        return channels
    }

    static func arm(_ field: YAMLField, package: String) throws(ScenarioError) -> Scenario.Arm {
        let fields = try field.mapping(known: [
            "name", "mode", "role", "flags", "swarm", "descriptor_limit", "allocator", "replay_speed", "expired", "profile", "bridge",
            "matches_baseline",
        ])
        guard let nameField = fields["name"] else { throw field.error("an arm needs a name") }
        let name = try nameField.string()
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw nameField.error("must be letters, digits, - and _, got '\(name)'")
        }
        var arm = Scenario.Arm(name: name)
        if let mode = fields["mode"] { arm.mode = try mode.oneOf(bridgeModes) }
        if let role = fields["role"] { arm.role = Scenario.Role(rawValue: try role.oneOf(["candidate", "baseline"])) ?? .candidate }
        if let flags = fields["flags"] {
            arm.flags = try flags.strings()
            for (index, flag) in arm.flags.enumerated() where ["--port", "--port-file", "--data-dir", "--mode", "--demo", "--host"].contains(flag) {
                throw try flags.list()[index].error("\(flag) is set by the runner (use mode: for the bridge mode)")
            }
        }
        if let limit = fields["descriptor_limit"] { arm.descriptorLimit = try limit.integer(32...1_048_576) }
        if let allocator = fields["allocator"] { arm.allocator = try allocator.oneOf(Launch.allocators) }
        if let field = fields["expired"] { arm.expired = try expired(field) }
        if let speed = fields["replay_speed"] { arm.replaySpeed = try speed.number(0...10_000, unit: "times real time; 0 = as fast as it can") }
        if let swarmField = fields["swarm"] {
            let swarm = try swarmField.mapping(known: ["clients", "kinds", "channels", "max_rate", "cache_reads"])
            var override = Scenario.SwarmOverride()
            if let field = swarm["clients"] { override.clients = try field.integer(1...100_000) }
            if let field = swarm["kinds"] { override.kinds = try kinds(field) }
            if let field = swarm["channels"] { override.channels = try channels(field) }
            if let field = swarm["max_rate"] { override.maxRate = try maxRate(field) }
            if let field = swarm["cache_reads"] { override.cacheReads = try field.number(0...1_000, unit: "reads per second") }
            arm.swarm = override
        }
        if let field = fields["bridge"] {
            let (bridge, profile) = try foreignBridge(field, package: package)
            arm.bridge = bridge
            arm.profile = profile
            if let flags = fields["flags"] {
                throw flags.error("are the reference bridge's; a bridge with its own command takes its options in bridge.command")
            }
        }
        if let field = fields["matches_baseline"] {
            arm.matchesBaseline = try field.bool()
            guard arm.role == .candidate || !arm.matchesBaseline else { throw field.error("is for a candidate arm: a baseline is what it matches") }
        }
        if let field = fields["profile"] {
            guard arm.bridge == nil else { throw field.error("a bridge with its own command names its profile in bridge.profile") }
            arm.profile = try profile(field, package: package)
        }
        return arm
    }

    /// The profile a field names, located (`profiles/` beside `scenarios/`, then `./profiles`) and
    /// read once, so a bad profile stops the scenario before anything starts.
    static func profile(_ field: YAMLField, package: String) throws(ScenarioError) -> String {
        let name = try field.string()
        let path = try ProfileLoader.locate(name, searching: [package + "/profiles", "profiles"])
        _ = try ProfileLoader.load(path)
        return path
    }

    /// A profile client exists for ws, sse and poll, each when the profile has its route.
    static func checkKinds(_ kinds: [String: Double], profile path: String, field: YAMLField) throws(ScenarioError) {
        let profile = try ProfileLoader.load(path)
        for name in kinds.keys.sorted() {
            // The kinds were checked against ClientKind when the swarm was read.
            guard let kind = ClientKind(rawValue: name), let refusal = profile.refusal(for: kind) else { continue }
            throw field.error("kind \(name): \(refusal)")
        }
    }

    static func foreignBridge(_ field: YAMLField, package: String) throws(ScenarioError) -> (ForeignBridge, String) {
        let fields = try field.mapping(known: ["command", "profile", "ready", "ready_timeout", "env", "cwd"])
        guard let commandField = fields["command"] else { throw field.error("needs command: [program, arguments…] that starts the bridge") }
        let command = try commandField.strings()
        guard let program = command.first, !program.isEmpty else { throw commandField.error("needs at least the program to run") }
        guard command.joined().contains("{port}") else {
            throw commandField.error("never names {port}: the runner picks a free port and the bridge must listen on it")
        }
        var bridge = ForeignBridge(command: command)
        for (index, word) in command.enumerated() {
            for name in URLTemplate.names(in: word) where !ForeignBridge.placeholders.contains(name) {
                throw try commandField.list()[index].error(
                    "{\(name)} is no placeholder; known: \(ForeignBridge.placeholders.map { "{\($0)}" }.joined(separator: ", "))"
                )
            }
        }
        guard let profileField = fields["profile"] else { throw field.error("needs profile: how to talk to the bridge (profiles/NAME.yaml)") }
        let profile = try profile(profileField, package: package)
        if let ready = fields["ready"] {
            let url = try ready.string()
            guard url.hasPrefix("http://") else { throw ready.error("must be an http:// URL, e.g. http://127.0.0.1:{port}/health") }
            bridge.ready = url
        }
        if let timeout = fields["ready_timeout"] { bridge.readyTimeout = try timeout.number(1...600, unit: "seconds") }
        if let env = fields["env"] {
            for (key, value) in try env.entries() { bridge.environment[key] = try value.string() }
        }
        if let cwd = fields["cwd"] { bridge.workingDirectory = try cwd.string() }
        return (bridge, profile)
    }

    static func override(_ field: YAMLField, kpi: KPI) throws(ScenarioError) -> Scenario.KPIOverride {
        var result = Scenario.KPIOverride()
        if case .scalar = field.node {
            guard try field.bool() == false else { throw field.error("write off to leave the KPI out, or a mapping of plan, lab, enabled") }
            result.enabled = false
            return result
        }
        let fields = try field.mapping(known: ["plan", "lab", "enabled"])
        if let value = fields["plan"] { result.plan = try value.number(-1e12...1e12, unit: kpi.unit) }
        if let value = fields["lab"] { result.lab = try value.number(-1e12...1e12, unit: kpi.unit) }
        if let value = fields["enabled"] { result.enabled = try value.bool() }
        return result
    }
}
