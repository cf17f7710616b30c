import ConfigFile
import Foundation
import Yams

/// `scenarios/nightly.yaml`: which scenarios a nightly run takes, how long each arm runs, and the
/// regression rule.
public struct NightlySuite: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var scenario: String
        public var duration: Double?
    }

    public var name = "nightly"
    public var runs: [Entry] = []
    public var rule = RegressionRule()

    public static func load(_ path: String) throws(ScenarioError) -> NightlySuite {
        let root = try YAMLDocument.load(path)
        let fields = try root.mapping(known: ["name", "runs", "regression"])
        var suite = NightlySuite()
        if let name = fields["name"] { suite.name = try name.string() }
        guard let runs = fields["runs"] else { throw root.error("a suite needs runs: the scenarios it takes") }
        for item in try runs.list() {
            let entry = try item.mapping(known: ["scenario", "duration"])
            guard let scenario = entry["scenario"] else { throw item.error("needs a scenario") }
            suite.runs.append(Entry(scenario: try scenario.string(), duration: try entry["duration"]?.number(1...86_400, unit: "seconds")))
        }
        guard !suite.runs.isEmpty else { throw runs.error("needs at least one run") }
        if let field = fields["regression"] {
            let rule = try field.mapping(known: ["window", "minimum_runs", "minimum_relative", "noise_factor"])
            if let value = rule["window"] { suite.rule.window = try value.integer(1...1_000) }
            if let value = rule["minimum_runs"] { suite.rule.minimumRuns = try value.integer(1...1_000) }
            if let value = rule["minimum_relative"] { suite.rule.minimumRelative = try value.number(0...10) }
            if let value = rule["noise_factor"] { suite.rule.noiseFactor = try value.number(0...100) }
        }
        return suite
    }
}

/// The figures of a finished run that the history keeps: every measured KPI, and the key figures
/// a regression would show in first.
public enum KeyFigures {
    public static func of(_ summary: RunSummary) -> [(scenario: String, arm: String, metric: String, value: Double, better: String)] {
        var result: [(String, String, String, Double, String)] = []
        for arm in summary.arms where arm.status == .completed || arm.status == .crashed {
            for kpi in arm.kpis {
                if let measured = kpi.measured {
                    result.append((summary.scenario.name, arm.name, "kpi." + kpi.id, measured, kpi.direction == .below ? "lower" : "higher"))
                }
            }
            let f = arm.figures
            let lower: [(String, Double?)] = [
                ("bridge_cpu_percent", f.bridgeCPU), ("bridge_peak_rss_mb", f.bridgePeakRSSMB),
                ("update_p50_ms", f.updateLatency?.p50.map { Double($0) / 1000 }), ("update_p99_ms", f.updateLatency?.p99.map { Double($0) / 1000 }),
                ("update_p99_9_ms", f.updateLatency?.p99_9.map { Double($0) / 1000 }),
                ("bridge_us_per_message", f.bridgeMicrosecondsPerMessage), ("loadgen_us_per_message", f.loadgenMicrosecondsPerMessage),
            ]
            for (metric, value) in lower { if let value { result.append((summary.scenario.name, arm.name, metric, value, "lower")) } }
        }
        return result
    }
}
