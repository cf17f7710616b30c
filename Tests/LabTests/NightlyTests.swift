import Foundation
import GRDB
import Testing

@testable import Lab

@Suite("nightly: regression rule, history, launch, compare")
struct NightlyTests {
    let rule = RegressionRule()

    @Test("too little history gives no verdict; a pinned baseline is enough")
    func notEnoughHistory() {
        #expect(rule.judge(10, better: "lower", history: [9, 9]) == .notEnoughHistory(runs: 2))
        #expect(rule.judge(20, better: "lower", history: [], baseline: 10).isRegression)
    }

    @Test("worse beyond the noise band and the minimum change is a regression; within either, steady")
    func noiseBand() {
        // Quiet history: the 10 % minimum decides.
        let quiet = [100.0, 101, 99, 100, 100]
        #expect(rule.judge(108, better: "lower", history: quiet) == .steady(reference: 100, threshold: 10))
        #expect(rule.judge(112, better: "lower", history: quiet).isRegression)
        // Noisy history (MAD 10 → σ ≈ 14.8): 3σ ≈ 44.5 outweighs 10 %.
        let noisy = [100.0, 90, 110, 80, 120, 100, 90, 110]
        if case .steady(let reference, let threshold) = rule.judge(140, better: "lower", history: noisy) {
            #expect(reference == 100 && abs(threshold - 3 * 1.4826 * 10) < 1e-9)
        } else {
            Issue.record("a change inside the noise was flagged")
        }
        #expect(rule.judge(150, better: "lower", history: noisy).isRegression)
        // Direction: for a higher-is-better figure, a drop is the regression and a rise an improvement.
        #expect(rule.judge(80, better: "higher", history: quiet).isRegression)
        if case .improvement = rule.judge(130, better: "higher", history: quiet) {} else { Issue.record("a rise was not an improvement") }
        // Only the last `window` runs count.
        var short = RegressionRule()
        short.window = 3
        #expect(short.judge(100, better: "lower", history: [50, 50, 50, 100, 100, 100]).isRegression)
    }

