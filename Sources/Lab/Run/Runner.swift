import Foundation

/// `bridgelab run`: a scenario's arms one after the other, then the judgement and the reports.
public final class Runner: Sendable {
    public struct Options: Sendable {
        public var scenario: Scenario
        public var scenarioFile: String
        /// The folder this run writes (`reports/<UTC time>-<scenario>` by default).
        public var runDirectory: String
        public var executables: Executables
        public var packageRoot: String?

        public init(scenario: Scenario, scenarioFile: String, runDirectory: String, executables: Executables, packageRoot: String?) {
            self.scenario = scenario
            self.scenarioFile = scenarioFile
            self.runDirectory = runDirectory
            self.executables = executables
            self.packageRoot = packageRoot
        }
    }

    public let options: Options
    public let console: Console
    public let interruption: Interruption

    public init(options: Options, console: Console, interruption: Interruption) {
        self.options = options
        self.console = console
        self.interruption = interruption
    }

    public static let armsFolder = "arms"

    public static func timestamp(_ date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return formatter.string(from: date)
    }

    /// Runs every arm and writes the run's folder; returns its summary.
    public func run() async throws -> RunSummary {
        let scenario = options.scenario
        let directory = options.runDirectory
        // Everything the arms need to launch is checked before anything starts.
        for arm in scenario.expandedArms {
            let launch = scenario.launch(for: arm)
            _ = try launch.preloadPath()
            if !launch.isDefault, !FileManager.default.isExecutableFile(atPath: options.executables.bridgelab) {
                throw RunnerError("arm \(arm.name) needs \(options.executables.bridgelab) to launch its bridge with limits")
            }
        }
        try FileManager.default.createDirectory(atPath: directory + "/" + Self.armsFolder, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: options.scenarioFile, toPath: directory + "/scenario.yaml")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(scenario).write(to: URL(fileURLWithPath: directory + "/scenario.json"))
        let environment = RunEnvironment.current(buildConfiguration: options.executables.configuration, packageRoot: options.packageRoot)
        try encoder.encode(environment).write(to: URL(fileURLWithPath: directory + "/environment.json"))
        try encoder.encode(RunInfo(started: Self.timestamp(), scenarioFile: options.scenarioFile))
            .write(to: URL(fileURLWithPath: directory + "/" + RunInfo.file))

        let arms = scenario.expandedArms
        var stopRest = false
        for (index, arm) in arms.enumerated() {
            let armDirectory = directory + "/" + Self.armsFolder + "/" + arm.name
            let plan = scenario.swarm(for: arm)
            if stopRest || interruption.isSet {
                try FileManager.default.createDirectory(atPath: armDirectory, withIntermediateDirectories: true)
                var record = ArmRecord(name: arm.name, mode: arm.mode, role: arm.role)
                record.clients = plan.clients
                record.kinds = plan.kinds
                try encoder.encode(record).write(to: URL(fileURLWithPath: armDirectory + "/" + ArmData.recordFile))
                continue
            }
            console.say(
                "▶ arm \(index + 1)/\(arms.count) \(arm.name): \(arm.mode) bridge, \(plan.clients) clients (\(plan.kinds.keys.sorted().joined(separator: ", "))), \(Int(scenario.duration)) s"
            )
            let runner = ArmRunner(
                scenario: scenario,
                arm: arm,
                executables: options.executables,
                directory: armDirectory,
                console: console,
                interruption: interruption,
                label: "\(index + 1)/\(arms.count) \(arm.name)"
            )
            let record = await runner.run()
            // A scale scenario stops at its knee.
            if let scale = scenario.scale, scale.stopAtFailure, arm.role == .candidate {
                let data = (try? ArmData.load(from: armDirectory)) ?? ArmData(record: record)
                let judge = Judge(scenario: scenario)
                let kpis = judge.judge(data, figures: judge.figures(data), baselines: [])
                if record.status != .completed || kpis.contains(where: { $0.status == .fail || $0.status == .notMeasured }) {
                    console.say("  \(arm.name) broke a KPI: the steps after it are not run")
                    stopRest = true
                }
            }
        }
        return try Self.assess(directory: directory, finished: Self.timestamp(), interrupted: interruption.isSet)
    }

    /// Judges a run folder's saved data and writes `summary.json`, `report.md` and `report.html`
    /// (`bridgelab report` calls this on a finished run).
    @discardableResult
    public static func assess(directory: String, finished: String? = nil, interrupted: Bool? = nil) throws -> RunSummary {
        let decoder = JSONDecoder()
        guard let scenarioData = FileManager.default.contents(atPath: directory + "/scenario.json") else {
            throw RunnerError("\(directory) is not a run folder: it has no scenario.json")
        }
        let scenario = try decoder.decode(Scenario.self, from: scenarioData)
        let environment =
            (FileManager.default.contents(atPath: directory + "/environment.json")).flatMap { try? decoder.decode(RunEnvironment.self, from: $0) }
            ?? RunEnvironment.current(buildConfiguration: "unknown", packageRoot: nil)
        var arms: [ArmData] = []
        for arm in scenario.expandedArms {
            let armDirectory = directory + "/" + armsFolder + "/" + arm.name
            do {
                arms.append(try ArmData.load(from: armDirectory))
            } catch {
                var record = ArmRecord(name: arm.name, mode: arm.mode, role: arm.role)
                record.status = .notRun
                arms.append(ArmData(record: record))
            }
        }
        let previous = (FileManager.default.contents(atPath: directory + "/summary.json")).flatMap { try? decoder.decode(RunSummary.self, from: $0) }
        let info = (FileManager.default.contents(atPath: directory + "/" + RunInfo.file)).flatMap { try? decoder.decode(RunInfo.self, from: $0) }
        let wasInterrupted = interrupted ?? (previous?.partial ?? arms.contains { $0.record.status == .interrupted })
        let summary = Assessment.summarize(
            scenario: scenario,
            scenarioFile: info?.scenarioFile ?? "scenario.yaml",
            arms: arms,
            environment: environment,
            started: info?.started ?? "unknown",
            finished: finished ?? previous?.finishedUTC ?? timestamp(),
            interrupted: wasInterrupted
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: directory + "/summary.json"))
        try Data(MarkdownReport.render(summary).utf8).write(to: URL(fileURLWithPath: directory + "/report.md"))
        try Data(HTMLReport.render(summary, arms: arms).utf8).write(to: URL(fileURLWithPath: directory + "/report.html"))
        return summary
    }
}

/// When a run started and from which scenario file (`run.json`).
struct RunInfo: Codable {
    static let file = "run.json"
    var started: String
    var scenarioFile: String
}
