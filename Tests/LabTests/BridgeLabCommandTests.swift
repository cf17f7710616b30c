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
