import Foundation
import Testing

@testable import Lab
@testable import Swarm

@Suite("KPI judgement")
struct JudgementTests {
    var scenario: Scenario {
        var scenario = Scenario(name: "test")
        scenario.arms = [Scenario.Arm(name: "event")]
        return scenario
    }

    func kpi(_ summary: RunSummary, _ arm: String, _ id: String) -> KPIResult? {
        summary.arms.first { $0.name == arm }?.kpis.first { $0.id == id }
    }

    /// What one healthy event arm, with no baseline, no fault and a short window, cannot be judged on.
    static let notApplicableToOneEventArm: Set<String> = [
        "cpu_vs_baseline", "reconnect", "memory_trend", "descriptor_trend", "socket_trend", "memory_per_closed",
    ]

    @Test("a healthy event-mode arm passes; KPIs that do not apply say why, none passes silently")
    func healthy() throws {
        let summary = Fixtures.summarize(scenario, [Fixtures.arm()])
        #expect(summary.exitCode == 0)
        #expect(summary.verdict == "pass")
        let arm = try #require(summary.arms.first)
        #expect(arm.kpis.count == KPI.catalog.count)
        for result in arm.kpis {
            #expect(result.status == .pass || result.status == .notApplicable, "\(result.id): \(result.status) \(result.note)")
            if result.status == .notApplicable { #expect(!result.note.isEmpty) }
        }
        // Exactly these do not apply to one healthy event arm, each for its own reason.
        let notApplicable = Dictionary(uniqueKeysWithValues: arm.kpis.filter { $0.status == .notApplicable }.map { ($0.id, $0.note) })
        #expect(Set(notApplicable.keys) == Self.notApplicableToOneEventArm, "\(notApplicable)")
        #expect(kpi(summary, "event", "latency_e2e")?.measured == 3.0)
        #expect(kpi(summary, "event", "reconnect")?.status == .notApplicable)
        #expect(kpi(summary, "event", "cpu_vs_baseline")?.status == .notApplicable)
        #expect(kpi(summary, "event", "uptime")?.measured == 100)
        #expect(kpi(summary, "event", "cache_hit")?.measured == 95)
        #expect(kpi(summary, "event", "delta_size").map { abs(($0.measured ?? 0) - (1 - 80.0 / 650) * 100) < 1e-9 } == true)
        #expect(kpi(summary, "event", "dashboard")?.measured == 5)
        #expect(kpi(summary, "event", "ws_clients")?.measured == 20)
        #expect(abs((kpi(summary, "event", "cpu")?.measured ?? 0) - 5) < 1e-9)
        #expect(arm.figures.detectToSendP99 == 10)
    }

    @Test("the catalogue holds every KPI id once, in the ids' order, and none is judged \"unknown\"")
    func catalogue() {
        #expect(KPI.catalog.map(\.id) == KPIID.allCases)
        let summary = Fixtures.summarize(scenario, [Fixtures.arm()])
        #expect(summary.arms.first?.kpis.map(\.id) == KPIID.allCases.map(\.rawValue))
        #expect(summary.arms.first?.kpis.allSatisfy { !$0.note.contains("unknown KPI") } == true)
    }

    @Test("plan and BridgeLab targets are judged apart")
    func twoTargets() {
        // 50 ms p99: within the plan's 100 ms, outside BridgeLab's 10 ms.
        let arm = Fixtures.arm(loadgen: Fixtures.loadgen(update: Fixtures.percentiles(p50: 5_000, p99: 50_000)))
        let result = kpi(Fixtures.summarize(scenario, [arm]), "event", "latency_e2e")
        #expect(result?.status == .pass)
        #expect(result?.labStatus == .fail)
        let slow = Fixtures.arm(loadgen: Fixtures.loadgen(update: Fixtures.percentiles(p50: 50_000, p99: 150_000)))
        let summary = Fixtures.summarize(scenario, [slow])
        #expect(kpi(summary, "event", "latency_e2e")?.status == .fail)
        #expect(summary.exitCode == 1)
    }

    @Test("a KPI that applies but has no measurement fails the run")
    func notMeasured() {
        let summary = Fixtures.summarize(scenario, [Fixtures.arm(loadgen: nil)])
        #expect(kpi(summary, "event", "latency_e2e")?.status == .notMeasured)
        #expect(kpi(summary, "event", "cpu")?.status == .pass)
        #expect(summary.arms[0].verdict == "fail")
        #expect(summary.exitCode == 1)
        #expect(summary.arms[0].warnings.contains { $0.contains("loadgen wrote no summary") })
    }

    @Test("loss, leaks, crashes and unanswered probes fail")
    func failures() {
        let lossy = Fixtures.summarize(scenario, [Fixtures.arm(loadgen: Fixtures.loadgen(lost: 3, gaps: 1))])
        #expect(kpi(lossy, "event", "loss")?.measured == 4)
        #expect(kpi(lossy, "event", "loss")?.status == .fail)
        let leaky = Fixtures.summarize(scenario, [Fixtures.arm(closeWaitAfter: 2, descriptorsAfter: 40)])
        // 2 CLOSE_WAIT + (40 − 30 − tolerance 2) descriptors.
        #expect(kpi(leaky, "event", "leaks")?.measured == 10)
        #expect(kpi(leaky, "event", "leaks")?.status == .fail)
        let tolerated = Fixtures.summarize(scenario, [Fixtures.arm(descriptorsAfter: 32)])
        #expect(kpi(tolerated, "event", "leaks")?.status == .pass)
        let crashed = Fixtures.summarize(scenario, [Fixtures.arm(crashed: true, healthFailures: 4)])
        #expect(crashed.arms[0].verdict == "fail")
        #expect(kpi(crashed, "event", "uptime")?.measured == 95)
        #expect(crashed.arms[0].warnings.contains { $0.contains("signal 11") })
    }

    @Test("memory that grows is caught by its slope's confidence interval; flat memory is not")
    func memoryTrend() {
        let growing = Fixtures.summarize(scenario, [Fixtures.arm(seconds: 180, growth: 3)])
        #expect(kpi(growing, "event", "memory_trend")?.status == .fail)
        let flat = Fixtures.summarize(scenario, [Fixtures.arm(seconds: 180, growth: 0)])
        #expect(kpi(flat, "event", "memory_trend")?.status == .pass)
        #expect(kpi(flat, "event", "descriptor_trend")?.status == .pass)
        #expect(kpi(flat, "event", "socket_trend")?.status == .pass)
        var leaking = Fixtures.arm(seconds: 180)
        leaking.samples = leaking.samples.map { sample in
            var sample = sample
            let minutes = Double(sample.at - Fixtures.start) / 60e6
            sample.bridgeDescriptors += Int(minutes * 20)
            sample.sockets.counts["CLOSE_WAIT"] = Int(minutes * 20)
            return sample
        }
        let leaked = Fixtures.summarize(scenario, [leaking])
        #expect(kpi(leaked, "event", "descriptor_trend")?.status == .fail)
        #expect(kpi(leaked, "event", "socket_trend")?.status == .fail)
        let short = Fixtures.summarize(scenario, [Fixtures.arm(seconds: 60, growth: 3)])
        #expect(kpi(short, "event", "memory_trend")?.status == .notApplicable)
    }

    @Test("a least-squares slope and its 95 % interval")
    func trend() throws {
        let x = (0..<50).map(Double.init)
        let exact = try #require(Trend(x: x, y: x.map { 2 * $0 + 1 }))
        #expect(abs(exact.slope - 2) < 1e-12 && abs(exact.intercept - 1) < 1e-9 && exact.slopeMargin < 1e-9)
        let noisy = try #require(Trend(x: x, y: x.map { 5 + ($0.truncatingRemainder(dividingBy: 2) == 0 ? 1 : -1) }))
        #expect(noisy.lower < 0 && noisy.upper > 0)
        #expect(Trend(x: [1, 2], y: [1, 2]) == nil)
        #expect(Trend(x: [1, 1, 1], y: [1, 2, 3]) == nil)
    }

    @Test("polling arms: staleness stands for latency, detection and loss do not apply, baselines do not decide the exit code")
    func pollingBaseline() throws {
        var scenario = self.scenario
        scenario.arms = Fixtures.naiveAndEventArms
        let naive = Fixtures.naiveArm()
        let event = Fixtures.arm(cpu: 4)
        let summary = Fixtures.summarize(scenario, [naive, event])
        // Pollers: a record's delivery waits for the next poll; staleness is the newest record's age.
        #expect(kpi(summary, "naive", "latency_e2e")?.measured == 900)
        #expect(kpi(summary, "naive", "latency_e2e")?.status == .fail)
        #expect(kpi(summary, "naive", "staleness")?.measured == 40)
        #expect(kpi(summary, "naive", "detection")?.status == .notApplicable)
        #expect(kpi(summary, "naive", "loss")?.status == .notApplicable)
        #expect(kpi(summary, "naive", "polling_loops")?.status == .fail)
        #expect(kpi(summary, "naive", "requests_per_hour").map { abs(($0.measured ?? 0) - 80 * 3600) < 1e-6 } == true)
        #expect(kpi(summary, "event", "cpu_vs_baseline").map { abs(($0.measured ?? 0) - 90) < 1e-9 } == true)
        #expect(summary.exitCode == 0)
        let comparison = try #require(summary.comparisons.first)
        #expect(comparison.arm == "event" && comparison.baseline == "naive")
        #expect(comparison.cpuFactor.map { abs($0 - 10) < 1e-9 } == true)
        #expect(comparison.latencyFactor == 300)
        #expect(comparison.sentence.contains("90 % less CPU"))
    }

    @Test("side by side: an arm is compared with the baselines of its own client count when there are such")
    func sameSizeComparisons() throws {
        var scenario = self.scenario
        let names = [("small", Scenario.Role.candidate), ("large", .candidate), ("base-small", .baseline), ("base-large", .baseline)]
        scenario.arms = names.map { name, role in
            var arm = Scenario.Arm(name: name)
            arm.role = role
            return arm
        }
        let arms = [
            Fixtures.arm(name: "small", clients: 1, cpu: 4), Fixtures.arm(name: "large", clients: 10, cpu: 8),
            Fixtures.arm(name: "base-small", role: .baseline, clients: 1, cpu: 2),
            Fixtures.arm(name: "base-large", role: .baseline, clients: 10, cpu: 5),
        ]
        let pairs = Fixtures.summarize(scenario, arms).comparisons.map { "\($0.arm)/\($0.baseline)" }
        #expect(pairs == ["small/base-small", "large/base-large"])
        // With no baseline of its size, an arm is set beside every baseline.
        let odd = Fixtures.summarize(scenario, [Fixtures.arm(name: "small", clients: 3), arms[2], arms[3]]).comparisons.map(\.baseline)
        #expect(odd == ["base-small", "base-large"])
    }

    @Test("at equal information: the plan's CPU comparison is judged on the arm whose clients get what the pollers get")
    func equalInformation() throws {
        var scenario = self.scenario
        var arms = Fixtures.naiveAndEventArms
        var latest = Scenario.Arm(name: "latest")
        latest.matchesBaseline = true
        arms.append(latest)
        scenario.arms = arms
        let naive = Fixtures.naiveArm()
        func count(_ messages: Int, _ bytes: Int) -> LoadgenReport.Count { .init(messages: messages, bytes: bytes) }
        // 20 clients for 30 s: every update, or 4 full states a second on three channels.
        let everything = Fixtures.arm(
            cpu: 8,
            loadgen: Fixtures.loadgen(
                config: Fixtures.config(kinds: ["ws": 20], channels: ["trades", "quotes", "depth", "stats"]),
                payload: .init(
                    snapshot: count(20, 13_000),
                    trade: count(120_000, 17_000_000),
                    quote: count(24_000, 2_300_000),
                    depth: count(24_000, 4_300_000),
                    stats: count(12_000, 1_200_000),
                    snapshot_mean_bytes: 650,
                    delta_mean_bytes: 130
                ),
                extra: ["delivery": Fixtures.percentiles(p50: 1_200, p99: 5_000)]
            )
        )
        let state = Fixtures.arm(
            name: "latest",
            cpu: 2,
            loadgen: Fixtures.loadgen(
                config: Fixtures.config(kinds: ["ws": 20], channels: ["quotes", "depth", "stats"], maxRate: 4),
                payload: .init(
                    snapshot: count(20, 13_000),
                    quote: count(2_400, 250_000),
                    depth: count(2_400, 800_000),
                    stats: count(2_400, 400_000),
                    snapshot_mean_bytes: 650,
                    delta_mean_bytes: 200
                ),
                extra: ["delivery": Fixtures.percentiles(p50: 120_000, p99: 250_000)]
            )
        )
        let summary = Fixtures.summarize(scenario, [naive, everything, state])
        // Judged where the information is the same: 2 % against the pollers' 40 %.
        let judged = try #require(kpi(summary, "latest", "cpu_vs_baseline"))
        #expect(judged.status == .pass && abs((judged.measured ?? 0) - 95) < 1e-9)
        #expect(judged.note.contains("at equal information"))
        // Shown, not judged, where the clients get every update.
        let shown = try #require(kpi(summary, "event", "cpu_vs_baseline"))
        #expect(
            shown.status == .notApplicable && shown.note.contains("80.0 % lower against naive")
                && shown.note.contains("judged at equal information on latest")
        )
        // The latency KPIs are about every update: n/a where updates are held on purpose, with the freshness.
        for id in ["latency_e2e", "detection", "staleness", "delta_size"] {
            let result = kpi(summary, "latest", id)
            #expect(result?.status == .notApplicable && result?.note.contains("held on purpose; its data's freshness p99 is 250 ms") == true, "\(id)")
            #expect(kpi(summary, "event", id)?.status == .pass, "\(id)")
        }
        // What each arm's clients got, side by side with what it cost.
        let info = try #require(summary.arms.first { $0.name == "latest" }?.figures.information)
        #expect(info.wants == "the latest state at most 4 a second (quotes, depth, stats)" && info.matchesBaseline)
        #expect(abs((info.updatesPerClientSecond ?? 0) - 12) < 1e-9)
        #expect(info.freshness?.p99 == 250_000 && info.tradesPerClientSecond == 0)
        let everyUpdate = try #require(summary.arms.first { $0.name == "event" }?.figures.information)
        #expect(everyUpdate.wants == "every update (trades, quotes, depth, stats)" && abs((everyUpdate.updatesPerClientSecond ?? 0) - 300) < 1e-9)
        let pollers = try #require(summary.arms.first { $0.name == "naive" }?.figures.information)
        #expect(pollers.wants == "4 polls a second" && pollers.freshness?.p99 == 900_000)
        let report = MarkdownReport.render(summary)
        #expect(report.contains("## At equal information") && report.contains("latest (matches the baselines)"))
        #expect(report.contains("judged on latest"))
        // The delta KPI says each channel's size.
        #expect(kpi(summary, "event", "delta_size")?.note.contains("depth 179 B") == true)
    }