    func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "bridgelab-\(name)-" + UUID().uuidString
    }

    @Test("the history's schema: a new database gets every migration; a v1 database keeps its runs and gains baselines")
    func historySchema() throws {
        let fresh = temporary("history") + "/history.sqlite"
        defer { try? FileManager.default.removeItem(atPath: (fresh as NSString).deletingLastPathComponent) }
        let history = try History(path: fresh)
        let id = try history.record(
            History.Run(
                started: "2026-11-30T00:00:00Z",
                commit: "abc",
                fingerprint: "cpu × 2, 6.1",
                suite: "nightly",
                status: "pass",
                directory: "d1"
            ),
            figures: [("smoke", "event", "kpi.cpu", 5, "lower"), ("smoke", "event", "update_p99_ms", .nan, "lower")]
        )
        #expect(try history.figures(run: id).map(\.metric) == ["kpi.cpu"])
        try history.pinBaseline(id)
        #expect(try history.baseline(fingerprint: "cpu × 2, 6.1")?.id == id)
        #expect(try history.baseline(fingerprint: "another machine") == nil)

        // A database made by the first version only.
        let old = temporary("history-v1") + ".sqlite"
        defer { try? FileManager.default.removeItem(atPath: old) }
        let queue = try DatabaseQueue(path: old)
        try History.migrator.migrate(queue, upTo: "v1: runs and figures")
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO run (started, \"commit\", fingerprint, suite, status, directory) VALUES ('s', 'c', 'f', 'nightly', 'pass', 'd')"
            )
        }
        #expect(try queue.read { db in try db.columns(in: "run").map(\.name) }.contains("baseline") == false)
        let upgraded = try History(path: old)
        #expect(try upgraded.queue.read { db in try db.columns(in: "run").map(\.name) }.contains("baseline"))
        #expect(try upgraded.runs(fingerprint: "f").count == 1)
        #expect(try upgraded.runs(fingerprint: "f").first?.baseline == false)
    }

    @Test("bridgelab launch sets the descriptor limit and LD_PRELOAD before exec; a missing allocator is a clear error")
    func launch() async throws {
        let bin = try BridgeLabCommandTests.binDirectory()
        let jemalloc = Launch.jemallocCandidates.first { FileManager.default.fileExists(atPath: $0) }
        let launch = Launch(descriptorLimit: 77, allocator: jemalloc == nil ? "system" : "jemalloc")
        let (executable, arguments) = try launch.commandLine(
            launcher: bin + "/bridgelab",
            executable: "/bin/sh",
            arguments: ["-c", "ulimit -n; echo \"preload=$LD_PRELOAD\""]
        )
        #expect(executable == bin + "/bridgelab")
        let output = try await onThread { () -> String in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.first == "77")
        #expect(lines.last == "preload=\(jemalloc ?? "")")
        // Nothing to set: the command runs as it is.
        #expect(try Launch().commandLine(launcher: "x", executable: "/bin/true", arguments: []).0 == "/bin/true")
        do {
            _ = try Launch(allocator: "jemalloc").preloadPath(candidates: ["/nonexistent/libjemalloc.so.2"])
            Issue.record("a missing jemalloc was accepted")
        } catch {
            #expect("\(error)".contains("apt-get install -y libjemalloc-dev"))
        }
    }

    @Test("exit codes: harness error 3 before regression 2 before a failed KPI 1")
    func exitCodes() {
        func entry(_ code: Int32?) -> Nightly.Entry {
            var summary = Fixtures.summarize(Scenario(name: "s"), [Fixtures.arm()])
            if let code { summary.exitCode = code }
            return Nightly.Entry(scenario: "s", summary: code == nil ? nil : summary, skipped: code == nil ? "harness error: x" : nil, folder: "")
        }
        let regression = Nightly.Comparison(key: "s/a/m", value: 2, better: "lower", verdict: .regression(reference: 1, threshold: 0.1))
        let steady = Nightly.Comparison(key: "s/a/m", value: 1, better: "lower", verdict: .steady(reference: 1, threshold: 0.1))
        #expect(Nightly.verdict(entries: [entry(0)], comparisons: [steady]).0 == 0)
        #expect(Nightly.verdict(entries: [entry(1)], comparisons: [steady]).0 == 1)
        #expect(Nightly.verdict(entries: [entry(1)], comparisons: [regression]).0 == 2)
        #expect(Nightly.verdict(entries: [entry(nil), entry(1)], comparisons: [regression]).0 == 3)
        #expect(Nightly.verdict(entries: [entry(2)], comparisons: []).0 == 3)
    }

    @Test("a failed bridge is explained from the samples: when, why, and the evidence")
    func failureAnalysis() {
        var arm = Fixtures.arm(name: "naive", mode: "polling-naive", role: .baseline, kinds: ["poll": 1], healthFailures: 0)
        arm.record.launch = Launch(descriptorLimit: 52)
        arm.record.hangs = [Fixtures.start + 18_000_000]
        arm.health = arm.health.map { probe in
            var probe = probe
            if probe.at > Fixtures.start + 18_000_000 { probe.milliseconds = nil }
            return probe
        }
        let summary = Fixtures.summarize(Scenario(name: "storm"), [arm])
        let failure = summary.arms[0].failure
        #expect(failure?.failed == true)
        #expect(failure?.at == 18)
        #expect(failure?.why.contains("hang") == true)
        #expect(failure?.evidence.contains { $0.contains("descriptors reached 50 of the limit 52") } == true)
        #expect(failure?.evidence.contains { $0.contains("/health probes unanswered") } == true)
        #expect(MarkdownReport.render(summary).contains("**Failed:**"))
        let healthy = Fixtures.summarize(Scenario(name: "ok"), [Fixtures.arm()])
        #expect(healthy.arms[0].failure?.failed == false)
    }

    @Test("pollers that wait seconds for their answers are a failure too, though the bridge lives")
    func pollersBehind() {
        var report = Fixtures.loadgen(update: nil, pollRequests: 700)
        report.latency_us["poll_request"] = Fixtures.percentiles(p50: 26_000_000, p99: 54_000_000, count: 713)
        let arm = Fixtures.arm(name: "naive", mode: "polling-naive", role: .baseline, kinds: ["poll": 1], loadgen: report)
        let failure = Fixtures.summarize(Scenario(name: "file-io"), [arm]).arms[0].failure
        #expect(failure?.failed == true)
        #expect(failure?.why.contains("the pollers fell behind: a poll waited 26.0 s at p50 and 54.0 s at p99") == true, "\(failure?.why ?? "")")
        // Answers within a few intervals are not a failure.
        var prompt = Fixtures.loadgen(update: nil, pollRequests: 700)
        prompt.latency_us["poll_request"] = Fixtures.percentiles(p50: 3_000, p99: 22_000)
        let served = Fixtures.arm(name: "cached", mode: "polling-cached", role: .baseline, kinds: ["poll": 1], loadgen: prompt)
        #expect(Fixtures.summarize(Scenario(name: "file-io"), [served]).arms[0].failure?.failed == false)
    }

    @Test("compare: two runs side by side, ratios to the first, valid HTML")
    func compare() throws {
        var folders: [String] = []
        defer { for folder in folders { try? FileManager.default.removeItem(atPath: folder) } }
        for cpu in [4.0, 8.0] {
            let directory = temporary("compare")
            folders.append(directory)
            var scenario = Scenario(name: "compare")
            scenario.arms = [Scenario.Arm(name: "event")]
            try FileManager.default.createDirectory(atPath: directory + "/arms/event", withIntermediateDirectories: true)
            try Fixtures.arm(cpu: cpu).write(to: directory + "/arms/event")
            try JSONEncoder().encode(scenario).write(to: URL(fileURLWithPath: directory + "/scenario.json"))
            try JSONEncoder().encode(Fixtures.environment()).write(to: URL(fileURLWithPath: directory + "/environment.json"))
            try Runner.assess(directory: directory, finished: "f")
        }
        let columns = try RunComparison.load(folders)
        #expect(columns.count == 2)
        let markdown = RunComparison.markdown(columns)
        #expect(markdown.contains("| Bridge CPU | 4.00 % of a core ✓ | 8.00 % of a core ✓ (2.00×) |"), "\(markdown)")
        let reader = ReportReader.read(RunComparison.html(columns))
        #expect(reader.error == nil)
        #expect(reader.svgCount == 4)
        #expect(throws: RunnerError.self) { try RunComparison.load([folders[0]]) }
    }
}
