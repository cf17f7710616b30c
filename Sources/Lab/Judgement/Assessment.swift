import Foundation

/// Turns a run's saved arms into its summary: figures, KPI tables, comparisons between arms, the
/// knee of a scale scenario, warnings, and the exit code. A pure function of the saved files.
public enum Assessment {
    public static func summarize(
        scenario: Scenario,
        scenarioFile: String,
        arms: [ArmData],
        environment: RunEnvironment,
        started: String,
        finished: String,
        interrupted: Bool
    ) -> RunSummary {
        let judge = Judge(scenario: scenario)
        let figures = arms.map { judge.figures($0) }
        let baselines = zip(arms, figures).filter { $0.0.record.role == .baseline && $0.0.record.status != .notRun }.map {
            (name: $0.0.record.name, figures: $0.1)
        }
        var summaries: [RunSummary.Arm] = []
        for (arm, f) in zip(arms, figures) {
            let record = arm.record
            let kpis = record.status == .notRun || record.status == .error ? [] : judge.judge(arm, figures: f, baselines: baselines)
            // A profile that recognises no trade measured nothing of the bridge: a harness error,
            // like a bad scenario (docs/PROFILES.md).
            let problems = arm.loadgen?.profile?.problems ?? []
            let verdict: String
            switch record.status {
            case .notRun: verdict = "not-run"
            case .error: verdict = "error"
            default:
                verdict =
                    !problems.isEmpty
                    ? "error" : kpis.contains { $0.status == .fail || $0.status == .notMeasured } || !record.crashes.isEmpty ? "fail" : "pass"
            }
            summaries.append(
                RunSummary.Arm(
                    name: record.name,
                    mode: record.mode,
                    role: record.role,
                    status: record.status,
                    error: record.error ?? (problems.isEmpty ? nil : "the profile: " + problems.joined(separator: "; ")),
                    clients: record.clients,
                    kinds: record.kinds,
                    verdict: verdict,
                    kpis: kpis,
                    figures: f,
                    warnings: warnings(arm, f, environment: environment),
                    failure: record.status == .notRun || record.status == .error ? nil : FailureAnalysis.analyze(arm, f)
                )
            )
        }
        var comparisons: [RunSummary.Comparison] = []
        let clientsByArm = Dictionary(zip(arms, figures).map { ($0.0.record.name, $0.0.record.clients) }, uniquingKeysWith: { first, _ in first })
        for (arm, f) in zip(arms, figures) where arm.record.role == .candidate && arm.record.status != .notRun {
            // Where baselines come in several sizes (1 and 10 clients), each arm is set beside those
            // of its own size: a 1-client arm against a 10-client baseline compares different work.
            let sameSize = baselines.filter { clientsByArm[$0.name] == arm.record.clients }
            for baseline in sameSize.isEmpty ? baselines : sameSize {
                comparisons.append(compare(arm.record.name, f, baseline.name, baseline.figures))
            }
        }
        let scale = scenario.scale.map { _ in knee(summaries) }
        let candidates = summaries.filter { $0.role == .candidate }
        let exitCode: Int32
        if interrupted {
            exitCode = 130
        } else if summaries.contains(where: { $0.verdict == "error" }) {
            exitCode = 2
        } else if let scale {
            exitCode = scale.kneeClients == nil ? 1 : 0
        } else {
            exitCode = candidates.allSatisfy { $0.verdict == "pass" } ? 0 : 1
        }
        var runWarnings: [String] = []
        if environment.buildConfiguration != "release" {
            runWarnings.append(
                "built in \(environment.buildConfiguration) configuration: figures measure an unoptimised build; use swift run -c release"
            )
        }
        if interrupted { runWarnings.append("interrupted (Ctrl-C): a partial run; its figures cover only what ran") }
        return RunSummary(
            scenario: scenario,
            scenarioFile: scenarioFile,
            startedUTC: started,
            finishedUTC: finished,
            partial: interrupted,
            partialReason: interrupted ? "interrupted" : nil,
            environment: environment,
            exitCode: exitCode,
            verdict: ["pass", "fail", "error"][exitCode == 0 ? 0 : (exitCode == 1 ? 1 : 2)],
            arms: summaries,
            comparisons: comparisons,
            scale: scale,
            warnings: runWarnings
        )
    }