    @Test("change detection is measured from write → wake when the run carries trace timestamps, else bounded by write → decode")
    func detectionStage() throws {
        let traced = Fixtures.arm(loadgen: Fixtures.loadgen(extra: ["stage_write_to_wake": Fixtures.percentiles(p50: 300, p99: 1_500)]))
        let plain = Fixtures.arm(name: "plain")
        var scenario = self.scenario
        scenario.arms = [Scenario.Arm(name: "event"), Scenario.Arm(name: "plain")]
        let summary = Fixtures.summarize(scenario, [traced, plain])
        let measured = try #require(kpi(summary, "event", "detection"))
        #expect(measured.measured == 1.5 && measured.note.hasPrefix("measured: write → wake p99"))
        let bounded = try #require(kpi(summary, "plain", "detection"))
        #expect(bounded.measured == 3 && bounded.note.hasPrefix("upper bound: write → decode p99"))
    }

    @Test("a scenario can retarget or leave out a KPI")
    func overrides() {
        var scenario = self.scenario
        var tight = Scenario.KPIOverride()
        tight.plan = 2
        scenario.kpis["latency_e2e"] = tight
        var off = Scenario.KPIOverride()
        off.enabled = false
        scenario.kpis["cache_hit"] = off
        let summary = Fixtures.summarize(scenario, [Fixtures.arm()])
        #expect(kpi(summary, "event", "latency_e2e")?.plan == 2)
        #expect(kpi(summary, "event", "latency_e2e")?.status == .fail)
        #expect(kpi(summary, "event", "cache_hit")?.status == .notApplicable)
        #expect(kpi(summary, "event", "cache_hit")?.note == "left out by the scenario")
    }

