import Foundation

@testable import Lab
@testable import Swarm

/// Synthetic arms, built as the runner would save them, for judging and rendering.
enum Fixtures {
    static let start: Int64 = 1_800_000_000_000_000

    static func percentiles(p50: Int, p99: Int, count: Int = 1000) -> LoadgenReport.Percentiles {
        .init(count: count, min: p50 / 2, p50: p50, p90: (p50 + p99) / 2, p99: p99, p99_9: p99 * 2, max: p99 * 3, mean: Double(p50))
    }

    static func loadgen(
        update: LoadgenReport.Percentiles? = percentiles(p50: 800, p99: 3_000),
        staleness: LoadgenReport.Percentiles? = nil,
        delivery: LoadgenReport.Percentiles? = nil,
        pollRequests: Int = 0,
        lost: Int = 0,
        gaps: Int = 0,
        reconnect: LoadgenReport.Percentiles? = nil,
        hitRate: Double = 0.95,
        snapshotBytes: Double = 650,
        deltaBytes: Double = 80,
        config: LoadgenReport.Config? = nil,
        payload: LoadgenReport.Payload? = nil,
        extra: [String: LoadgenReport.Percentiles] = [:]
    ) -> LoadgenReport {
        var latency: [String: LoadgenReport.Percentiles] = ["subscribe_to_snapshot": percentiles(p50: 2_000, p99: 9_000, count: 20)]
        latency["update"] = update
        latency["poll_staleness"] = staleness
        latency["poll_delivery"] = delivery
        latency["reconnect"] = reconnect
        latency.merge(extra) { $1 }
        return LoadgenReport(
            schema: "bridgelab.loadgen.summary/1",
            started_unix_us: start,
            elapsed_s: 30,
            config: config,
            clients: .init(started: ["ws": 20], connected: ["ws": 20]),
            updates: .init(
                messages: 100_000,
                measured: 90_000,
                bytes: 9_000_000,
                trades: 30_000,
                lost: lost,
                gaps: gaps,
                duplicates: 0,
                out_of_order: 0
            ),
            payload: payload ?? .init(snapshot_mean_bytes: snapshotBytes, delta_mean_bytes: deltaBytes),
            latency_us: latency,
            latency_unresolved: 0,
            http: .init(requests: pollRequests, status: [:]),
            resumes: .init(recovered: 0, not_recovered: 0, reconnects: 0),
            cache: .init(hits: Int(hitRate * 1000), misses: 1000 - Int(hitRate * 1000), hit_rate: hitRate),
            errors: [:],
            close_codes: [:],
            generator: .init(cpu_user_s: 1, cpu_system_s: 0.5, cpu_percent_of_core: 5, peak_rss_mb: 40, cpu_us_per_message: 2)
        )
    }

    /// `seconds` of samples every 100 ms at a constant CPU, memory growing by `growth` MB/min.
    static func samples(seconds: Double, cpu: Double, rss: Double = 40, growth: Double = 0, established: Int = 20) -> [ResourceSample] {
        stride(from: 0.0, to: seconds, by: 0.1).map { t in
            ResourceSample(
                at: start + Int64(t * 1e6),
                bridgeUserPercent: cpu * 0.7,
                bridgeSystemPercent: cpu * 0.3,
                bridgeRSSMB: rss + growth * t / 60,
                bridgePeakRSSMB: rss + growth * t / 60,
                bridgeThreads: 8,
                bridgeDescriptors: 30 + established,
                sockets: SocketStates(counts: ["ESTABLISHED": established, "LISTEN": 1]),
                machinePercent: 40,
                loadgenPercent: 5,
                loadgenRSSMB: 40,
                simulatorPercent: 3,
                simulatorRSSMB: 15,
                bridgeAlive: true
            )
        }
    }

    static func metrics(seconds: Double, requestsPerSecond: Double, messagesPerSecond: Double = 1000, webSockets: Double = 20) -> [MetricsReading] {
        stride(from: 0.0, through: seconds, by: 1).map { t in
            let text = """
                bridge_http_requests_total{route="/api/live_data/{symbol}",status="200"} \(requestsPerSecond * t)
                bridge_http_requests_total{route="/health",status="200"} \(2 * t)
                bridge_connections{transport="ws"} \(webSockets)
                bridge_messages_sent_total{transport="ws"} \(messagesPerSecond * t)
                bridge_detect_to_send_seconds_bucket{le="0.0001"} 10
                bridge_detect_to_send_seconds_bucket{le="0.001"} 95
                bridge_detect_to_send_seconds_bucket{le="0.01"} 100
                bridge_detect_to_send_seconds_bucket{le="+Inf"} 100
                """
            return MetricsReading(at: start + Int64(t * 1e6), text: text)
        }
    }

