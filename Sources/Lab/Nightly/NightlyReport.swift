import Foundation

/// The nightly run's `summary.md` (also a CI job summary) and `index.html`.
enum NightlyReport {
    static func describe(_ verdict: RegressionRule.Verdict, value: Double) -> (status: String, detail: String) {
        switch verdict {
        case .notEnoughHistory(let runs): return ("no verdict", "\(runs) earlier run(s): not enough history yet")
        case .steady(let reference, let threshold): return ("steady", "reference \(Format.number(reference)) ± \(Format.number(threshold))")
        case .regression(let reference, let threshold):
            return ("REGRESSION", "\(change(value, reference)) against \(Format.number(reference)) (allowed ± \(Format.number(threshold)))")
        case .improvement(let reference, let threshold):
            return ("improved", "\(change(value, reference)) against \(Format.number(reference)) (noise ± \(Format.number(threshold)))")
        }
    }

    static func change(_ value: Double, _ reference: Double) -> String {
        guard reference != 0 else { return "from 0" }
        let percent = (value - reference) / abs(reference) * 100
        return String(format: "%+.0f %%", percent)
    }

    /// What one night came to: the suite, its scenarios, every figure against the history, the verdict.
    struct Night {
        var suite: NightlySuite
        var entries: [Nightly.Entry]
        var comparisons: [Nightly.Comparison]
        var exitCode: Int32
        var reason: String
        var environment: RunEnvironment
        var earlierRuns: Int
    }

    static func markdown(_ night: Night) -> String {
        let (suite, entries, comparisons, exitCode, reason, environment, runs) = (
            night.suite, night.entries, night.comparisons, night.exitCode, night.reason, night.environment, night.earlierRuns
        )
        var text = "# BridgeLab nightly (\(suite.name)): \(["PASS", "KPI FAILED", "REGRESSION", "HARNESS ERROR"][Int(exitCode)])\n\n"
        text += "\(reason). Commit \(environment.commit) on \(environment.fingerprint); compared with \(runs) earlier run(s) on this machine.\n\n"
        text += "| scenario | verdict | report |\n|---|---|---|\n"
        for entry in entries {
            let verdict = entry.skipped ?? entry.summary.map { "\($0.verdict) (exit \($0.exitCode))" } ?? "-"
            text += "| \(entry.scenario) | \(verdict) | \(entry.summary == nil ? "" : "\(entry.scenario)/report.html") |\n"
        }
        let flagged = comparisons.filter { if case .steady = $0.verdict { return false } else { return true } }
        let notable = flagged.filter { if case .notEnoughHistory = $0.verdict { return false } else { return true } }
        text += "\n## Figures against the history\n\n"
        if notable.isEmpty {
            let waiting = flagged.count
            text += waiting > 0 ? "No verdict yet for \(waiting) figure(s): not enough history.\n" : "Every figure is within its run-to-run noise.\n"
        } else {
            text += "| figure | value | verdict | detail |\n|---|---|---|---|\n"
            for comparison in notable {
                let (status, detail) = describe(comparison.verdict, value: comparison.value)
                text += "| \(comparison.key) | \(Format.number(comparison.value)) | \(status) | \(detail) |\n"
            }
        }
        return text
    }

    static func html(_ night: Night, trends: [String: [(started: String, value: Double)]]) -> String {
        let (suite, entries, comparisons, exitCode, reason, environment) = (
            night.suite, night.entries, night.comparisons, night.exitCode, night.reason, night.environment
        )
        let e = SVGChart.escape
        let verdict = ["pass", "fail", "regression", "error"][Int(exitCode)]
        var html = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>BridgeLab nightly: \(verdict)</title>"
        html += "<style>\(HTMLReport.style)</style></head><body>"
        html +=
            "<header><h1>BridgeLab nightly (\(e(suite.name))) <span class=\"verdict \(exitCode == 0 ? "pass" : "fail")\">\(verdict.uppercased())</span></h1>"
        html +=
            "<p>\(e(reason)).</p><p class=\"meta\">commit \(e(environment.commit)) · \(e(environment.fingerprint)) · \(e(environment.buildConfiguration)) build</p></header>"
        html += "<section><h2>Scenarios</h2><table><thead><tr><th>scenario</th><th>verdict</th><th>report</th></tr></thead><tbody>"
        for entry in entries {
            let verdict = entry.skipped ?? entry.summary.map { "\($0.verdict) (exit \($0.exitCode))" } ?? "-"
            let link = entry.summary == nil ? "" : "<a href=\"\(e(entry.scenario))/report.html\">report</a>"
            html +=
                "<tr><td>\(e(entry.scenario))</td><td class=\"\(entry.summary?.exitCode == 0 ? "pass" : "fail")\">\(e(verdict))</td><td>\(link)</td></tr>"
        }
        html += "</tbody></table></section><section><h2>Figures against the history</h2><table><thead><tr><th>figure</th><th>value</th>"
        html += "<th>verdict</th><th>detail</th></tr></thead><tbody>"
        for comparison in comparisons {
            let (status, detail) = describe(comparison.verdict, value: comparison.value)
            let css = status == "REGRESSION" ? "fail" : (status == "improved" ? "pass" : "na")
            html += "<tr><td>\(e(comparison.key))</td><td class=\"num\">\(Format.number(comparison.value))</td><td class=\"\(css)\">\(status)</td>"
            html += "<td class=\"note\">\(e(detail))</td></tr>"
        }
        html += "</tbody></table></section><section><h2>Trends</h2>"
        for key in trends.keys.sorted() {
            guard let points = trends[key], !points.isEmpty else { continue }
            var chart = SVGChart(
                title: key,
                xLabel: "run (oldest → newest; last: \(points.last?.started ?? ""))",
                yLabel: key.split(separator: "/").last.map(String.init) ?? "",
                series: [.init(name: key, points: points.enumerated().map { (Double($0.offset + 1), $0.element.value) })]
            )
            chart.height = 220
            html += chart.render()
        }
        html += "</section></body></html>\n"
        return html
    }
}