    @Test("exit codes: harness error 2, interrupted 130; a debug build is warned about")
    func exitCodes() {
        var broken = Fixtures.arm()
        broken.record.status = .error
        broken.record.error = "the bridge ended before it listened"
        #expect(Fixtures.summarize(scenario, [broken]).exitCode == 2)
        let interrupted = Fixtures.summarize(scenario, [Fixtures.arm()], interrupted: true)
        #expect(interrupted.exitCode == 130)
        #expect(interrupted.partial)
        let debug = Fixtures.summarize(scenario, [Fixtures.arm()], configuration: "debug")
        #expect(debug.warnings.contains { $0.contains("debug") })
    }

    @Test("the knee of a scale run is the last step that held")
    func knee() {
        var scenario = self.scenario
        scenario.scale = Scenario.Scale(clients: [10, 100, 400])
        var steps = [
            Fixtures.arm(name: "event@10", clients: 10, cpu: 5), Fixtures.arm(name: "event@100", clients: 100, cpu: 25),
            Fixtures.arm(name: "event@400", clients: 400, cpu: 80),
        ]
        steps[2].record.status = .completed
        let summary = Fixtures.summarize(scenario, steps)
        #expect(summary.scale?.kneeClients == 100)
        #expect(summary.scale?.brokenAt == 400)
        #expect(summary.scale?.brokenBy.contains("Bridge CPU") == true)
        #expect(summary.exitCode == 0)
    }