    /// Who was the limit: the generator, the machine, or nobody.
    static func warnings(_ arm: ArmData, _ f: ArmFigures, environment: RunEnvironment) -> [String] {
        var result: [String] = []
        for crash in arm.record.crashes { result.append("the bridge \(crash.description) during the run") }
        if !arm.record.hangs.isEmpty {
            result.append("the bridge stopped answering /health for \(Int(BridgeProbe.hangSeconds)) s or more (\(arm.record.hangs.count)×)")
        }
        if let cpu = f.loadgenCPU, cpu >= 85 {
            result.append("the generator used \(Format.number(cpu)) % of a core: it, not the bridge, may have been the limit")
        }
        // Per-message costs mean something only when messages flow (an idle run's few heartbeats
        // would divide fixed costs by almost nothing).
        if let generator = f.loadgenMicrosecondsPerMessage, let bridge = f.bridgeMicrosecondsPerMessage, generator > bridge, generator > 0,
            (f.bridgeMessagesPerSecond ?? 0) >= 100
        {
            result.append(
                "the generator spent \(Format.number(generator)) µs per message received, more than the bridge's \(Format.number(bridge)) µs per message sent"
            )
        }
        if let share = f.machineSaturatedShare, share >= 0.2 {
            result.append("every core was busy in \(Int(share * 100)) % of the samples: the machine, not the bridge, was the limit then")
        }
        if let loadgen = arm.loadgen {
            if loadgen.latency_unresolved > 0 {
                result.append("\(loadgen.latency_unresolved) updates had no journal line (not in the latency figures)")
            }
            let errors = loadgen.errors.filter { $0.value > 0 }
            if !errors.isEmpty {
                result.append("client errors: " + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
        } else if arm.record.status == .completed || arm.record.status == .crashed {
            result.append("loadgen wrote no summary (status \(arm.record.loadgenStatus.map(String.init) ?? "unknown")): client KPIs are not measured")
        }
        return result
    }

    static func compare(_ name: String, _ arm: ArmFigures, _ baselineName: String, _ baseline: ArmFigures) -> RunSummary.Comparison {
        func factor(_ base: Double?, _ value: Double?) -> Double? {
            guard let base, let value, value > 0, base >= 0 else { return nil }
            return base / value
        }
        let requests = factor(baseline.requestsPerHour, max(arm.requestsPerHour ?? 0, 1))
        let cpu = factor(baseline.bridgeCPU, arm.bridgeCPU)
        let latency = factor(e2e(baseline), e2e(arm))
        let staleness = factor(
            Double(baseline.pollStaleness?.p99 ?? baseline.updateLatency?.p99 ?? 0),
            Double(arm.pollStaleness?.p99 ?? arm.updateLatency?.p99 ?? 0)
        )
        var parts: [String] = []
        if let perHour = baseline.requestsPerHour {
            let own = arm.requestsPerHour ?? 0
            let counts = "(\(Format.count(own))/h vs \(Format.count(perHour))/h)"
            parts.append(
                own < 1
                    ? "no client requests vs \(Format.count(perHour))/h"
                    : ratio(
                        requests ?? 1,
                        same: "as many requests \(counts)",
                        better: "%@ fewer requests \(counts)",
                        worse: "%@ more requests \(counts)"
                    )
            )
        }
        if let a = arm.bridgeCPU, let b = baseline.bridgeCPU, b > 0 {
            let figures = "(\(Format.number(a)) vs \(Format.number(b)) % of a core)"
            if abs(a - b) / b < 0.1 {
                parts.append("about the same CPU \(figures)")
            } else {
                parts.append(a < b ? "\(Int(((1 - a / b) * 100).rounded())) % less CPU \(figures)" : "\(times(a / b)) more CPU \(figures)")
            }
        }
        if let latency {
            parts.append(ratio(latency, same: "about the same end-to-end p99", better: "end-to-end p99 %@ lower", worse: "end-to-end p99 %@ higher"))
        }
        if let staleness {
            parts.append(ratio(staleness, same: "data about as fresh at p99", better: "data %@ fresher at p99", worse: "data %@ staler at p99"))
        }
        return RunSummary.Comparison(
            arm: name,
            baseline: baselineName,
            requestsFactor: requests,
            cpuFactor: cpu,
            latencyFactor: latency,
            stalenessFactor: staleness,
            sentence: "\(name) vs \(baselineName): " + (parts.isEmpty ? "nothing comparable was measured" : parts.joined(separator: "; "))
        )
    }

    /// End-to-end p99 (µs): pushed updates, else pollers' delivery.
    static func e2e(_ f: ArmFigures) -> Double? {
        (f.updateLatency?.p99 ?? f.pollDelivery?.p99).map(Double.init)
    }

    /// A factor (baseline ÷ candidate) in words: within 10 % it is "the same".
    static func ratio(_ factor: Double, same: String, better: String, worse: String) -> String {
        if abs(factor - 1) < 0.1 { return same }
        return factor > 1 ? better.replacingOccurrences(of: "%@", with: times(factor)) : worse.replacingOccurrences(of: "%@", with: times(1 / factor))
    }

    static func times(_ factor: Double) -> String {
        factor >= 10 ? "\(Format.count(factor))×" : String(format: "%.1f×", factor)
    }

    /// The last scale step that held before the first one that broke.
    static func knee(_ arms: [RunSummary.Arm]) -> RunSummary.ScaleResult {
        var result = RunSummary.ScaleResult(kneeClients: nil, kneeArm: nil, brokenAt: nil, brokenBy: [])
        for arm in arms where arm.role == .candidate && arm.verdict != "not-run" {
            if arm.verdict == "pass" {
                result.kneeClients = arm.clients
                result.kneeArm = arm.name
            } else {
                result.brokenAt = arm.clients
                result.brokenBy = arm.kpis.filter { $0.status == .fail || $0.status == .notMeasured }.map(\.title)
                if arm.verdict == "error" { result.brokenBy.append(arm.error ?? "harness error") }
                break
            }
        }
        return result
    }
}
