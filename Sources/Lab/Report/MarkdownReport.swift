import MarketSim

/// `report.md`: the run's verdict, KPI tables, comparisons and key figures, for a terminal, a pull
/// request or a CI job summary. Every number comes from the summary it is given.
public enum MarkdownReport {
    public static func render(_ summary: RunSummary) -> String {
        var text = "# BridgeLab: \(summary.scenario.name) — \(summary.verdict.uppercased())\n\n"
        if !summary.scenario.description.isEmpty { text += summary.scenario.description + "\n\n" }
        let env = summary.environment
        text +=
            "Run \(summary.startedUTC) → \(summary.finishedUTC) · \(env.buildConfiguration) build · commit \(env.commit)\(env.dirty ? " (modified)" : "")"
        text += " · \(env.cpuModel), \(env.cores) cores · Linux \(env.kernel) · \(env.swiftVersion)\n\n"
        for warning in summary.warnings { text += "> **Warning:** \(warning)\n\n" }
        if let scale = summary.scale {
            if let knee = scale.kneeClients {
                text += "**Knee:** \(knee) clients held every KPI"
                text += scale.brokenAt.map { "; \($0) clients broke \(scale.brokenBy.joined(separator: ", "))." } ?? " (no step broke)."
                text += "\n\n"
            } else {
                text += "**Knee:** none — the first step already broke \(scale.brokenBy.joined(separator: ", ")).\n\n"
            }
        }
        if !summary.comparisons.isEmpty {
            text += "## Side by side\n\n"
            for comparison in summary.comparisons { text += "- \(comparison.sentence)\n" }
            text += "\n"
        }
        if let (table, note) = informationTable(summary) {
            text += "## At equal information\n\n" + table + (note.map { "\n" + $0 + "\n" } ?? "") + "\n"
        }
        for arm in summary.arms { text += armSection(arm) }
        text += "## Files\n\n`summary.json` (this report's numbers), `report.html`, and per arm in `arms/NAME/`: `samples.csv` (bridge, generator, "
        text += "simulator and machine every 100 ms), `health.csv`, `metrics/*.prom` (every /metrics scrape), `loadgen/summary.json`, "
        text +=
            "`loadgen/timeline.csv`, `loadgen/*.hgrm`, and the bridge's, simulator's and loadgen's logs. `bridgelab report DIR` renders this again.\n"
        return text
    }

    static func armSection(_ arm: RunSummary.Arm) -> String {
        var text = "## \(arm.name) — \(arm.mode), \(arm.role.rawValue): \(arm.verdict.uppercased())\n\n"
        text +=
            "\(arm.clients) clients (\(arm.kinds.sorted { $0.key < $1.key }.map { "\($0.key) \(Format.number($0.value))" }.joined(separator: ", ")))"
        text += arm.status == .completed ? "\n\n" : " · status: \(arm.status.rawValue)\(arm.error.map { " — \($0)" } ?? "")\n\n"
        for warning in arm.warnings { text += "> **Warning:** \(warning)\n\n" }
        if let failure = arm.failure {
            text += failure.failed ? "**Failed:** \(failure.why).\n\n" : "Survived: \(failure.why).\n\n"
            for line in failure.evidence { text += "- \(line)\n" }
            if !failure.evidence.isEmpty { text += "\n" }
        }
        guard !arm.kpis.isEmpty else { return text }
        text += "| KPI | plan target | measured | plan | BridgeLab target | BridgeLab | how |\n|---|---|---|---|---|---|---|\n"
        for kpi in arm.kpis {
            let measured = kpi.measured.map { "\(Format.number($0)) \(kpi.unit)" } ?? "—"
            let labStatus = kpi.status == .pass || kpi.status == .fail ? mark(kpi.labStatus) : ""
            text +=
                "| \(kpi.title) | \(kpi.target(kpi.plan)) | \(measured) | \(mark(kpi.status)) | \(kpi.target(kpi.lab)) | \(labStatus) | \(kpi.note) |\n"
        }
        text += "\n" + figuresTable(arm.figures) + "\n"
        return text
    }