    @Test("the generator is flagged when it costs more than the bridge, and a saturated machine when every core is busy")
    func bottlenecks() {
        var arm = Fixtures.arm(cpu: 1)
        arm.samples = arm.samples.map {
            var sample = $0
            sample.loadgenPercent = 95
            sample.machinePercent = 99
            return sample
        }
        let warnings = Fixtures.summarize(scenario, [arm]).arms[0].warnings
        #expect(warnings.contains { $0.contains("generator used") })
        #expect(warnings.contains { $0.contains("every core was busy") })
    }

    @Test("a generator dearer per message than the bridge is flagged while messages flow, not in an idle run")
    func generatorPerMessage() {
        let arm = Fixtures.arm(cpu: 1)
        var figures = ArmFigures()
        figures.bridgeMicrosecondsPerMessage = 5
        figures.loadgenMicrosecondsPerMessage = 10
        figures.bridgeMessagesPerSecond = 20_000
        #expect(Assessment.warnings(arm, figures, environment: Fixtures.environment()).contains { $0.contains("µs per message received") })
        figures.bridgeMessagesPerSecond = 3
        #expect(!Assessment.warnings(arm, figures, environment: Fixtures.environment()).contains { $0.contains("µs per message received") })
        figures.bridgeMessagesPerSecond = 20_000
        figures.loadgenMicrosecondsPerMessage = 4
        #expect(!Assessment.warnings(arm, figures, environment: Fixtures.environment()).contains { $0.contains("µs per message received") })
    }

