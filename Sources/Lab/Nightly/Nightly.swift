import Foundation

/// `bridgelab nightly`: a suite of scenarios within a time budget, every run's key figures kept in
/// the history, each figure compared with earlier runs on the same machine, and an index page with
/// the suite's reports and trend charts.
public final class Nightly: Sendable {
    public struct Options: Sendable {
        public var suitePath: String
        public var budgetMinutes: Double
        public var historyPath: String
        public var directory: String
        public var markdownSummary: String?
        public var executables: Executables
        public var scenarioFolders: [String]

        public init(
            suitePath: String,
            budgetMinutes: Double,
            historyPath: String,
            directory: String,
            markdownSummary: String?,
            executables: Executables,
            scenarioFolders: [String]
        ) {
            self.suitePath = suitePath
            self.budgetMinutes = budgetMinutes
            self.historyPath = historyPath
            self.directory = directory
            self.markdownSummary = markdownSummary
            self.executables = executables
            self.scenarioFolders = scenarioFolders
        }
    }

    /// One scenario of the night: its summary, or why it did not run.
    public struct Entry: Sendable {
        public var scenario: String
        public var summary: RunSummary?
        public var skipped: String?
        public var folder: String
    }

    public struct Comparison: Sendable {
        public var key: String
        public var value: Double
        public var better: String
        public var verdict: RegressionRule.Verdict
    }

    public struct Result: Sendable {
        /// 0 all good, 1 a KPI failed, 2 a regression, 3 a harness error.
        public var exitCode: Int32
        public var reason: String
        public var entries: [Entry]
        public var comparisons: [Comparison]
        public var runID: Int64
        public var index: String
        public var markdown: String
    }

    public let options: Options
    public let console: Console
    public let interruption: Interruption

    public init(options: Options, console: Console, interruption: Interruption) {
        self.options = options
        self.console = console
        self.interruption = interruption
    }

    /// Seconds an arm takes beyond its duration: start-up, lead, settle, shutdown.
    static let armOverhead = 10.0

    public func run() async throws -> Result {
        let suite = try NightlySuite.load(options.suitePath)
        let started = Date()
        let deadline = started.addingTimeInterval(options.budgetMinutes * 60)
        try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        var entries: [Entry] = []
        for item in suite.runs {
            let folder = options.directory + "/" + item.scenario
            let (scenario, path) = try ScenarioLoader.load(
                item.scenario,
                searching: options.scenarioFolders,
                overrides: item.duration.map { ["duration=\($0)"] } ?? []
            )
            let estimate = Double(scenario.expandedArms.count) * (scenario.duration + scenario.settle + Self.armOverhead)
            if interruption.isSet {
                entries.append(Entry(scenario: item.scenario, summary: nil, skipped: "interrupted", folder: folder))
                continue
            }
            guard Date().addingTimeInterval(estimate) <= deadline else {
                let left = max(0, deadline.timeIntervalSinceNow)
                entries.append(
                    Entry(
                        scenario: item.scenario,
                        summary: nil,
                        skipped: "over budget: needs about \(Int(estimate)) s, \(Int(left)) s left",
                        folder: folder
                    )
                )
                console.say("nightly: \(item.scenario) skipped (over budget)")
                continue
            }
            console.say("nightly: \(item.scenario) (about \(Int(estimate)) s)")
            let runner = Runner(
                options: .init(
                    scenario: scenario,
                    scenarioFile: path,
                    runDirectory: folder,
                    executables: options.executables,
                    packageRoot: options.executables.packageRoot
                ),
                console: console,
                interruption: interruption
            )
            do {
                entries.append(Entry(scenario: item.scenario, summary: try await runner.run(), skipped: nil, folder: folder))
            } catch {
                entries.append(Entry(scenario: item.scenario, summary: nil, skipped: "harness error: \(error)", folder: folder))
            }
        }

        // Against the history of this machine.
        let environment = RunEnvironment.current(buildConfiguration: options.executables.configuration, packageRoot: options.executables.packageRoot)
        let history = try History(path: options.historyPath)
        let earlier = try history.runs(fingerprint: environment.fingerprint, limit: suite.rule.window)
        var past: [String: [Double]] = [:]
        for run in earlier {
            guard let id = run.id else { continue }
            for figure in try history.figures(run: id) { past[figure.key, default: []].append(figure.value) }
        }
        var pinned: [String: Double] = [:]
        if let baseline = try history.baseline(fingerprint: environment.fingerprint), let id = baseline.id {
            for figure in try history.figures(run: id) { pinned[figure.key] = figure.value }
        }
        let figures = entries.compactMap(\.summary).flatMap { KeyFigures.of($0) }
        let comparisons = figures.map { figure -> Comparison in
            let key = "\(figure.scenario)/\(figure.arm)/\(figure.metric)"
            return Comparison(
                key: key,
                value: figure.value,
                better: figure.better,
                verdict: suite.rule.judge(figure.value, better: figure.better, history: past[key] ?? [], baseline: pinned[key])
            )
        }
        let (exitCode, reason) = Self.verdict(entries: entries, comparisons: comparisons)
        let status = ["pass", "fail", "regression", "error"][Int(exitCode)]
        let runID = try history.record(
            History.Run(
                started: Runner.timestamp(started),
                commit: environment.commit,
                fingerprint: environment.fingerprint,
                suite: suite.name,
                status: status,
                directory: options.directory
            ),
            figures: figures
        )
        let trends = try Self.trends(history: history, fingerprint: environment.fingerprint, keys: Self.headlineKeys(figures))
        let night = NightlyReport.Night(
            suite: suite,
            entries: entries,
            comparisons: comparisons,
            exitCode: exitCode,
            reason: reason,
            environment: environment,
            earlierRuns: earlier.count
        )
        let markdown = NightlyReport.markdown(night)
        try Data(markdown.utf8).write(to: URL(fileURLWithPath: options.directory + "/summary.md"))
        if let path = options.markdownSummary { try Data(markdown.utf8).write(to: URL(fileURLWithPath: path)) }
        let index = options.directory + "/index.html"
        try Data(NightlyReport.html(night, trends: trends).utf8).write(to: URL(fileURLWithPath: index))
        return Result(exitCode: exitCode, reason: reason, entries: entries, comparisons: comparisons, runID: runID, index: index, markdown: markdown)
    }