    /// What each arm's clients got beside what it cost: a CPU ratio means something only between
    /// arms that deliver the same (docs/SCENARIOS.md). The table, and which arm the CPU KPI is
    /// judged on; nil with fewer than two arms to set side by side.
    static func informationTable(_ summary: RunSummary) -> (table: String, note: String?)? {
        let arms = summary.arms.filter { $0.figures.information != nil }
        guard arms.count >= 2 else { return nil }
        func value(_ number: Double?, _ unit: String = "") -> String { number.map { "\(Format.number($0))\(unit)" } ?? "—" }
        var text = "| arm | clients want | updates per client per second | freshness p50 / p99 (write → first message carrying it) "
        text += "| trades per client per second | bars per client per second | bridge CPU | CPU per client |\n|---|---|---|---|---|---|---|---|\n"
        for arm in arms {
            guard let info = arm.figures.information else { continue }
            let fresh =
                info.freshness.map { "\(value($0.p50.map { Double($0) / 1000 }, " ms")) / \(value($0.p99.map { Double($0) / 1000 }, " ms"))" } ?? "—"
            let perClient = arm.figures.bridgeCPU.map { $0 / Double(max(1, arm.clients)) }
            let name = arm.name + (info.matchesBaseline ? " (matches the baselines)" : "")
            text += "| \(name) | \(info.wants) | \(value(info.updatesPerClientSecond)) | \(fresh) | \(value(info.tradesPerClientSecond)) | "
            text += "\(value(info.barsPerClientSecond)) | \(value(arm.figures.bridgeCPU, " % of a core")) | \(value(perClient, " %")) |\n"
        }
        let note = arms.first { $0.figures.information?.matchesBaseline == true }.map { matching in
            "The plan's CPU comparison is judged on \(matching.name): its clients get the latest state as often as the pollers ask. "
                + "An arm that sends every update or bars delivers other information; its CPU is shown, not judged against the pollers."
        }
        return (text, note)
    }

    static func mark(_ status: KPIResult.Status) -> String {
        switch status {
        case .pass: return "✅ pass"
        case .fail: return "❌ FAIL"
        case .notApplicable: return "n/a"
        case .notMeasured: return "⚠️ not measured"
        }
    }