    @Test("Prometheus text: client requests leave out the runner's own routes; histogram buckets give percentile bounds")
    func metricsParsing() {
        let reading = Fixtures.metrics(seconds: 2, requestsPerSecond: 5)[2]
        #expect(reading.clientRequests == 10)
        #expect(reading.connections == ["ws": 20])
        #expect(reading.detectToSendPercentile(50) == 0.001)
        #expect(reading.detectToSendPercentile(99) == 0.01)
        #expect(MetricsReading(at: 0, text: "garbage\n# HELP x\nx{a=\"b\"} notanumber").clientRequests == 0)
    }
}

@Suite("Memory kept per closed connection")
struct MemoryPerClosedConnectionTests {
    /// An arm whose bridge had `before` MB before the swarm and `after` MB once it left and settled,
    /// and whose counter says `closed` connections ended.
    func arm(before: Double, after: Double, closed: Int) -> ArmData {
        var arm = Fixtures.arm(seconds: 40)
        var early = arm.samples[0]
        early.at = arm.record.swarmStart - 1_000_000
        early.bridgeRSSMB = before
        var late = arm.samples[arm.samples.count - 1]
        late.at = arm.record.swarmEnd + 5_000_000
        late.bridgeRSSMB = after
        arm.samples = [early] + arm.samples + [late]
        let text = """
            bridge_disconnects_total{reason="client_closed"} \(closed - closed / 4)
            bridge_disconnects_total{reason="closed"} \(closed / 4)
            """
        arm.metrics.append(MetricsReading(at: arm.record.swarmEnd + 5_000_000, text: text))
        return arm
    }

