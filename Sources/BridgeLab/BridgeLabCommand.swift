import ArgumentParser
import Dispatch
import Foundation
import Lab
import Swarm
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

@main
struct BridgeLabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridgelab",
        abstract: "Drive simulator, bridge and swarm through a scenario, judge it against the plan's KPIs and write a report.",
        discussion: """
            Without a subcommand, `bridgelab` runs the polling-vs-event scenario: the old polling bridge, its
            cached fix and the event-driven bridge side by side (about 3 minutes). Scenarios live in
            scenarios/ (docs/SCENARIOS.md); reports go to reports/<UTC time>-<scenario>/.
            """,
        subcommands: [
            Run.self, Report.self, Compare.self, NightlyCommand.self, Baseline.self, Scenarios.self, LaunchCommand.self, Probe.self,
        ],
        defaultSubcommand: Run.self
    )
}

/// Where scenarios are looked up by name: ./scenarios, then the package's.
func scenarioFolders(_ executables: Executables) -> [String] {
    ["scenarios"] + (executables.packageRoot.map { ["\($0)/scenarios"] } ?? [])
}

func fail(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("bridgelab: \(message)\n".utf8))
    return ExitCode(code)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario and write its report.",
        discussion: """
            Exit status: 0 every KPI of every candidate arm passed, 1 a KPI failed (or was not measured),
            2 a harness error (a bad scenario, a bridge that never started), 130 interrupted (Ctrl-C: the
            children are stopped and a partial report is still written).
            """
    )

    @Argument(help: "A scenario file, or the name of one in scenarios/ (default: polling-vs-event).")
    var scenario = "polling-vs-event"

    @Option(help: "Folder the run's folder goes in.")
    var reports = "reports"

    @Option(help: "The run's folder itself (default: <reports>/<UTC time>-<scenario>).")
    var out: String?

    @Option(help: "Seconds each arm runs, instead of the scenario's.")
    var duration: Double?

    @Option(name: .customLong("set"), help: "Override a scenario field, e.g. --set swarm.clients=50 (repeatable).")
    var overrides: [String] = []

    @Option(name: .customLong("bin-dir"), help: "Folder with the bridge, simulator and loadgen executables (default: beside bridgelab).")
    var binDirectory: String?

    func run() async throws {
        let executables = binDirectory.map(Executables.init(directory:)) ?? Executables.besideThisExecutable()
        var sets = overrides
        if let duration { sets.append("duration=\(duration)") }
        let loaded: Scenario
        let path: String
        do {
            (loaded, path) = try ScenarioLoader.load(scenario, searching: scenarioFolders(executables), overrides: sets)
        } catch {
            throw fail(error.description, code: 2)
        }
        let console = Console()
        do {
            try executables.buildMissing { console.say("bridgelab: \($0)") }
        } catch {
            throw fail("\(error)", code: 2)
        }
        let directory = out ?? "\(reports)/\(Runner.timestamp().replacingOccurrences(of: ":", with: ""))-\(loaded.name)"
        let interruption = Interruption()
        // SIGINT and SIGTERM stop the run, which still writes its (partial) report.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let stopping = Task {
            for await _ in signals {
                interruption.set()
                console.say("bridgelab: stopping (the report will be partial)…")
            }
        }
        defer { stopping.cancel() }

        console.say(
            "bridgelab: \(loaded.name) — \(loaded.expandedArms.count) arm(s) × \(Int(loaded.duration)) s, \(executables.configuration) build, writing \(directory)"
        )
        if executables.configuration != "release" {
            console.say(
                "bridgelab: warning: a \(executables.configuration) build measures the compiler as much as the design; use swift run -c release bridgelab"
            )
        }
        let runner = Runner(
            options: .init(
                scenario: loaded,
                scenarioFile: path,
                runDirectory: directory,
                executables: executables,
                packageRoot: executables.packageRoot
            ),
            console: console,
            interruption: interruption
        )
        let summary: RunSummary
        do {
            summary = try await runner.run()
        } catch {
            throw fail("\(error)", code: 2)
        }
        console.say("")
        print(TerminalReport.render(summary))
        print("report: \(directory)/report.html (and report.md, summary.json)")
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Judge a finished run's saved data again and render its reports.")

    @Argument(help: "A run's folder (reports/<time>-<scenario>).")
    var runDirectory: String

    func run() async throws {
        let exitCode: Int32
        do {
            let summary = try Runner.assess(directory: runDirectory)
            print(TerminalReport.render(summary))
            print("report: \(runDirectory)/report.html (and report.md, summary.json)")
            // The verdict judged again decides the exit status, as it did for `run`.
            exitCode = summary.exitCode
        } catch {
            throw fail("\(error)", code: 2)
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

struct Scenarios: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the scenarios in scenarios/ and check that each one is valid.")

    func run() throws {
        let executables = Executables.besideThisExecutable()
        var bad = 0
        for folder in scenarioFolders(executables) {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for file in files.sorted() where file.hasSuffix(".yaml") {
                do {
                    let (scenario, _) = try ScenarioLoader.load("\(folder)/\(file)", searching: [])
                    print(
                        "\(scenario.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(scenario.expandedArms.count) arm(s) × \(Int(scenario.duration)) s  \(scenario.description.prefix(80))"
                    )
                } catch {
                    if let suite = try? NightlySuite.load("\(folder)/\(file)") {
                        print(
                            "\(suite.name.padding(toLength: 22, withPad: " ", startingAt: 0)) suite of \(suite.runs.count): \(suite.runs.map(\.scenario).joined(separator: ", "))"
                        )
                        continue
                    }
                    bad += 1
                    print("\(file): \(error.description)")
                }
            }
            break
        }
        if bad > 0 { throw ExitCode(2) }
    }
}

/// `bridgelab launch --nofile N --preload LIB -- COMMAND…`: how the runner starts a bridge with a
/// descriptor limit and an allocator (set here, before exec).
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run a command with a descriptor limit and LD_PRELOAD set before it starts (used by bridgelab run).",
        shouldDisplay: false
    )

    @Option(help: "RLIMIT_NOFILE for the command (soft and hard).")
    var nofile: Int?

    @Option(help: "A shared library to load first (LD_PRELOAD), e.g. jemalloc.")
    var preload: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func run() throws {
        let failure = Launch.exec(descriptorLimit: nofile, preload: preload, command: command)
        throw fail(failure, code: 2)
    }
}

