import Foundation

/// `bridgelab compare RUN_A RUN_B …`: finished runs side by side — every arm's KPIs with ratios to
/// the first, percentile spectra overlaid, timelines on one axis (seconds since each swarm started).
public enum RunComparison {
    public struct Column: Sendable {
        public var label: String
        public var arm: RunSummary.Arm
        public var data: ArmData
    }

    /// Every (run, arm) of the given run folders, in order.
    public static func load(_ directories: [String]) throws -> [Column] {
        var columns: [Column] = []
        for directory in directories {
            guard let data = FileManager.default.contents(atPath: directory + "/summary.json") else {
                throw RunnerError("\(directory) has no summary.json: not a finished run (bridgelab report DIR renders one)")
            }
            let summary = try JSONDecoder().decode(RunSummary.self, from: data)
            let label = URL(fileURLWithPath: directory).lastPathComponent
            for arm in summary.arms where !arm.kpis.isEmpty {
                let armData =
                    (try? ArmData.load(from: directory + "/" + Runner.armsFolder + "/" + arm.name))
                    ?? ArmData(record: ArmRecord(name: arm.name, mode: arm.mode, role: arm.role))
                columns.append(Column(label: "\(label) · \(arm.name)", arm: arm, data: armData))
            }
        }
        guard columns.count >= 2 else { throw RunnerError("compare needs at least two arms across the runs given") }
        return columns
    }

    /// Later column ÷ the first, for a KPI both measured.
    static func ratio(_ value: Double?, _ first: Double?) -> String {
        guard let value, let first, first != 0 else { return "" }
        return String(format: "%.2f×", value / first)
    }

    public static func markdown(_ columns: [Column]) -> String {
        var text = "# BridgeLab: comparison\n\nRatios are to the first column (\(columns[0].label)).\n\n"
        text += "| KPI | " + columns.map(\.label).joined(separator: " | ") + " |\n|---|" + columns.map { _ in "---|" }.joined() + "\n"
        for (index, kpi) in KPI.catalog.enumerated() {
            let results = columns.map { $0.arm.kpis.count > index ? $0.arm.kpis[index] : nil }
            guard results.contains(where: { $0?.measured != nil }) else { continue }
            let first = results[0]?.measured
            let cells = results.enumerated().map { offset, result -> String in
                guard let result, let measured = result.measured else { return result?.status.rawValue ?? "-" }
                let mark = result.status == .pass ? "✓" : "✗"
                return "\(Format.number(measured)) \(result.unit) \(mark)" + (offset > 0 ? " (\(ratio(measured, first)))" : "")
            }
            text += "| \(kpi.title) | " + cells.joined(separator: " | ") + " |\n"
        }
        text += "| verdict | " + columns.map { $0.arm.verdict.uppercased() }.joined(separator: " | ") + " |\n"
        return text
    }

    public static func html(_ columns: [Column]) -> String {
        let e = SVGChart.escape
        var html = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>BridgeLab: comparison</title>"
        html += "<style>\(HTMLReport.style)</style></head><body><h1>BridgeLab: comparison</h1>"
        html += "<p class=\"meta\">Ratios are to the first column (\(e(columns[0].label))).</p><table class=\"matrix\"><thead><tr><th>KPI</th>"
        for column in columns { html += "<th>\(e(column.label))</th>" }
        html += "</tr></thead><tbody>"
        for (index, kpi) in KPI.catalog.enumerated() {
            let results = columns.map { $0.arm.kpis.count > index ? $0.arm.kpis[index] : nil }
            guard results.contains(where: { $0?.measured != nil }) else { continue }
            html += "<tr><td>\(e(kpi.title))</td>"
            for (offset, result) in results.enumerated() {
                guard let result, let measured = result.measured else {
                    html += "<td class=\"na\">\(e(result?.status.rawValue ?? "-"))</td>"
                    continue
                }
                let ratio = offset > 0 ? " (\(Self.ratio(measured, results[0]?.measured)))" : ""
                html += "<td class=\"num \(HTMLReport.statusClass(result.status))\">\(e(Format.number(measured) + " " + result.unit + ratio))</td>"
            }
            html += "</tr>"
        }
        html += "</tbody></table>"
        var spectrum = SVGChart(
            title: "End-to-end latency by percentile",
            xLabel: "percentile",
            yLabel: "ms (log)",
            series: columns.compactMap { column in
                let points = column.data.spectra["update"] ?? column.data.spectra["poll_delivery"] ?? []
                return points.isEmpty ? nil : .init(name: column.label, points: points.map { ($0.percentile, $0.value / 1000) })
            }
        )
        spectrum.xAxis = .percentile
        spectrum.logY = true
        html += spectrum.render()
        let cpu = SVGChart(
            title: "Bridge CPU (% of one core, one-second means)",
            xLabel: "seconds since each swarm started",
            yLabel: "%",
            series: columns.map { .init(name: $0.label, points: HTMLReport.perSecond($0.data) { $0.bridgePercent }) }
        )
        html += cpu.render()
        let memory = SVGChart(
            title: "Bridge memory (RSS)",
            xLabel: "seconds since each swarm started",
            yLabel: "MB",
            series: columns.map { column in
                .init(
                    name: column.label,
                    points: SVGChart.thin(column.data.samples.filter(\.bridgeAlive).map { (column.data.axis($0.at), $0.bridgeRSSMB) })
                )
            }
        )
        html += memory.render()
        var latency = SVGChart(
            title: "Latency p99 per second",
            xLabel: "seconds since each swarm started",
            yLabel: "ms (log)",
            series: columns.map { column in
                let t = column.data.timeline["t_s"] ?? []
                let values = column.data.timeline["update_p99_us"] ?? []
                return .init(name: column.label, points: zip(t, values).map { ($0, $1 / 1000) })
            }
        )
        latency.logY = true
        html += latency.render()
        return html + "</body></html>\n"
    }
}