    func judged(_ arm: ArmData) -> (ArmFigures, KPIResult?) {
        var scenario = Scenario(name: "test")
        scenario.arms = [Scenario.Arm(name: "event")]
        let summary = Fixtures.summarize(scenario, [arm])
        let result = summary.arms.first
        return (result?.figures ?? ArmFigures(), result?.kpis.first { $0.id == "memory_per_closed" })
    }

    @Test("6 KB kept by each of 4,000 closed connections is measured as such, and fails")
    func leak() {
        let (figures, kpi) = judged(arm(before: 40, after: 40 + 4_000 * 6.0 / 1024, closed: 4_000))
        #expect(figures.connectionsClosed == 4_000)
        #expect(abs((figures.memoryKeptPerClosedConnectionKB ?? 0) - 6) < 1e-9)
        #expect(kpi?.status == .fail)
        #expect(kpi?.note == "4000 connections closed, from before the swarm to after it")
    }

    @Test("memory back where it was passes; too few closed connections are not judged, and say so")
    func noLeak() {
        let (figures, kpi) = judged(arm(before: 40, after: 40.05, closed: 4_000))
        #expect((figures.memoryKeptPerClosedConnectionKB ?? 1) < 0.1)
        #expect(kpi?.status == .pass)
        let (_, few) = judged(arm(before: 40, after: 41, closed: 300))
        #expect(few?.status == .notApplicable)
        #expect(few?.note.contains("300 connections closed") == true)
    }
}

@Suite("Memory against connections closed")
struct MemoryPerClosedTrendTests {
    @Test("memory that grows 6 KB with every connection closed gives a slope of 6 KB; flat memory gives none")
    func slope() throws {
        for (kept, expected) in [(6.0, 6.0), (0.0, 0.0)] {
            // 100 connections close a second: 6,000 a minute.
            var arm = Fixtures.arm(seconds: 40, growth: kept * 6_000 / 1024)
            arm.metrics = arm.metrics.map { scrape in
                let t = Double(scrape.at - arm.record.swarmStart) / 1e6
                return MetricsReading(at: scrape.at, text: "bridge_disconnects_total{reason=\"closed\"} \(Int(100 * t))")
            }
            let figures = Judge(scenario: Scenario(name: "test")).figures(arm)
            let trend = try #require(figures.memoryPerClosedTrend)
            #expect(abs(trend.slope * 1024 - expected) < 0.01, "\(trend.slope * 1024) KB per closed connection")
            // The KPI judges the slope: what each closed connection leaves, apart from one-off growth.
            var scenario = Scenario(name: "test")
            scenario.arms = [Scenario.Arm(name: "event")]
            let kpi = Fixtures.summarize(scenario, [arm]).arms.first?.kpis.first { $0.id == "memory_per_closed" }
            #expect(abs((kpi?.measured ?? -1) - expected) < 0.05, "\(kpi?.measured ?? -1)")
            #expect(kpi?.status == (expected > 1 ? .fail : .pass))
        }
    }
}
