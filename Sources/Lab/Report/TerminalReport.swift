/// The KPI table as the terminal shows it at the end of a run: KPIs down, arms across.
public enum TerminalReport {
    public static func render(_ summary: RunSummary) -> String {
        let arms = summary.arms.filter { !$0.kpis.isEmpty }
        var rows: [[String]] = [["KPI", "plan target"] + arms.map { "\($0.name)\($0.role == .baseline ? " (baseline)" : "")" }]
        for (index, kpi) in KPI.catalog.enumerated() {
            let results = arms.map { $0.kpis[index] }
            guard results.contains(where: { $0.status != .notApplicable }) else { continue }
            let target = results.first?.target(results.first?.plan ?? kpi.plan) ?? ""
            rows.append([kpi.title, target] + results.map(cell))
        }
        if arms.contains(where: { $0.failure?.failed == true }) {
            rows.append(
                ["Bridge failed", "never"] + arms.map { $0.failure?.failed == true ? "at \(Format.number($0.failure?.at ?? 0)) s ✗" : "no ✓" }
            )
        }
        rows.append(["verdict", ""] + arms.map { $0.verdict.uppercased() })
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for (index, row) in rows.enumerated() {
            text += row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            text += "\n"
            if index == 0 { text += widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ") + "\n" }
        }
        for comparison in summary.comparisons { text += "\n" + comparison.sentence }
        for arm in arms where arm.failure?.failed == true { text += "\n\(arm.name) failed: \(arm.failure?.why ?? "")" }
        if let scale = summary.scale {
            text += "\nknee: " + (scale.kneeClients.map { "\($0) clients" } ?? "none")
            if let broken = scale.brokenAt { text += "; \(broken) clients broke \(scale.brokenBy.joined(separator: ", "))" }
        }
        for warning in summary.warnings { text += "\nwarning: \(warning)" }
        return text + "\n"
    }

    static func cell(_ kpi: KPIResult) -> String {
        switch kpi.status {
        case .notApplicable: return "n/a"
        case .notMeasured: return "not measured ✗"
        case .pass, .fail:
            let value = kpi.measured.map { "\(Format.number($0)) \(kpi.unit)" } ?? "—"
            return value + (kpi.status == .pass ? " ✓" : " ✗")
        }
    }
}
