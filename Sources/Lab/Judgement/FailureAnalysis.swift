/// Whether an arm's bridge failed, when and why, from what was sampled: a crash (exit or signal),
/// a hang (no `/health` answer for 5 s), unanswered probes, and the evidence around them —
/// descriptors at the limit, CLOSE_WAIT piling up, memory growing, clients' errors.
public struct FailureAnalysis: Sendable, Codable, Equatable {
    public var failed: Bool
    /// Seconds since the swarm started, of the first sign of failure.
    public var at: Double?
    public var why: String
    public var evidence: [String]

    /// A poll's median wait from its intended send beyond which the pollers are said to have fallen
    /// behind: four intervals at the plan's 4 requests/s.
    static let pollerBehindMicroseconds = 1_000_000

    static func analyze(_ arm: ArmData, _ f: ArmFigures) -> FailureAnalysis {
        let record = arm.record
        func t(_ at: Int64) -> String { Format.number(arm.axis(at)) + " s" }
        var signs: [(at: Int64, why: String)] = []
        for crash in record.crashes { signs.append((crash.at, "the bridge \(crash.description)")) }
        for hang in record.hangs where !record.injectedOutage(at: hang) {
            signs.append((hang, "the bridge answered /health for the last time before a silence of 5 s or more (a hang)"))
        }
        let probes = arm.health.filter { $0.at >= record.swarmStart && $0.at <= record.swarmEnd && !record.injectedOutage(at: $0.at) }
        let unanswered = probes.filter { $0.milliseconds == nil }
        if let first = unanswered.first, Double(unanswered.count) / Double(max(1, probes.count)) > 0.001 {
            signs.append((first.at, "/health went unanswered"))
        }
        // Pollers that wait seconds for an answer have a bridge that cannot keep up, even if it lives.
        if let request = f.pollRequest, let p50 = request.p50, p50 >= Self.pollerBehindMicroseconds {
            let saturated = arm.samples.first { $0.at >= record.swarmStart && $0.bridgeAlive && $0.machinePercent >= 95 }
            signs.append(
                (
                    saturated?.at ?? record.swarmStart,
                    "the pollers fell behind: a poll waited \(Format.number(Double(p50) / 1e6)) s at p50 and "
                        + "\(Format.number(Double(request.p99 ?? p50) / 1e6)) s at p99 from its intended send (\(request.count) answered)"
                        + (saturated.map { _ in ", with every core busy" } ?? "")
                )
            )
        }
        var evidence: [String] = record.outages.map {
            "an outage the runner injected (SIGKILL and restart) from \(t($0.from)) to \(t($0.to)), left out"
        }
        if !unanswered.isEmpty {
            evidence.append("\(unanswered.count) of \(probes.count) /health probes unanswered, the first at \(t(unanswered[0].at))")
        }
        let alive = arm.samples.filter(\.bridgeAlive)
        if let peak = alive.max(by: { $0.bridgeDescriptors < $1.bridgeDescriptors }) {
            if let limit = record.launch.descriptorLimit {
                let near = alive.first { Double($0.bridgeDescriptors) >= 0.95 * Double(limit) }
                evidence.append(
                    near.map { "descriptors reached \($0.bridgeDescriptors) of the limit \(limit) at \(t($0.at))" }
                        ?? "descriptors peaked at \(peak.bridgeDescriptors) of the limit \(limit) (at \(t(peak.at)))"
                )
            } else {
                evidence.append("descriptors peaked at \(peak.bridgeDescriptors) (at \(t(peak.at)))")
            }
        }
        if let closeWait = alive.max(by: { $0.sockets["CLOSE_WAIT"] < $1.sockets["CLOSE_WAIT"] }), closeWait.sockets["CLOSE_WAIT"] > 0 {
            evidence.append("CLOSE_WAIT sockets peaked at \(closeWait.sockets["CLOSE_WAIT"]) (at \(t(closeWait.at)))")
        }
        if let established = alive.max(by: { $0.sockets["ESTABLISHED"] < $1.sockets["ESTABLISHED"] }) {
            evidence.append("ESTABLISHED connections peaked at \(established.sockets["ESTABLISHED"]) (at \(t(established.at)))")
        }
        if let cpu = f.bridgeCPU, let machine = f.machineSaturatedShare, machine > 0.5 {
            evidence.append(
                "the bridge used \(Format.number(cpu)) % of a core; every core was busy in \(Format.number(machine * 100)) % of the samples"
            )
        }
        if let peak = f.bridgePeakRSSMB, peak > 100 {
            evidence.append("resident memory peaked at \(Format.number(peak)) MB (the plan's limit is 100 MB)")
        }
        if let trend = f.memoryTrend, trend.lower > 1 {
            evidence.append(String(format: "memory grew %.1f ± %.1f MB/min", trend.slope, trend.slopeMargin))
        }
        if let loadgen = arm.loadgen {
            let refused = loadgen.http.status.filter { $0.key != "200" }.values.reduce(0, +)
            if refused > 0 {
                evidence.append(
                    "\(refused) client requests answered with an error ("
                        + loadgen.http.status.filter { $0.key != "200" }.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key)" }.joined(
                            separator: ", "
                        )
                        + ")"
                )
            }
            let errors = loadgen.errors.values.reduce(0, +)
            if errors > 0 {
                evidence.append(
                    "\(errors) client errors (" + loadgen.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                        + ")"
                )
            }
        }
        guard let first = signs.min(by: { $0.at < $1.at }) else {
            return FailureAnalysis(failed: false, at: nil, why: "the bridge served throughout", evidence: evidence)
        }
        return FailureAnalysis(
            failed: true,
            at: arm.axis(first.at),
            why: signs.sorted { $0.at < $1.at }.map { "\($0.why) at \(t($0.at))" }.joined(separator: "; "),
            evidence: evidence
        )
    }
}
