import ArgumentParser
import Dispatch
import Foundation
import Lab

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
        subcommands: [Run.self, Report.self, Scenarios.self],
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
        let signals = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler {
                interruption.set()
                console.say("bridgelab: stopping (the report will be partial)…")
            }
            source.resume()
            return source
        }
        defer { for source in signals { source.cancel() } }

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
        do {
            let summary = try Runner.assess(directory: runDirectory)
            print(TerminalReport.render(summary))
            print("report: \(runDirectory)/report.html (and report.md, summary.json)")
        } catch {
            throw fail("\(error)", code: 2)
        }
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
                    bad += 1
                    print("\(file): \(error.description)")
                }
            }
            break
        }
        if bad > 0 { throw ExitCode(2) }
    }
}