    /// Harness error (3) before a regression (2) before a failed KPI (1).
    static func verdict(entries: [Entry], comparisons: [Comparison]) -> (Int32, String) {
        let errors = entries.filter { $0.skipped?.hasPrefix("harness error") == true || $0.summary?.exitCode == 2 }
        if !errors.isEmpty { return (3, "harness error in " + errors.map(\.scenario).joined(separator: ", ")) }
        let regressions = comparisons.filter(\.verdict.isRegression)
        if !regressions.isEmpty { return (2, "regression in " + regressions.map(\.key).joined(separator: ", ")) }
        let failed = entries.filter { ($0.summary?.exitCode ?? 0) != 0 }
        if !failed.isEmpty { return (1, "a KPI failed in " + failed.map(\.scenario).joined(separator: ", ")) }
        let skipped = entries.filter { $0.skipped != nil }
        return (0, skipped.isEmpty ? "every KPI passed, no regression" : "every KPI that ran passed, no regression (\(skipped.count) skipped)")
    }

    /// The figures drawn as trends: latency, CPU, memory and cost per message of each arm.
    static func headlineKeys(_ figures: [(scenario: String, arm: String, metric: String, value: Double, better: String)]) -> [String] {
        let headline: Set<String> = ["update_p99_ms", "bridge_cpu_percent", "bridge_peak_rss_mb", "bridge_us_per_message"]
        return figures.filter { headline.contains($0.metric) }.map { "\($0.scenario)/\($0.arm)/\($0.metric)" }
    }

    /// Each key's values over the history, oldest first, with the run's start time.
    static func trends(history: History, fingerprint: String, keys: [String]) throws -> [String: [(started: String, value: Double)]] {
        let runs = try history.runs(fingerprint: fingerprint, limit: 60).reversed()
        var result: [String: [(String, Double)]] = [:]
        let wanted = Set(keys)
        for run in runs {
            guard let id = run.id else { continue }
            for figure in try history.figures(run: id) where wanted.contains(figure.key) {
                result[figure.key, default: []].append((run.started, figure.value))
            }
        }
        return result
    }
}