struct Compare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put finished runs side by side: KPI tables with ratios, spectra overlaid, timelines aligned."
    )

    @Argument(help: "Run folders (two or more arms across them).")
    var runs: [String]

    @Option(help: "Where compare.html and compare.md go (default: reports/compare-<UTC time>).")
    var out: String?

    func run() async throws {
        do {
            let columns = try RunComparison.load(runs)
            let directory = out ?? "reports/compare-\(Runner.timestamp().replacingOccurrences(of: ":", with: ""))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let markdown = RunComparison.markdown(columns)
            try Data(markdown.utf8).write(to: URL(fileURLWithPath: directory + "/compare.md"))
            try Data(RunComparison.html(columns).utf8).write(to: URL(fileURLWithPath: directory + "/compare.html"))
            print(markdown)
            print("comparison: \(directory)/compare.html (and compare.md)")
        } catch {
            throw fail("\(error)", code: 2)
        }
    }
}

struct NightlyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Run the nightly suite within a budget, keep its figures in the history, flag regressions beyond the noise.",
        discussion: """
            Exit status: 0 every KPI passed and no figure regressed, 1 a KPI failed, 2 a figure regressed
            beyond its run-to-run noise (and the minimum relative change), 3 a harness error.
            """
    )

    @Option(help: "The suite (scenarios and regression rule).")
    var suite = "scenarios/nightly.yaml"

    @Option(help: "Minutes the whole suite may take; scenarios that would not fit are skipped, and said so.")
    var budget = 30.0

    @Option(help: "The history database (SQLite).")
    var history = "reports/history.sqlite"

    @Option(help: "Folder of this night's reports (default: reports/nightly-<UTC time>).")
    var out: String?

    @Option(name: .customLong("markdown-summary"), help: "Also write the summary as Markdown here (e.g. $GITHUB_STEP_SUMMARY).")
    var markdownSummary: String?

    @Option(name: .customLong("bin-dir"), help: "Folder with the bridge, simulator and loadgen executables (default: beside bridgelab).")
    var binDirectory: String?

    func run() async throws {
        let executables = binDirectory.map(Executables.init(directory:)) ?? Executables.besideThisExecutable()
        let console = Console()
        let interruption = Interruption()
        let directory = out ?? "reports/nightly-\(Runner.timestamp().replacingOccurrences(of: ":", with: ""))"
        let result: Nightly.Result
        do {
            try executables.buildMissing { console.say("bridgelab: \($0)") }
            let nightly = Nightly(
                options: .init(
                    suitePath: suite,
                    budgetMinutes: budget,
                    historyPath: history,
                    directory: directory,
                    markdownSummary: markdownSummary,
                    executables: executables,
                    scenarioFolders: scenarioFolders(executables)
                ),
                console: console,
                interruption: interruption
            )
            result = try await nightly.run()
        } catch let error as ScenarioError {
            throw fail(error.description, code: 3)
        } catch {
            throw fail("\(error)", code: 3)
        }
        print(result.markdown)
        print("nightly: \(result.reason); index: \(result.index); history run \(result.runID) in \(history)")
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}