    /// Who spent what, and where the time goes.
    static func figuresTable(_ f: ArmFigures) -> String {
        func value(_ number: Double?, _ unit: String) -> String { number.map { "\(Format.number($0)) \(unit)" } ?? "—" }
        func ms(_ micros: Int?) -> String { micros.map { "\(Format.number(Double($0) / 1000)) ms" } ?? "—" }
        func spread(_ p: LoadgenReport.Percentiles?) -> String {
            guard let p else { return "—" }
            return "\(ms(p.p50)) / \(ms(p.p99)) / \(ms(p.p99_9)) / \(ms(p.max)) (\(p.count))"
        }
        var files = (f.dataFiles ?? [:]).sorted { $0.key < $1.key }.map { name, file in
            "\(name) \(Format.number(Double(file.bytes) / 1e6)) MB (\(Format.number(Double(file.records))) records)"
        }
        if let all = f.dataFiles, all.count > 8 {
            // A trader's folder: the count and the size, and the largest files by name.
            let bytes = all.values.map(\.bytes).reduce(0, +)
            let records = all.values.map(\.records).reduce(0, +)
            let largest = all.sorted { $0.value.bytes > $1.value.bytes }.prefix(3).map {
                "\($0.key) \(Format.number(Double($0.value.bytes) / 1e6)) MB"
            }
            files = [
                "\(all.count) files, \(Format.number(Double(bytes) / 1e6)) MB, \(Format.number(Double(records))) records; largest \(largest.joined(separator: ", "))"
            ]
        }
        var rows: [(String, String)] = [
            ("data files when the bridge started", files.isEmpty ? "—" : files.joined(separator: " · ")),
            ("bridge CPU (user + system)", "\(value(f.bridgeCPU, "% of a core")) (\(value(f.bridgeCPUUser, "")) + \(value(f.bridgeCPUSystem, "")))"),
            (
                "bridge memory peak · final · threads · descriptors",
                "\(value(f.bridgePeakRSSMB, "MB")) · \(value(f.bridgeFinalRSSMB, "MB")) · \(f.bridgeMaxThreads.map(String.init) ?? "—") · \(f.bridgeMaxDescriptors.map(String.init) ?? "—")"
            ),
            ("generator (loadgen) CPU · memory", "\(value(f.loadgenCPU, "% of a core")) · \(value(f.loadgenPeakRSSMB, "MB"))"),
            ("simulator CPU · machine CPU (all cores)", "\(value(f.simulatorCPU, "% of a core")) · \(value(f.machineCPU, "%"))"),
            (
                "messages sent by the bridge" + (f.messagesCountedByClients ? " (client side: received by the swarm)" : ""),
                value(f.bridgeMessagesPerSecond, "/s")
            ),
            (
                "CPU per message: bridge (sent) · generator (received)",
                "\(value(f.bridgeMicrosecondsPerMessage, "µs")) · \(value(f.loadgenMicrosecondsPerMessage, "µs"))"
            ),
            ("write → decode p50 / p99 / p99.9 / max (count)", spread(f.updateLatency)),
            ("  of which inside the bridge: wake → queued p50 / p99", "≤ \(value(f.detectToSendP50, "ms")) / ≤ \(value(f.detectToSendP99, "ms"))"),
            (
                "  and queued → written to the socket (oldest message per write) p50 / p99",
                "≤ \(value(f.queuedToWrittenP50, "ms")) / ≤ \(value(f.queuedToWrittenP99, "ms"))"
            ),
            (
                "connections at most · bridge memory per connection",
                "\(f.peakConnections.map(String.init) ?? "—") · \(value(f.bridgeMemoryPerConnectionKB, "KB"))"
            ),
            (
                "connections closed · memory kept per closed connection",
                "\(f.connectionsClosed.map(String.init) ?? "—") · \(value(f.memoryKeptPerClosedConnectionKB, "KB"))"
            ),
            (
                "  memory against connections closed, after warm-up (slope ± 95 %)",
                f.memoryPerClosedTrend.map { String(format: "%.3f ± %.3f KB per closed connection", $0.slope * 1024, $0.slopeMargin * 1024) } ?? "—"
            ),
            (
                "clients want · updates per client per second",
                "\(f.information?.wants ?? "—") · \(value(f.information?.updatesPerClientSecond, "/s"))"
            ),
            ("freshness: write → first message carrying it p50 / p99 / p99.9 / max", spread(f.information?.freshness)),
            (
                "message bytes: snapshot · quote · depth · stats deltas",
                "\(value(f.snapshotBytes, "B")) · \(value(f.deltaBytes["quote"], "B")) · \(value(f.deltaBytes["depth"], "B")) · \(value(f.deltaBytes["stats"], "B"))"
            ),
            ("poll request (from intended send) p50 / p99 / p99.9 / max", spread(f.pollRequest)),
            ("poll delivery (write → first answer carrying it) p50 / p99 / p99.9 / max", spread(f.pollDelivery)),
            ("poll staleness (age of the newest record received) p50 / p99 / p99.9 / max", spread(f.pollStaleness)),
            ("client requests in the window · per hour", "\(value(f.clientRequests, "")) · \(value(f.requestsPerHour, "/h"))"),
            ("/health answered · p99", "\(f.healthAnswered)/\(f.healthProbes) · \(value(f.healthP99Milliseconds, "ms"))"),
            (
                "sockets at most: ESTABLISHED · CLOSE_WAIT · TIME_WAIT",
                "\(f.maxSockets["ESTABLISHED"] ?? 0) · \(f.maxSockets["CLOSE_WAIT"] ?? 0) · \(f.maxSockets["TIME_WAIT"] ?? 0)"
            ),
        ]
        // Where the time goes, stage by stage (a bridge run with --trace-timestamps).
        for (stage, title) in [
            ("stage_write_to_wake", "  stage 1, write → the bridge wakes (detection)"),
            ("stage_wake_to_queued", "  stage 2, wake → queued (read, state, encode, fan-out)"),
            ("stage_queued_to_decoded", "  stage 3, queued → decoded (queue, socket, network, client)"),
        ] {
            if let p = f.stages[stage] { rows.append(("\(title) p50 / p99 / p99.9 / max (count)", spread(p))) }
        }
        if let trend = f.memoryTrend {
            rows.append(("memory trend after warm-up", String(format: "%+.3f ± %.3f MB/min", trend.slope, trend.slopeMargin)))
        }
        for cost in f.requestCosts {
            let rounds = cost.rounds.compactMap(\.cpuMicrosecondsPerRequest).map { Format.number($0) }.joined(separator: ", ")
            rows.append(
                (
                    "GET \(cost.path) ×\(cost.requests) with \(cost.openConnections) connections open (each on a new connection): answer p50 / p99 / p99.9 / max · bridge CPU per request (median round; the rounds)",
                    "\(spread(cost.answer))\(cost.failures > 0 ? ", \(cost.failures) failed" : "") · \(value(cost.cpuMicrosecondsPerRequest, "µs"))"
                        + " (\(rounds.isEmpty ? "—" : rounds) µs; background \(value(cost.backgroundPercent, "% of a core")) taken off)"
                )
            )
        }
        if let cpu = f.idleCPU {
            rows.insert(
                (
                    "bridge with no client (\(value(f.idleSeconds, "s")) before the swarm; the runner's /health and /metrics probes included): CPU · memory · descriptors",
                    "\(value(cpu, "% of a core")) · \(value(f.idleRSSMB, "MB")) · \(f.idleDescriptors.map(String.init) ?? "—")"
                ),
                at: 1
            )
        }
        if f.foreignBridge != nil || f.profile != nil {
            var rows2: [(String, String)] = []
            if let command = f.foreignBridge {
                rows2.append(
                    (
                        "bridge measured (its own command; CPU and memory of its whole process tree)",
                        "`\(command)` · \(f.bridgeMaxProcesses.map { "\($0) process\($0 == 1 ? "" : "es") at most" } ?? "—")"
                    )
                )
            }
            if let profile = f.profile {
                let how: String
                switch f.matchedBy {
                case "order":
                    how = "trades matched to records by the order of prices and sizes (the bridge sends no record time): latency is matched by order"
                case "seq": how = "trades matched to records by the seq the bridge sends"
                default: how = "trades matched to records by time, price and size"
                }
                rows2.append(("read through profile", "\(profile): \(how); \(f.unmatchedTrades.map(String.init) ?? "—") trades matched no record"))
            }
            for problem in f.profileProblems { rows2.append(("profile problem", problem)) }
            rows.insert(contentsOf: rows2, at: 0)
        }
        if let replay = f.replay {
            let pace = replay.speed == 0 ? "as fast as it could" : "at \(Format.number(replay.speed))× real time"
            let window = replay.windowStart.map { " from \(ISOTime.format($0))" } ?? ""
            let loops = replay.loops > 0 ? ", \(replay.loops) loops" : ""
            rows.insert(("market replayed", "\(replay.source)\(window), \(pace): \(Format.number(Double(replay.records))) records\(loops)"), at: 1)
            if let lag = replay.lag {
                rows.insert(
                    (
                        "replay behind its schedule p50 / p99 / max (writes)",
                        "\(ms(Int(lag.p50Microseconds))) / \(ms(Int(lag.p99Microseconds))) / \(ms(Int(lag.maxMicroseconds))) (\(lag.writes))"
                    ),
                    at: 2
                )
            }
        }
        return "| figure | value |\n|---|---|\n" + rows.map { "| \($0.0) | \($0.1) |" }.joined(separator: "\n") + "\n"
    }
}