    static func arm(
        name: String = "event",
        mode: String = "event",
        role: Scenario.Role = .candidate,
        kinds: [String: Double] = ["ws": 1],
        clients: Int = 20,
        seconds: Double = 40,
        cpu: Double = 5,
        growth: Double = 0,
        requestsPerSecond: Double = 0,
        loadgen: LoadgenReport? = loadgen(),
        closeWaitAfter: Int = 0,
        descriptorsAfter: Int = 30,
        crashed: Bool = false,
        healthFailures: Int = 0
    ) -> ArmData {
        var record = ArmRecord(name: name, mode: mode, role: role)
        record.status = crashed ? .crashed : .completed
        record.kinds = kinds
        record.clients = clients
        record.swarmStart = start
        record.swarmEnd = start + Int64(seconds * 1e6)
        record.measureFrom = start + 5_000_000
        record.measureTo = record.swarmEnd
        record.before = .init(descriptors: 30, sockets: SocketStates(counts: ["LISTEN": 1]))
        record.after = .init(descriptors: descriptorsAfter, sockets: SocketStates(counts: ["LISTEN": 1, "CLOSE_WAIT": closeWaitAfter]))
        record.dashboardEvents = stride(from: 1.0, to: seconds, by: 5).map { start + Int64($0 * 1e6) }
        if crashed { record.bridgeEndings = [.init(status: 11, signal: true, at: start + 20_000_000, requested: false)] }
        let health = stride(from: 0.0, to: seconds, by: 0.5).enumerated().map { index, t in
            BridgeProbe.HealthProbe(at: start + Int64(t * 1e6), milliseconds: index < healthFailures ? nil : 1.2)
        }
        return ArmData(
            record: record,
            samples: samples(seconds: seconds, cpu: cpu, growth: growth),
            health: health,
            metrics: metrics(seconds: seconds, requestsPerSecond: requestsPerSecond),
            loadgen: loadgen
        )
    }

    /// A polling-naive baseline and an event candidate, as a comparison scenario has them.
    static var naiveAndEventArms: [Scenario.Arm] {
        var arms = [Scenario.Arm(name: "naive", mode: "polling-naive"), Scenario.Arm(name: "event")]
        arms[0].role = .baseline
        return arms
    }

    /// The naive baseline: 40 % CPU, 80 polls a second, delivery p99 900 ms, staleness p99 40 ms.
    static func naiveArm() -> ArmData {
        arm(
            name: "naive",
            mode: "polling-naive",
            role: .baseline,
            kinds: ["poll": 1],
            cpu: 40,
            requestsPerSecond: 80,
            loadgen: loadgen(
                update: nil,
                staleness: percentiles(p50: 5_000, p99: 40_000),
                delivery: percentiles(p50: 200_000, p99: 900_000),
                pollRequests: 3200,
                config: config(kinds: ["poll": 20], channels: ["trades", "quotes", "depth", "stats"])
            )
        )
    }

    /// What loadgen writes of its configuration: `clients` of `kinds`, on `channels`.
    static func config(kinds: [String: Int], channels: [String], maxRate: Double? = nil, pollRate: Double = 4) -> LoadgenReport.Config {
        .init(
            url: "ws://127.0.0.1:1",
            clients: kinds.values.reduce(0, +),
            kinds: kinds,
            symbols: ["NQ"],
            channels: channels,
            duration_s: 30,
            arrival_rate: 0,
            ramp_down_s: 0,
            poll_rate: pollRate,
            cache_reads_per_s: 4,
            max_rate: maxRate,
            data_dir: "/tmp"
        )
    }

    static func environment(_ configuration: String = "release") -> RunEnvironment {
        RunEnvironment(
            cpuModel: "Test CPU",
            cores: 2,
            memoryGB: 24,
            kernel: "6.1.0",
            swiftVersion: "Swift version 6.3.1",
            commit: "abc123",
            dirty: false,
            buildConfiguration: configuration,
            hostname: "test"
        )
    }

    static func summarize(_ scenario: Scenario, _ arms: [ArmData], interrupted: Bool = false, configuration: String = "release") -> RunSummary {
        Assessment.summarize(
            scenario: scenario,
            scenarioFile: "scenarios/test.yaml",
            arms: arms,
            environment: environment(configuration),
            started: "s",
            finished: "f",
            interrupted: interrupted
        )
    }
}
