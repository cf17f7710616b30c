import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import Lab

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `bridgelab` (and through it the bridge, simulator and loadgen) as a user would.
@Suite("bridgelab command line", .serialized)
struct BridgeLabCommandTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The build folder holding every executable (debug first: `swift build --build-tests` makes it).
    static func binDirectory() throws -> String {
        for configuration in ["debug", "release"] {
            let directory = "\(packageRoot)/.build/\(configuration)"
            if Executables(directory: directory).missing.isEmpty, FileManager.default.isExecutableFile(atPath: directory + "/bridgelab") {
                return directory
            }
        }
        throw RunnerError("build the executables first (swift build)")
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs bridgelab on a thread of its own (waiting on a process must not hold one of the
    /// concurrency pool's few threads); `interruptAfter` sends SIGINT that many seconds in.
    static func bridgelab(_ arguments: [String], interruptAfter: Double? = nil, pid: (@Sendable (Int32) -> Void)? = nil) async throws -> Outcome {
        try await onThread { try runBridgelab(arguments, interruptAfter: interruptAfter, pid: pid) }
    }

    static func runBridgelab(_ arguments: [String], interruptAfter: Double?, pid: ((Int32) -> Void)?) throws -> Outcome {
        let bin = try binDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin + "/bridgelab")
        process.arguments = arguments + (["run", "nightly"].contains(arguments.first ?? "") ? ["--bin-dir", bin] : [])
        process.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        pid?(process.processIdentifier)
        if let interruptAfter {
            let target = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + interruptAfter) { kill(target, SIGINT) }
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }

    static func temporaryFolder() -> String {
        NSTemporaryDirectory() + "bridgelab-run-" + UUID().uuidString
    }

    @Test("a bad scenario is refused before anything starts: exit 2, the file, the line, the field")
    func badScenario() async throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/bad.yaml"
        try Data("name: bad\narms:\n  - name: event\n    mode: event\nswarm:\n  clients: -4\n".utf8).write(to: URL(fileURLWithPath: file))
        let outcome = try await Self.bridgelab(["run", file, "--out", folder + "/run"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("\(file):6: swarm.clients: must be between 1 and 100000"), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/run"))
        let unknown = try await Self.bridgelab(["run", "no-such-scenario"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("polling-vs-event"))
        let override = try await Self.bridgelab(["run", "smoke", "--set", "market.rate=-1"])
        #expect(override.status == 2)
        #expect(override.stderr.contains("market.rate"))
    }

    @Test("bridgelab run smoke: every part runs, every KPI that applies is measured, the report renders again the same")
    func smokeRun() async throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let outcome = try await Self.bridgelab(["run", "smoke", "--out", folder])
        // A debug build may fail a speed KPI; the harness itself must not fail.
        #expect(outcome.status == 0 || outcome.status == 1, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("End-to-end latency p99"))
        #expect(outcome.stdout.contains("report: \(folder)/report.html"))
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
        #expect(summary.schema == RunSummary.schema)
        #expect(summary.exitCode == outcome.status)
        let arm = try #require(summary.arms.first)
        #expect(arm.status == .completed)
        for kpi in arm.kpis { #expect(kpi.status != .notMeasured, "\(kpi.id): \(kpi.note)") }
        #expect(arm.kpis.first { $0.id == "loss" }?.measured == 0)
        #expect(arm.kpis.first { $0.id == "uptime" }?.status == .pass)
        #expect(arm.kpis.first { $0.id == "leaks" }?.status == .pass)
        #expect((arm.figures.updateLatency?.count ?? 0) > 100)
        #expect((arm.figures.bridgeCPU ?? 0) > 0)
        let data = try ArmData.load(from: folder + "/arms/event")
        #expect(data.samples.count > 100)
        #expect(data.metrics.count > 10)
        #expect(data.loadgen != nil)
        #expect(!(data.timeline["t_s"] ?? []).isEmpty)
        #expect(data.spectra["update"]?.isEmpty == false)
        for log in ["bridge.log", "simulator.log", "loadgen.log"] { #expect(FileManager.default.fileExists(atPath: "\(folder)/arms/event/\(log)")) }
        #expect(ReportReader.read(try String(contentsOfFile: folder + "/report.html", encoding: .utf8)).error == nil)
        let again = try await Self.bridgelab(["report", folder])
        // Judged again, the same verdict and the same exit status.
        #expect(again.status == outcome.status, "\(again.stderr)")
        let rerendered = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
        #expect(rerendered.arms == summary.arms)
    }

    @Test("nightly twice on a tiny suite: the second run is compared with the first; a budget too small skips, and says so")
    func nightlyTwice() async throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let suite = folder + "/suite.yaml"
        try Data("name: tiny\nruns:\n  - scenario: smoke\n    duration: 6\nregression:\n  minimum_runs: 1\n".utf8)
            .write(to: URL(fileURLWithPath: suite))
        let history = folder + "/history.sqlite"
        func nightly(_ name: String, budget: String = "3") async throws -> Outcome {
            try await Self.bridgelab([
                "nightly", "--suite", suite, "--budget", budget, "--history", history, "--out", "\(folder)/\(name)", "--markdown-summary",
                "\(folder)/\(name).md",
            ])
        }
        let first = try await nightly("first")
        #expect([0, 1].contains(first.status), "\(first.stderr)")
        let firstSummary = try String(contentsOfFile: folder + "/first.md", encoding: .utf8)
        #expect(firstSummary.contains("compared with 0 earlier run(s)"))
        #expect(firstSummary.contains("not enough history"))
        #expect(ReportReader.read(try String(contentsOfFile: folder + "/first/index.html", encoding: .utf8)).error == nil)
        #expect(FileManager.default.fileExists(atPath: folder + "/first/smoke/report.html"))

        let second = try await nightly("second")
        #expect([0, 1, 2].contains(second.status), "\(second.stderr)")
        let secondSummary = try String(contentsOfFile: folder + "/second.md", encoding: .utf8)
        #expect(secondSummary.contains("compared with 1 earlier run(s)"))
        #expect(!secondSummary.contains("not enough history"))
        #expect(secondSummary.contains("Every figure is within its run-to-run noise") || secondSummary.contains("against"))
        // A regression, and only a regression, exits 2.
        #expect((second.status == 2) == secondSummary.contains("REGRESSION"))
        let index = try String(contentsOfFile: folder + "/second/index.html", encoding: .utf8)
        #expect(ReportReader.read(index).error == nil)
        #expect(ReportReader.read(index).polylines >= 4)
        let store = try History(path: history)
        #expect(try store.runs(fingerprint: RunEnvironment.current(buildConfiguration: "", packageRoot: nil).fingerprint).count == 2)

        let over = try await nightly("over", budget: "0.05")
        #expect(over.status == 0, "\(over.stderr)")
        #expect(try String(contentsOfFile: folder + "/over.md", encoding: .utf8).contains("over budget"))
    }

    @Test("Ctrl-C stops every child and still writes a partial report (exit 130)")
    func interrupted() async throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let runner = NIOLockedValueBox<Int32>(0)
        let outcome = try await Self.bridgelab(["run", "smoke", "--out", folder], interruptAfter: 9) { pid in runner.withLockedValue { $0 = pid } }
        #expect(outcome.status == 130, "\(outcome.stderr)")
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
        #expect(summary.partial)
        #expect(summary.arms.first?.status == .interrupted)
        #expect(try String(contentsOfFile: folder + "/report.md", encoding: .utf8).contains("interrupted"))
        // Nothing the run started is left: their command lines name the run's data folders.
        let leftovers = RunEnvironment.output(["pgrep", "-f", "bridgelab-\(runner.withLockedValue { $0 })-"], in: nil)
        #expect(leftovers.isEmpty, "left running: \(leftovers)")
    }
}

/// Runs blocking work (a process, a pipe) on a thread of its own, off the Swift concurrency pool.
func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

extension BridgeLabCommandTests {
    /// A scenario file whose one arm runs `command` as a foreign bridge through the plan profile.
    static func foreignScenario(_ folder: String, command: String, extra: String = "") throws -> String {
        let file = folder + "/foreign.yaml"
        let text = """
            name: foreign
            duration: 4
            warmup: 1
            settle: 1
            market: {symbols: [NQ], rate: 100, arrivals: steady}
            swarm: {clients: 2, kinds: {ws: 1}}
            arms:
              - name: theirs
                bridge:
                  command: \(command)
                  profile: \(packageRoot)/profiles/plan.yaml
            \(extra)
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    @Test(
        "a foreign bridge that cannot serve is one clear error and exit 2: it exits at once, nothing listens, its health route never answers 200"
    )
    func foreignBridgeRefusals() async throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cases: [(command: String, extra: String, expected: [String])] = [
            ("[sh, -c, 'echo cannot open the data folder; exit 3', '{port}']", "", ["exited with status 3 before", "cannot open the data folder"]),
            ("[sleep, '30', '{port}']", "      ready_timeout: 2", ["nothing listened on port", "within 2 s"]),
            (
                "[python3, -m, http.server, --bind, 127.0.0.1, '{port}']", "      ready_timeout: 3",
                ["/health never answered 200 within 3 s (last: status 404)"]
            ),
            ("[no-such-program-anywhere, '{port}']", "", ["'no-such-program-anywhere' is not on PATH"]),
        ]
        for (index, item) in cases.enumerated() {
            let file = try Self.foreignScenario(folder, command: item.command, extra: item.extra)
            let outcome = try await Self.bridgelab(["run", file, "--out", "\(folder)/run\(index)"])
            #expect(outcome.status == 2, "\(item.command): \(outcome.stdout) \(outcome.stderr)")
            let summary = try String(contentsOfFile: "\(folder)/run\(index)/report.md", encoding: .utf8)
            for words in item.expected { #expect(summary.contains(words) || outcome.stdout.contains(words), "\(item.command): \(summary)") }
        }
        // Refused before anything starts: no {port}, an unknown placeholder, a profile that does not exist.
        for (command, profile, expected) in [
            ("[python3, x.py]", "plan", "never names {port}"), ("[python3, '{prot}', '{port}']", "plan", "{prot} is no placeholder"),
            ("[python3, '{port}']", "nope", "no such profile file"),
        ] {
            let file = folder + "/bad.yaml"
            try Data(
                "name: bad\narms:\n  - name: theirs\n    bridge:\n      command: \(command)\n      profile: \(profile)\n".utf8
            ).write(to: URL(fileURLWithPath: file))
            let outcome = try await Self.bridgelab(["run", file, "--out", folder + "/bad"])
            #expect(outcome.status == 2)
            #expect(outcome.stderr.contains(expected), "\(outcome.stderr)")
        }
    }

    @Test("plan-bridge-vs-reference end to end: the plan's Python bridge and the reference, side by side, both judged from the files")
    func planBridgeBesideReference() async throws {
        let python = Self.packageRoot + "/examples/plan-bridge/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            // CI installs it (.ci/run); a machine without it is told how, and CI must not skip.
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "run examples/plan-bridge/setup.sh")
            return
        }
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let outcome = try await Self.bridgelab(["run", "plan-bridge-vs-reference", "--duration", "10", "--out", folder])
        #expect(outcome.status == 0 || outcome.status == 1, "\(outcome.stderr)")
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
        #expect(summary.arms.map(\.name) == ["plan-event", "reference"])
        for arm in summary.arms {
            #expect(arm.status == .completed, "\(arm.name): \(arm.error ?? "")")
            // Both read through a profile, their trades matched to the files' records.
            #expect(arm.figures.matchedBy == "time", "\(arm.name)")
            #expect(arm.figures.unmatchedTrades == 0, "\(arm.name)")
            #expect(arm.kpis.first { $0.id == "loss" }?.measured == 0, "\(arm.name)")
            #expect((arm.figures.updateLatency?.count ?? 0) > 100, "\(arm.name)")
            #expect((arm.figures.bridgeCPU ?? 0) > 0, "\(arm.name)")
            // Its health route was probed through the profile (a loaded debug build may miss one).
            #expect(
                arm.figures.healthAnswered > arm.figures.healthProbes / 2,
                "\(arm.name): \(arm.figures.healthAnswered)/\(arm.figures.healthProbes)"
            )
        }
        let plan = try #require(summary.arms.first)
        #expect(plan.figures.foreignBridge?.contains("plan_bridge.py") == true)
        #expect((plan.figures.bridgeMaxProcesses ?? 0) >= 1)
        let report = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(report.contains("read through profile | plan"))
        #expect(report.contains("bridge measured"))
    }
}

extension BridgeLabCommandTests {
    @Test("the floor bridge as a foreign arm from {bin_dir}: its trades matched to the records by seq, none lost, its CPU measured")
    func floorBridgeArm() async throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/floor.yaml"
        let text = """
            name: floor
            duration: 4
            warmup: 1
            settle: 1
            market: {symbols: [NQ], rate: 200, arrivals: steady, flush_ms: 0}
            swarm: {clients: 2, kinds: {ws: 1}}
            arms:
              - name: floor
                bridge:
                  command: ["{bin_dir}/floor-bridge", --data-dir, "{data_dir}", --port, "{port}"]
                  profile: \(Self.packageRoot)/profiles/floor.yaml
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        let outcome = try await Self.bridgelab(["run", file, "--out", folder + "/run"])
        #expect(outcome.status == 0 || outcome.status == 1, "\(outcome.stdout) \(outcome.stderr)")
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/run/summary.json")))
        let arm = try #require(summary.arms.first)
        #expect(arm.status == .completed, "\(arm.error ?? "")")
        #expect(arm.figures.foreignBridge?.contains("floor-bridge") == true)
        #expect(arm.figures.matchedBy == "seq")
        #expect(arm.figures.unmatchedTrades == 0)
        #expect(arm.kpis.first { $0.id == "loss" }?.measured == 0)
        #expect((arm.figures.updateLatency?.count ?? 0) > 100)
        #expect((arm.figures.bridgeCPU ?? 0) > 0)
    }

    @Test("bridgelab probe: through the right profile every trade is read whole (exit 0); through a wrong one it says what was not found (exit 1)")
    func probe() async throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The reference bridge over its embedded simulator, on a port it picks.
        let bridge = Process()
        bridge.executableURL = URL(fileURLWithPath: try Self.binDirectory() + "/bridge")
        bridge.arguments = ["--demo", "--port", "0", "--port-file", folder + "/port.json", "--log-level", "error"]
        bridge.standardOutput = FileHandle.nullDevice
        try bridge.run()
        defer {
            bridge.terminate()
            bridge.waitUntilExit()
        }
        struct PortFile: Decodable { var port: Int }
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = (FileManager.default.contents(atPath: folder + "/port.json")).flatMap { try? JSONDecoder().decode(PortFile.self, from: $0).port }
            try await Task.sleep(for: .milliseconds(50))
        }
        let url = "http://127.0.0.1:\(try #require(port))"
        let right = try await Self.bridgelab(["probe", "--profile", "bridgelab", "--url", url, "--count", "30", "--seconds", "5"])
        #expect(right.status == 0, "\(right.stdout) \(right.stderr)")
        #expect(right.stdout.contains("health: GET \(url)/health → 200"))
        #expect(right.stdout.contains(" trade "))
        #expect(right.stdout.contains("contract NQ"))
        #expect(!right.stdout.contains("NOT FOUND"), "\(right.stdout)")
        // The plan's profile on the reference bridge: its trades are recognised, their fields are not where the plan puts them.
        let wrong = try await Self.bridgelab(["probe", "--profile", "plan", "--url", url, "--count", "10", "--seconds", "5"])
        #expect(wrong.status == 1, "\(wrong.stdout)")
        #expect(wrong.stdout.contains("NOT FOUND: symbol, data.price"), "\(wrong.stdout)")
        #expect(wrong.stdout.contains("trades lack a field the profile names"), "\(wrong.stdout)")
        let elsewhere = try await Self.bridgelab(["probe", "--profile", "plan", "--url", "http://192.0.2.1:80"])
        #expect(elsewhere.status == 2)
        #expect(elsewhere.stderr.contains("loopback"))
    }
}

