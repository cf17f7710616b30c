import Foundation

/// `report.html`: one self-contained file (no network, opens from disk) with the KPI tables on
/// top and SVG charts below. Written as well-formed XHTML so that it can be checked by a parser.
public enum HTMLReport {
    public static func render(_ summary: RunSummary, arms: [ArmData]) -> String {
        let e = SVGChart.escape
        var html = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
        html += "<title>BridgeLab: \(e(summary.scenario.name)) — \(summary.verdict)</title><style>\(style)</style></head><body>"
        html +=
            "<header><h1>BridgeLab: \(e(summary.scenario.name)) <span class=\"verdict \(summary.verdict)\">\(summary.verdict.uppercased())</span></h1>"
        if !summary.scenario.description.isEmpty { html += "<p>\(e(summary.scenario.description))</p>" }
        html += "<p class=\"meta\">\(e(summary.startedUTC)) → \(e(summary.finishedUTC)) · exit code \(summary.exitCode)</p></header>"
        for warning in summary.warnings { html += "<p class=\"warning\">⚠ \(e(warning))</p>" }
        if let scale = summary.scale {
            let knee = scale.kneeClients.map { "\($0) clients held every KPI" } ?? "no step held every KPI"
            let broke = scale.brokenAt.map { "; \($0) clients broke: \(scale.brokenBy.joined(separator: ", "))" } ?? ""
            html += "<p class=\"knee\"><strong>Knee:</strong> \(e(knee + broke))</p>"
        }
        if !summary.comparisons.isEmpty {
            html += "<section><h2>Side by side</h2><ul>"
            for comparison in summary.comparisons { html += "<li>\(e(comparison.sentence))</li>" }
            html += "</ul></section>"
        }
        if let (table, note) = MarkdownReport.informationTable(summary) {
            html += "<section><h2>At equal information</h2>" + markdownTableToHTML(table)
            if let note { html += "<p>\(e(note))</p>" }
            html += "</section>"
        }
        html += "<section><h2>KPIs at a glance</h2>" + matrix(summary) + "</section>"
        html += charts(summary, arms: arms)
        html += "<section><h2>Each arm in detail</h2>"
        for arm in summary.arms {
            html += "<details\(arm.verdict == "pass" ? "" : " open=\"open\"")><summary>\(e(arm.name)): \(e(arm.verdict.uppercased()))</summary>"
            html += kpiTable(arm)
            if !arm.kpis.isEmpty { html += "<h4>Key figures</h4>" + markdownTableToHTML(MarkdownReport.figuresTable(arm.figures)) }
            html += "</details>"
        }
        html += "</section>"
        html += environment(summary)
        html += "</body></html>\n"
        return html
    }

    static let style = """
        :root{color-scheme:light dark;--fg:#111;--bg:#fff;--muted:#666;--line:#ddd;--pass:#15803d;--fail:#b91c1c;--na:#777}
        @media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#111;--muted:#aaa;--line:#333;--pass:#4ade80;--fail:#f87171;--na:#999}}
        body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:16px}
        h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid var(--line)}h3{font-size:15px}
        table{border-collapse:collapse;margin:8px 0 16px;width:100%}td,th{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
        td.num{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap}
        .pass{color:var(--pass);font-weight:600}.fail{color:var(--fail);font-weight:700}.na{color:var(--na)}.notmeasured{color:var(--fail)}
        .verdict{font-size:14px;padding:2px 8px;border-radius:4px;border:1px solid currentColor}.verdict.pass{color:var(--pass)}.verdict.fail,.verdict.error{color:var(--fail)}
        .warning{color:var(--fail);border:1px solid var(--fail);padding:6px 10px;border-radius:4px}
        table.matrix td.pass{background:color-mix(in srgb,var(--pass) 12%,transparent)}
        table.matrix td.fail,table.matrix td.notmeasured{background:color-mix(in srgb,var(--fail) 14%,transparent)}
        details{margin:8px 0}summary{cursor:pointer;font-weight:600;padding:4px 0}
        .meta,.note{color:var(--muted)}svg.chart{max-width:100%;height:auto;display:block;margin:8px 0 18px}
        svg.chart text{font:11px system-ui,sans-serif;fill:var(--fg)}svg.chart .chart-title{font-weight:600;font-size:13px}
        svg.chart .axis line{stroke:var(--muted)}svg.chart line.grid{stroke:var(--line)}svg.chart .chart-empty{fill:var(--muted)}
        """

    /// KPIs down, arms across: the whole verdict in one table.
    static func matrix(_ summary: RunSummary) -> String {
        let e = SVGChart.escape
        let arms = summary.arms.filter { !$0.kpis.isEmpty }
        guard !arms.isEmpty else { return "<p class=\"note\">No arm ran.</p>" }
        var html = "<table class=\"matrix\"><thead><tr><th>KPI</th><th>plan target</th>"
        for arm in arms {
            html +=
                "<th>\(e(arm.name))<br/><span class=\"note\">\(e(arm.mode)), \(arm.clients) clients\(arm.role == .baseline ? ", baseline" : "")</span></th>"
        }
        html += "</tr></thead><tbody>"
        for (index, kpi) in KPI.catalog.enumerated() {
            let results = arms.map { $0.kpis[index] }
            guard results.contains(where: { $0.status != .notApplicable }) else { continue }
            html += "<tr><td>\(e(kpi.title))</td><td class=\"num\">\(e(results[0].target(results[0].plan)))</td>"
            for (arm, result) in zip(arms, results) {
                let text = result.measured.map { Format.number($0) + " " + result.unit } ?? (result.status == .notMeasured ? "not measured" : "n/a")
                html += "<td class=\"num measured \(statusClass(result.status))\" data-arm=\"\(e(arm.name))\" data-kpi=\"\(result.id)\" "
                html += "data-value=\"\(result.measured.map { String($0) } ?? "")\" title=\"\(e(result.note))\">\(e(text))"
                html += result.status == .pass ? " ✓" : result.status == .fail || result.status == .notMeasured ? " ✗" : ""
                html += "</td>"
            }
            html += "</tr>"
        }
        if arms.contains(where: { $0.failure?.failed == true }) {
            html += "<tr><td>Bridge failed</td><td class=\"num\">never</td>"
            for arm in arms {
                let failed = arm.failure?.failed == true
                let text = failed ? "at \(Format.number(arm.failure?.at ?? 0)) s" : "no"
                html += "<td class=\"num \(failed ? "fail" : "pass")\" title=\"\(e(arm.failure?.why ?? ""))\">\(text)\(failed ? " ✗" : " ✓")</td>"
            }
            html += "</tr>"
        }
        html += "<tr><th>verdict</th><td></td>"
        for arm in arms { html += "<th class=\"\(arm.verdict == "pass" ? "pass" : "fail")\">\(e(arm.verdict.uppercased()))</th>" }
        html += "</tr></tbody></table><p class=\"note\">Baselines are judged too but do not decide the exit status. "
        return html + "Hover a cell for how it was measured; each arm's details, with BridgeLab's tighter targets, are below.</p>"
    }

    static func statusClass(_ status: KPIResult.Status) -> String {
        switch status {
        case .pass: return "pass"
        case .fail: return "fail"
        case .notApplicable: return "na"
        case .notMeasured: return "notmeasured"
        }
    }

    static func kpiTable(_ arm: RunSummary.Arm) -> String {
        let e = SVGChart.escape
        var html = "<h3 id=\"arm-\(e(arm.name))\">\(e(arm.name)) — \(e(arm.mode)), \(arm.role.rawValue), \(arm.clients) clients: "
        html += "<span class=\"\(arm.verdict == "pass" ? "pass" : "fail")\">\(e(arm.verdict.uppercased()))</span></h3>"
        if let error = arm.error { html += "<p class=\"warning\">\(e(error))</p>" }
        for warning in arm.warnings { html += "<p class=\"warning\">⚠ \(e(warning))</p>" }
        if let failure = arm.failure {
            html +=
                failure.failed
                ? "<p class=\"warning\"><strong>Failed:</strong> \(e(failure.why)).</p>" : "<p class=\"pass\">Survived: \(e(failure.why)).</p>"
            if !failure.evidence.isEmpty { html += "<ul class=\"evidence\">" + failure.evidence.map { "<li>\(e($0))</li>" }.joined() + "</ul>" }
        }
        guard !arm.kpis.isEmpty else { return html + "<p class=\"note\">No KPIs: the arm did not run.</p>" }
        html += "<table class=\"kpis\"><thead><tr><th>KPI</th><th>plan target</th><th>measured</th><th>plan</th>"
        html += "<th>BridgeLab target</th><th>BridgeLab</th><th>how</th></tr></thead><tbody>"
        for kpi in arm.kpis {
            let measured = kpi.measured.map { Format.number($0) + " " + kpi.unit } ?? "—"
            html += "<tr data-kpi=\"\(kpi.id)\"><td>\(e(kpi.title))</td><td class=\"num\">\(e(kpi.target(kpi.plan)))</td>"
            html += "<td class=\"num\">\(e(measured))</td>"
            html += "<td class=\"\(statusClass(kpi.status))\">\(kpi.status.rawValue)</td><td class=\"num\">\(e(kpi.target(kpi.lab)))</td>"
            let labStatus = kpi.status == .pass || kpi.status == .fail ? kpi.labStatus : .notApplicable
            html +=
                "<td class=\"\(statusClass(labStatus))\">\(labStatus == .notApplicable ? "" : labStatus.rawValue)</td><td class=\"note\">\(e(kpi.note))</td></tr>"
        }
        return html + "</tbody></table>"
    }

    // MARK: - Charts

    static func charts(_ summary: RunSummary, arms: [ArmData]) -> String {
        let ran = arms.filter { !$0.samples.isEmpty || $0.loadgen != nil }
        guard !ran.isEmpty else { return "" }
        var html = "<section><h2>Charts</h2>"
        // Latency spectrum: pushed updates, or pollers' staleness.
        let spectra = ran.compactMap { arm -> SVGChart.Series? in
            if let points = arm.spectra["update"], !points.isEmpty {
                return .init(name: "\(arm.record.name) (write → decode)", points: points.map { ($0.percentile, $0.value / 1000) })
            }
            if let points = arm.spectra["poll_delivery"], !points.isEmpty {
                return .init(name: "\(arm.record.name) (poll delivery)", points: points.map { ($0.percentile, $0.value / 1000) }, dashed: true)
            }
            return nil
        }
        var spectrum = SVGChart(title: "End-to-end latency by percentile", xLabel: "percentile", yLabel: "ms (log)", series: spectra)
        spectrum.xAxis = .percentile
        spectrum.logY = true
        html += spectrum.render()

        let markers = ran.count == 1 ? markers(ran[0]) : []
        func timeChart(_ title: String, _ yLabel: String, _ series: [SVGChart.Series], logY: Bool = false) -> String {
            var chart = SVGChart(title: title, xLabel: "seconds since the swarm started", yLabel: yLabel, series: series)
            chart.markers = markers
            chart.logY = logY
            return chart.render()
        }
        html += timeChart(
            "Latency p99 per second (updates; pollers: request from intended send)",
            "ms (log)",
            ran.map { arm in
                let t = arm.timeline["t_s"] ?? []
                let updates = arm.timeline["update_p99_us"] ?? []
                let polls = arm.timeline["poll_p99_us"] ?? []
                let useUpdates = updates.contains { $0.isFinite }
                let values = useUpdates ? updates : polls
                return .init(name: arm.record.name, points: zip(t, values).map { ($0, $1 / 1000) }, dashed: !useUpdates)
            },
            logY: true
        )
        html += timeChart(
            "Bridge CPU (% of one core, one-second means)",
            "%",
            ran.map { arm in .init(name: arm.record.name, points: perSecond(arm) { $0.bridgePercent }) }
        )
        html += timeChart(
            "Bridge memory (RSS)",
            "MB",
            ran.map { arm in
                .init(name: arm.record.name, points: SVGChart.thin(arm.samples.filter(\.bridgeAlive).map { (arm.axis($0.at), $0.bridgeRSSMB) }))
            }
        )
        html += timeChart(
            "Messages sent by the bridge per second",
            "messages/s",
            ran.map { arm in .init(name: arm.record.name, points: rates(arm, \.messagesSent)) }
        )
        html += timeChart(
            "Client HTTP requests per second",
            "requests/s",
            ran.map { arm in .init(name: arm.record.name, points: rates(arm, \.clientRequests)) }
        )
        if ran.contains(where: { !$0.record.requestCosts.isEmpty }) {
            var chart = SVGChart(
                title: "/health answer time against open connections (the runner's probe every 500 ms)",
                xLabel: "connections open on the bridge's port (ESTABLISHED)",
                yLabel: "ms (log)",
                series: ran.map { .init(name: $0.record.name, points: healthAgainstConnections($0)) }
            )
            chart.logY = true
            html += chart.render()
        }
        for arm in ran {
            html += "<h3>\(SVGChart.escape(arm.record.name))</h3>"
            var chart = SVGChart(
                title: "\(arm.record.name): who used the CPU (one-second means)",
                xLabel: "seconds since the swarm started",
                yLabel: "% of one core",
                series: [
                    .init(name: "bridge", points: perSecond(arm) { $0.bridgePercent }),
                    .init(name: "loadgen", points: perSecond(arm) { $0.loadgenPercent }, dashed: true),
                    .init(name: "simulator", points: perSecond(arm) { $0.simulatorPercent }, dashed: true),
                    .init(
                        name: "machine (all cores, %)",
                        points: perSecond(arm) { $0.machinePercent },
                        dashed: true
                    ),
                ]
            )
            chart.markers = self.markers(arm)
            html += chart.render()
            var sockets = SVGChart(
                title: "\(arm.record.name): connections and descriptors",
                xLabel: "seconds since the swarm started",
                yLabel: "count",
                series: ["ESTABLISHED", "CLOSE_WAIT", "TIME_WAIT"].map { state in
                    .init(name: state, points: SVGChart.thin(arm.samples.map { (arm.axis($0.at), Double($0.sockets[state])) }))
                } + [
                    .init(
                        name: "descriptors",
                        points: SVGChart.thin(arm.samples.map { (arm.axis($0.at), Double($0.bridgeDescriptors)) }),
                        dashed: true
                    )
                ]
            )
            sockets.markers = self.markers(arm)
            if let limit = arm.record.launch.descriptorLimit {
                sockets.levels = [SVGChart.Marker(x: Double(limit), label: "descriptor limit \(limit)", color: "#dc2626")]
            }
            html += sockets.render()
        }
        return html + "</section>"
    }

    /// Each answered `/health` probe at the connections open when it was sent (the sample just
    /// before it), ordered by connections.
    static func healthAgainstConnections(_ arm: ArmData) -> [(x: Double, y: Double)] {
        let samples = arm.samples.filter(\.bridgeAlive)
        guard !samples.isEmpty else { return [] }
        var index = 0
        var points: [(x: Double, y: Double)] = []
        for probe in arm.health.sorted(by: { $0.at < $1.at }) {
            guard let ms = probe.milliseconds else { continue }
            while index + 1 < samples.count, samples[index + 1].at <= probe.at { index += 1 }
            points.append((Double(samples[index].sockets["ESTABLISHED"]), ms))
        }
        return points.sorted { $0.x < $1.x }
    }

    /// A sampled figure as one-second means on the time axis (thinned for long runs).
    static func perSecond(_ arm: ArmData, _ value: (ResourceSample) -> Double) -> [(x: Double, y: Double)] {
        SVGChart.thin(SVGChart.average(arm.samples.map { (arm.axis($0.at), value($0)) }, over: 1))
    }

    /// A counter's rate between consecutive scrapes, on the time axis.
    static func rates(_ arm: ArmData, _ value: KeyPath<MetricsReading, Double>) -> [(x: Double, y: Double)] {
        zip(arm.metrics.dropFirst(), arm.metrics).compactMap { later, earlier in
            let seconds = Double(later.at - earlier.at) / 1e6
            guard seconds > 0, later[keyPath: value] >= earlier[keyPath: value] else { return nil }
            return (arm.axis(later.at), (later[keyPath: value] - earlier[keyPath: value]) / seconds)
        }
    }

    static func markers(_ arm: ArmData) -> [SVGChart.Marker] {
        arm.record.markers.map { marker in
            let color: String
            switch marker.kind {
            case .crash, .hang: color = "#dc2626"
            case .fault: color = "#ea580c"
            case .event: color = "#9333ea"
            case .restart: color = "#16a34a"
            case .phase: color = "#888888"
            }
            return SVGChart.Marker(x: arm.axis(marker.at), label: marker.label, color: color)
        }
    }

    static func environment(_ summary: RunSummary) -> String {
        let e = SVGChart.escape
        let env = summary.environment
        let build = env.buildConfiguration == "release" ? "release" : "<span class=\"fail\">\(e(env.buildConfiguration)) — not a release build</span>"
        var html = "<section><h2>Environment</h2><table><tbody>"
        let rows: [(String, String)] = [
            ("CPU", e("\(env.cpuModel) × \(env.cores) cores, \(Format.number(env.memoryGB)) GB")), ("kernel", e(env.kernel)),
            ("Swift", e(env.swiftVersion)), ("commit", e(env.commit + (env.dirty ? " (modified)" : ""))), ("build", build),
            ("scenario file", e(summary.scenarioFile)), ("host", e(env.hostname)),
        ]
        for (name, value) in rows { html += "<tr><th>\(name)</th><td>\(value)</td></tr>" }
        html +=
            "</tbody></table><p class=\"note\">Raw data beside this file: summary.json, arms/NAME/samples.csv, health.csv, metrics/*.prom, loadgen/summary.json, timeline.csv, *.hgrm and the logs.</p></section>"
        return html
    }

    /// The Markdown figures table as HTML (one source for both reports).
    static func markdownTableToHTML(_ markdown: String) -> String {
        var html = "<table class=\"figures\"><tbody>"
        for line in markdown.split(separator: "\n").dropFirst(2) {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count == 2 else { continue }
            html += "<tr><th>\(SVGChart.escape(cells[0]))</th><td class=\"num\">\(SVGChart.escape(cells[1]))</td></tr>"
        }
        return html + "</tbody></table>"
    }
}
