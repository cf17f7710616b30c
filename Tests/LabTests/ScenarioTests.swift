import Foundation
import MarketSim
import Swarm
import Testing

@testable import Lab

@Suite("scenario files")
struct ScenarioTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let minimal = """
        name: tiny
        duration: 10
        arms:
          - name: event
            mode: event
        """

    func parse(_ text: String, overrides: [String] = []) throws(ScenarioError) -> Scenario {
        try ScenarioLoader.parse(text, file: "test.yaml", overrides: overrides)
    }

    /// The error a text gets (nil if it parses).
    func error(_ text: String, overrides: [String] = []) -> ScenarioError? {
        do {
            _ = try parse(text, overrides: overrides)
            return nil
        } catch {
            return error
        }
    }

    @Test("every shipped scenario parses, and polling-vs-event compares three modes at equal client count, the event mode at equal information")
    func shippedScenarios() throws {
        let folder = Self.packageRoot + "/scenarios"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }
        for required in ["polling-vs-event", "smoke", "burst", "rollover-and-rewrite", "reconnect-storm", "slow-consumers", "scale"] {
            #expect(files.contains("\(required).yaml"), "scenarios/\(required).yaml is missing")
        }
        for file in files where file != "nightly.yaml" {
            let (scenario, _) = try ScenarioLoader.load("\(folder)/\(file)", searching: [])
            #expect(scenario.name + ".yaml" == file)
            // Faults and events are typed values, parsed once; their text form parses back to them,
            // and a run's saved scenario.json reads back the same scenario.
            for fault in scenario.faults { #expect(try ScheduledFault(parsing: fault.description) == fault) }
            for event in scenario.market.events { #expect(try ScriptedEvent(parsing: event.description) == event) }
            #expect(try JSONDecoder().decode(Scenario.self, from: JSONEncoder().encode(scenario)) == scenario, "\(file)")
        }
        let faults = try ScenarioLoader.parse(
            "name: typed\nduration: 60\nfaults: [cut:10:3, 'latency:15:50:10', kill:30:1.5]\nmarket: {events: ['burst:5:4:3', 'rewrite:20::0.25', 'rollover:25:NQ']}\narms: [{name: a}]\n",
            file: "typed.yaml"
        )
        #expect(faults.faults.map(\.description) == ["cut:10:3", "latency:15:50:10", "kill:30:1.5"])
        #expect(faults.faults.filter(\.needsProxy).count == 2)
        #expect(
            faults.market.events == [
                .burst(at: 5, multiplier: 4, duration: 3), .rewrite(at: 20, root: nil, keepFraction: 0.25), .rollover(at: 25, root: "NQ"),
            ]
        )
        #expect(faults.market.events.map { $0.shifted(by: 3).description } == ["burst:8:4:3", "rewrite:23::0.25", "rollover:28:NQ"])
        // The nightly suite names scenarios that exist.
        let suite = try NightlySuite.load(folder + "/nightly.yaml")
        for entry in suite.runs { #expect(files.contains(entry.scenario + ".yaml")) }
        for required in ["crash-polling-storm", "soak", "allocator-churn"] { #expect(files.contains("\(required).yaml")) }
        let (storm, _) = try ScenarioLoader.load("crash-polling-storm", searching: [folder])
        #expect(storm.bridge.launch.descriptorLimit == 256)
        #expect(storm.swarm.kinds["leak"] != nil && storm.swarm.kinds["poll"] != nil)
        let (churn, _) = try ScenarioLoader.load("allocator-churn", searching: [folder])
        #expect(churn.arms.map { churn.launch(for: $0).allocator } == ["system", "jemalloc"])
        let (soak, _) = try ScenarioLoader.load("soak", searching: [folder])
        #expect(soak.duration == 600)
        let (comparison, _) = try ScenarioLoader.load("polling-vs-event", searching: [folder])
        #expect(comparison.arms.map(\.mode) == ["polling-naive", "polling-cached", "event", "event", "event"])
        #expect(comparison.arms.filter(\.matchesBaseline).map(\.name) == ["event-latest"])
        let latest = comparison.swarm(for: comparison.arms[3])
        #expect(latest.maxRate == 4 && latest.channels == ["quotes", "depth", "stats"])
        #expect(comparison.swarm(for: comparison.arms[4]).channels == ["bars:1m"])
        #expect(comparison.arms.filter { $0.role == .baseline }.count == 2)
        let counts = Set(comparison.arms.map { comparison.swarm(for: $0).clients })
        #expect(counts.count == 1)
        #expect(comparison.swarm(for: comparison.arms[0]).kinds == ["poll": 1])
        #expect(comparison.swarm(for: comparison.arms[2]).kinds == ["ws": 1])
        #expect(comparison.swarm.pollRate == 4)
        let (smoke, _) = try ScenarioLoader.load("smoke", searching: [folder])
        #expect(smoke.duration + smoke.settle + ArmRunner.lead < 30)
    }

    @Test("market.history becomes the simulator's history option")
    func history() throws {
        let days = try parse(Self.minimal + "\nmarket:\n  history: {days: 5}\n")
        #expect(days.market.history == .days(5))
        #expect(days.market.history?.arguments == ["--history-days", "5"])
        let records = try parse(Self.minimal + "\nmarket:\n  history: {records: 2000000}\n")
        #expect(records.market.history?.arguments == ["--history-records", "2000000"])
        #expect(try parse(Self.minimal).market.history == nil)
    }

    @Test("market.replay: a capture the simulator writes, or a folder; each arm at its own speed")
    func replay() throws {
        let (burst, _) = try ScenarioLoader.load("replay-burst", searching: [Self.packageRoot + "/scenarios"])
        let replay = try #require(burst.market.replay)
        #expect(replay.from == nil && replay.capture.seconds == 60 && replay.capture.history == .days(1))
        #expect(burst.arms.map(\.replaySpeed) == [1, 10])
        #expect(replay.loop && replay.copyPast)
        let arguments = replay.arguments(
            source: "/cap",
            data: "/data",
            symbols: ["NQ", "ES"],
            speed: 10,
            flushMilliseconds: 100,
            duration: "80",
            start: 1_764_599_400_000_000
        )
        #expect(arguments.prefix(3) == ["replay", "--from", "/cap"])
        #expect(arguments.contains("--loop") && arguments.contains("--copy-past"))
        #expect(arguments.split(separator: "--speed").last?.first == "10")
        #expect(arguments.split(separator: "--start").last?.first == "2025-12-01T14:30:00Z")
        #expect(replay.capture.description == "a capture the simulator wrote: 60 s of live market after 1 days of history")

        // A user's own folder: it replaces the capture, and its roots need not be the simulator's.
        let folder = NSTemporaryDirectory()
        let own = try parse(
            Self.minimal + "\nmarket:\n  symbols: [ZZQ, 7X]\n  replay: {speed: 2}\n",
            overrides: ["market.replay.from=\(folder)", "market.replay.start=2026-11-30T14:30:00Z"]
        )
        #expect(own.market.replay?.from == folder && own.market.symbols == ["ZZQ", "7X"])
        #expect(own.market.replay?.start == 1_796_049_000_000_000)
    }

    @Test(
        "bad replays get one error naming the line and the field",
        arguments: [
            ("market:\n  replay: {speed: -1}\n", "market.replay.speed", "between 0"),
            ("market:\n  replay: {start: yesterday}\n", "market.replay.start", "ISO-8601"),
            ("market:\n  replay: {start: '2026-11-30T15:00Z', end: '2026-11-30T14:00Z'}\n", "market.replay.end", "after start"),
            ("market:\n  replay: {from: /no/such/folder}\n", "market.replay.from", "no such folder"),
            ("market:\n  replay: {capture: {seconds: 0}}\n", "market.replay.capture.seconds", "between 1"),
            ("market:\n  replay: {rewind: true}\n", "market.replay.rewind", "unknown field"),
            ("market:\n  replay: {}\n  history: {days: 1}\n", "market.history", "a replay's past"),
            ("market:\n  replay: {capture: {seconds: 30}}\n  events: ['burst:40:2:1']\n", "market.events[0]", "after the capture's"),
            ("market:\n  symbols: [ZZQ]\n  replay: {}\n", "market.symbols[0]", "unknown root"),
        ]
    )
    func replayErrors(text: String, field: String, problem: String) {
        let scenario = "name: x\narms: [{name: a}]\n" + text
        guard let error = error(scenario) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(error.field == field, "\(error)")
        #expect(error.problem.contains(problem), "\(error)")
        let armSpeed = self.error("name: x\narms: [{name: a, replay_speed: 2}]\n")
        #expect(armSpeed?.problem.contains("needs a market that is a replay") == true)
    }

    @Test("market.expired and an arm's own expired: a folder-size axis passed to the simulator")
    func expired() throws {
        let (big, _) = try ScenarioLoader.load("big-folder", searching: [Self.packageRoot + "/scenarios"])
        #expect(big.market.expired == nil && big.idle == 30)
        #expect(big.arms.map { $0.expired?.contracts } == [nil, 17, 1200])
        #expect(big.arms[1].expired?.records == 20_000)
        #expect(big.swarm(for: big.arms[0]).symbols == ["NQ", "ES", "VX"])
        let wrong = error(Self.minimal + "\nmarket:\n  expired: {records: 5}\n")
        #expect(wrong?.field == "market.expired" && wrong?.problem.contains("needs contracts") == true)
    }

    @Test("request_cost keeps the swarm connected for its requests; swarm.descriptor_limit is loadgen's")
    func requestCost() throws {
        let scenario = try parse(
            "name: x\nduration: 30\narms: [{name: a}]\nswarm:\n  descriptor_limit: 16384\nrequest_cost:\n  paths: [/health, /api/live_data/NQ]\n  requests: 500\n"
        )
        let cost = try #require(scenario.requestCost)
        #expect(cost.paths == ["/health", "/api/live_data/NQ"])
        #expect(cost.requests == 500)
        #expect(cost.holdSeconds == 11)
        #expect(scenario.swarm.descriptorLimit == 16384)
        #expect(try parse("name: x\narms: [{name: a}]\n").requestCost == nil)
    }

    @Test("defaults fill what a scenario leaves out")
    func defaults() throws {
        let scenario = try parse(Self.minimal)
        #expect(scenario.name == "tiny")
        #expect(scenario.duration == 10)
        #expect(scenario.market.symbols == ["NQ", "ES", "VX"])
        #expect(scenario.swarm(for: scenario.arms[0]).symbols == ["NQ", "ES", "VX"])
        #expect(scenario.arms[0].role == .candidate)
    }

    @Test("a scale scenario runs its candidate once per step, named by client count")
    func scaleExpansion() throws {
        let scenario = try parse(Self.minimal + "\nscale:\n  clients: [5, 50]\n")
        #expect(scenario.expandedArms.map(\.name) == ["event@5", "event@50"])
        #expect(scenario.expandedArms.map { scenario.swarm(for: $0).clients } == [5, 50])
    }

    @Test(
        "bad files get one error naming the line and the field",
        arguments: [
            ("name: x\nduraton: 5\narms: [{name: a}]", 2, "duraton", "unknown field"),
            ("name: x\nduration: soon\narms: [{name: a}]", 2, "duration", "must be a number"),
            ("name: x\nduration: -3\narms: [{name: a}]", 2, "duration", "between"),
            ("name: x\nduration: 10\nwarmup: 10\narms: [{name: a}]", 3, "warmup", "shorter than duration"),
            ("name: x\narms: [{name: a}]\nswarm:\n  clients: 0\n", 4, "swarm.clients", "between 1"),
            ("name: x\narms: [{name: a}]\nswarm:\n  clients: many\n", 4, "swarm.clients", "whole number"),
            ("name: x\narms: [{name: a}]\nswarm:\n  kinds: {ws: 1, robot: 2}\n", 4, "swarm.kinds.robot", "unknown client kind"),
            ("name: x\narms: [{name: a}]\nswarm:\n  kinds: {ws: 0}\n", 4, "swarm.kinds.ws", "between"),
            ("name: x\narms: [{name: a}]\nswarm:\n  channels: [trades, gossip]\n", 4, "swarm.channels[1]", "unknown channel"),
            ("name: x\narms: [{name: a}]\nswarm:\n  channels: ['bars:2m']\n", 4, "swarm.channels[0]", "bars:1m"),
            ("name: x\narms: [{name: a}]\nswarm:\n  max_rate: 0\n", 4, "swarm.max_rate", "between"),
            ("name: x\narms:\n  - {name: a, swarm: {max_rate: fast}}\n", 3, "arms[0].swarm.max_rate", "must be a number"),
            ("name: x\narms:\n  - {name: b, role: baseline, matches_baseline: true}\n  - {name: a}\n", 3, "arms[0].matches_baseline", "candidate"),
            ("name: x\narms: [{name: a}]\nmarket:\n  symbols: [NQ, XYZ]\n", 4, "market.symbols[1]", "unknown root"),
            ("name: x\narms: [{name: a}]\nmarket:\n  arrivals: random\n", 4, "market.arrivals", "one of bursty, steady"),
            ("name: x\narms: [{name: a}]\nmarket:\n  events: ['explode:3']\n", 4, "market.events[0]", "not a simulator event"),
            ("name: x\nduration: 10\narms: [{name: a}]\nmarket:\n  events: ['burst:30:2:1']\n", 5, "market.events[0]", "after the run"),
            ("name: x\narms: [{name: a}]\nfaults: ['cut:abc']\n", 3, "faults[0]", "not a fault"),
            ("name: x\nduration: 10\narms: [{name: a}]\nfaults: ['cut:12:1']\n", 4, "faults[0]", "after the run"),
            ("duration: 5\narms: [{name: a}]", 1, "", "needs a name"),
            ("name: 'bad name'\narms: [{name: a}]", 1, "name", "letters, digits"),
            ("name: x\n", 1, "", "needs arms"),
            ("name: x\narms: []\n", 2, "arms", "at least one arm"),
            ("name: x\narms:\n  - {name: a, role: baseline}\n", 3, "arms", "role candidate"),
            ("name: x\narms:\n  - {name: a}\n  - {name: a}\n", 4, "arms[1]", "two arms"),
            ("name: x\narms:\n  - {name: a, mode: turbo}\n", 3, "arms[0].mode", "one of event, polling-naive, polling-cached"),
            ("name: x\narms:\n  - {name: a, flags: [--port, '9']}\n", 3, "arms[0].flags[0]", "set by the runner"),
            ("name: x\narms:\n  - {name: a, colour: red}\n", 3, "arms[0].colour", "unknown field"),
            ("name: x\narms: [{name: a}, {name: b}]\nscale:\n  clients: [10, 5]\n", 4, "scale.clients", "ascending"),
            ("name: x\narms: [{name: a}, {name: b}]\nscale:\n  clients: [5, 10]\n", 4, "scale", "exactly one candidate"),
            ("name: x\narms: [{name: a}]\nkpis:\n  happiness: {plan: 1}\n", 4, "kpis.happiness", "unknown KPI"),
            ("name: x\narms: [{name: a}]\nkpis:\n  cpu: {plan: lots}\n", 4, "kpis.cpu.plan", "must be a number"),
            ("name: x\narms: [{name: a}]\nmarket: [1, 2]\n", 3, "market", "must be a mapping"),
            ("name: x\narms: [{name: a}\n", 3, "", "not valid YAML"),
            ("name: x\narms: [{name: a, allocator: tcmalloc}]\n", 2, "arms[0].allocator", "one of system, jemalloc"),
            ("name: x\narms: [{name: a}]\nbridge:\n  descriptor_limit: 4\n", 4, "bridge.descriptor_limit", "between 32"),
            ("name: x\narms: [{name: a}]\nmarket:\n  history: {days: 3, records: 10}\n", 4, "market.history", "either days or records"),
            ("name: x\narms: [{name: a}]\nmarket:\n  history: {weeks: 3}\n", 4, "market.history.weeks", "unknown field"),
            ("name: x\narms: [{name: a}]\nmarket:\n  history: {days: 0}\n", 4, "market.history.days", "between 1"),
            ("name: x\narms: [{name: a}]\nrequest_cost:\n  paths: [/health, health]\n", 4, "request_cost.paths[1]", "a path on the bridge"),
            ("name: x\narms: [{name: a}]\nrequest_cost:\n  paths: []\n", 4, "request_cost.paths", "at least one path"),
            ("name: x\narms: [{name: a}]\nrequest_cost:\n  requests: 3\n", 4, "request_cost.requests", "between 10"),
            ("name: x\narms: [{name: a}]\nrequest_cost:\n  every: 3\n", 4, "request_cost.every", "unknown field"),
            ("name: x\narms: [{name: a}]\nswarm:\n  descriptor_limit: 8\n", 4, "swarm.descriptor_limit", "between 64"),
        ]
    )
    func validationErrors(text: String, line: Int, field: String, problem: String) {
        guard let error = error(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(error.file == "test.yaml")
        #expect(error.line == line, "\(error)")
        #expect(error.field == field, "\(error)")
        #expect(error.problem.contains(problem), "\(error)")
        #expect(error.description.hasPrefix("test.yaml:\(line): "))
    }

    @Test("--set overrides go through the same checks, and name themselves when wrong")
    func overrides() throws {
        let scenario = try parse(Self.minimal, overrides: ["swarm.clients=50", "market.rate=1000", "market.events=[burst:2:3:1]", "duration=20"])
        #expect(scenario.swarm.clients == 50)
        #expect(scenario.market.rate == 1000)
        #expect(scenario.market.events == [.burst(at: 2, multiplier: 3, duration: 1)])
        #expect(scenario.duration == 20)
        let wrongType = error(Self.minimal, overrides: ["swarm.clients=lots"])
        #expect(wrongType?.field == "swarm.clients")
        #expect(wrongType?.problem.contains("whole number") == true)
        let unknown = error(Self.minimal, overrides: ["swarm.cliants=5"])
        #expect(unknown?.field == "swarm.cliants")
        let shape = error(Self.minimal, overrides: ["justtext"])
        #expect(shape?.file == "--set justtext")
    }

    @Test("a missing scenario names the ones there are")
    func missing() {
        do {
            _ = try ScenarioLoader.locate("nope", searching: [Self.packageRoot + "/scenarios"])
            Issue.record("found a scenario that does not exist")
        } catch {
            #expect(error.problem.contains("smoke"))
        }
    }
}