extension BridgeLabCommandTests {
    @Test("the plan's bridge as a foreign arm: a kill fault restarts its command on its port; a profile that recognises no trade is exit 2")
    func planBridgeKilledAndMisread() async throws {
        let python = Self.packageRoot + "/examples/plan-bridge/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "run examples/plan-bridge/setup.sh")
            return
        }
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The scenario file is not under scenarios/: the paths are absolute.
        let command = "[\(python), \(Self.packageRoot)/examples/plan-bridge/plan_bridge.py, --data-dir, '{data_dir}', --port, '{port}']"

        let killed = try Self.foreignScenario(folder, command: command, extra: "faults: [kill:3:1]")
        let outcome = try await Self.bridgelab(["run", killed, "--duration", "8", "--out", folder + "/killed"])
        #expect(outcome.status == 0 || outcome.status == 1, "\(outcome.stderr)")
        let data = try ArmData.load(from: folder + "/killed/arms/theirs")
        #expect(data.record.status == .completed, "\(data.record.error ?? "")")
        #expect(data.record.outages.count == 1)
        #expect(data.record.markers.contains { $0.kind == .restart })
        #expect(data.record.bridgeEndings.first?.requested == true)
        #expect(data.record.crashes.isEmpty)
        // The restarted bridge served again: health answered after the outage.
        let outage = try #require(data.record.outages.first)
        #expect(data.health.contains { $0.at > outage.to && $0.milliseconds != nil })

        // The plan's profile with a trade recogniser that never matches.
        let profile = folder + "/misread.yaml"
        let text = try String(contentsOfFile: Self.packageRoot + "/profiles/plan.yaml", encoding: .utf8)
        try Data(text.replacingOccurrences(of: "trade: {match: {type: trade}}", with: "trade: {match: {type: tick}}").utf8)
            .write(to: URL(fileURLWithPath: profile))
        let misread = try Self.foreignScenario(folder, command: command).replacingOccurrences(of: ".yaml", with: "-misread.yaml")
        try Data(
            try String(contentsOfFile: folder + "/foreign.yaml", encoding: .utf8)
                .replacingOccurrences(of: Self.packageRoot + "/profiles/plan.yaml", with: profile).utf8
        ).write(to: URL(fileURLWithPath: misread))
        let wrong = try await Self.bridgelab(["run", misread, "--duration", "6", "--out", folder + "/misread"])
        #expect(wrong.status == 2, "\(wrong.stdout)")
        let report = try String(contentsOfFile: folder + "/misread/report.md", encoding: .utf8)
        #expect(report.contains("no trade recognised in the first 200 messages: check trade.match in \(profile)"), "\(report)")
    }
}