struct Baseline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pin a nightly run as the reference its machine's later runs are compared with.",
        subcommands: [Set.self, Show.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin a run: its id in the history, or its nightly folder.")

        @Argument(help: "A history run id, or a nightly folder (reports/nightly-…).")
        var run: String

        @Option(help: "The history database.")
        var history = "reports/history.sqlite"

        func run() async throws {
            do {
                let store = try History(path: history)
                let id: Int64
                if let number = Int64(run) {
                    id = number
                } else if let found = try store.run(directory: run)?.id
                    ?? store.run(directory: run.hasSuffix("/") ? String(run.dropLast()) : run + "/")?.id
                {
                    id = found
                } else {
                    throw RunnerError("no run with folder \(run) in \(history)")
                }
                try store.pinBaseline(id)
                print("baseline: run \(id) is now the reference for its machine")
            } catch {
                throw fail("\(error)", code: 2)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the pinned run of this machine.")

        @Option(help: "The history database.")
        var history = "reports/history.sqlite"

        func run() async throws {
            let store = try History(path: history)
            let fingerprint = RunEnvironment.current(buildConfiguration: "", packageRoot: nil).fingerprint
            if let run = try store.baseline(fingerprint: fingerprint) {
                print("baseline: run \(run.id ?? 0) of \(run.started), commit \(run.commit), \(run.directory)")
            } else {
                print("no baseline pinned for \(fingerprint): runs are compared with the median of the last good ones")
            }
        }
    }
}

struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to a running bridge through a profile and show how its first messages are read.",
        discussion: """
            What to run first while writing a profile (docs/PROFILES.md): the health route, the first
            messages of the WebSocket route with how each was classified and which fields were read (or
            not found), and one answer of the poll route. Exit status: 0 every trade was recognised with
            every field the profile names, 1 something did not match, 2 a bad profile or URL.
            """
    )

    @Option(help: "The profile: a file, or the name of one in profiles/ (bridgelab, plan).")
    var profile: String

    @Option(help: "The bridge, e.g. http://127.0.0.1:8000 (loopback only).")
    var url: String

    @Option(help: "The symbol to subscribe to and poll.")
    var symbol = "NQ"

    @Option(help: "Messages to show.")
    var count = 20

    @Option(help: "Seconds to wait for them.")
    var seconds = 10.0

    func run() async throws {
        let executables = Executables.besideThisExecutable()
        let folders = ["profiles"] + (executables.packageRoot.map { ["\($0)/profiles"] } ?? [])
        let probe: ProfileProbe
        do {
            probe = try ProfileProbe(
                profile: try ProfileLoader.load(profile, searching: folders),
                url: url,
                symbol: symbol,
                count: count,
                seconds: seconds
            )
        } catch {
            throw fail("\(error)", code: 2)
        }
        let good = await probe.run { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        if !good { throw ExitCode(1) }
    }
}
