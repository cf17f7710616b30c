import Foundation
import Testing

@testable import Lab

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Collects what a report's HTML says: whether it parses, its SVG charts, and its KPI cells.
final class ReportReader: NSObject, XMLParserDelegate {
    var svgCount = 0
    var polylines = 0
    /// (arm, kpi id, data-value) of every KPI row.
    var cells: [(arm: String, kpi: String, value: String)] = []
    var error: Error?

    static func read(_ html: String) -> ReportReader {
        let reader = ReportReader()
        let parser = XMLParser(data: Data(html.utf8))
        parser.delegate = reader
        if !parser.parse() { reader.error = parser.parserError ?? NSError(domain: "xml", code: 1) }
        return reader
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:])
    {
        switch name {
        case "svg": svgCount += 1
        case "polyline": polylines += 1
        case "td":
            if attributes["class"]?.split(separator: " ").contains("measured") == true {
                cells.append((attributes["data-arm"] ?? "", attributes["data-kpi"] ?? "", attributes["data-value"] ?? ""))
            }
        default: break
        }
    }

}

@Suite("reports")
struct ReportTests {
    func comparisonRun() -> (RunSummary, [ArmData]) {
        var scenario = Scenario(name: "compare")
        scenario.description = "naive & event <side by side>"
        scenario.arms = Fixtures.naiveAndEventArms
        var naive = Fixtures.naiveArm()
        naive.spectra["poll_delivery"] = [(0, 1000), (50, 200_000), (99, 900_000), (99.9, 1_000_000)]
        naive.timeline = ["t_s": [1, 2, 3], "poll_p99_us": [10_000, 12_000, .nan]]
        var event = Fixtures.arm(cpu: 4)
        event.spectra["update"] = [(0, 100), (50, 800), (99, 3000), (99.99, 9000)]
        event.timeline = ["t_s": [1, 2, 3], "update_p99_us": [3000, 2900, 3100]]
        event.record.markers = [.init(at: Fixtures.start + 10_000_000, kind: .fault, label: "cut:10:3 <proxy>")]
        let arms = [naive, event]
        return (Fixtures.summarize(scenario, arms, configuration: "debug"), arms)
    }

    @Test("report.html is well-formed, self-contained, with a chart per figure, and flags a debug build")
    func htmlIsValid() throws {
        let (summary, arms) = comparisonRun()
        let html = HTMLReport.render(summary, arms: arms)
        let reader = ReportReader.read(html)
        #expect(reader.error == nil, "\(String(describing: reader.error))")
        // Spectrum, latency over time, CPU, memory, messages/s, requests/s; per arm CPU and sockets.
        #expect(reader.svgCount == 6 + 2 * arms.count)
        #expect(reader.polylines > 10)
        #expect(!html.contains("http://") || !html.contains("src=\"http"), "a report must not load anything from the network")
        #expect(!html.contains("<script src") && !html.contains("<link "))
        #expect(html.contains("not a release build"))
        #expect(html.contains("naive &amp; event &lt;side by side&gt;"))
        #expect(html.contains("cut:10:3 &lt;proxy&gt;"))
    }

    @Test("every number in the KPI tables is the one in summary.json")
    func kpiNumbersTraceToSummary() throws {
        let (summary, arms) = comparisonRun()
        let encoder = JSONEncoder()
        let json = try JSONDecoder().decode(RunSummary.self, from: try encoder.encode(summary))
        let reader = ReportReader.read(HTMLReport.render(summary, arms: arms))
        // The matrix leaves out KPIs that apply to no arm.
        let shown = KPI.catalog.indices.filter { index in json.arms.contains { $0.kpis[index].status != .notApplicable } }
        #expect(reader.cells.count == shown.count * json.arms.count)
        for cell in reader.cells {
            let result = try #require(json.arms.first { $0.name == cell.arm }?.kpis.first { $0.id == cell.kpi })
            #expect(cell.value == (result.measured.map { String($0) } ?? ""), "\(cell.arm) \(cell.kpi)")
        }
        let markdown = MarkdownReport.render(json)
        for arm in json.arms {
            for result in arm.kpis {
                if let measured = result.measured { #expect(markdown.contains("| \(Format.number(measured)) \(result.unit) |"), "\(result.id)") }
            }
        }
        for comparison in json.comparisons { #expect(markdown.contains(comparison.sentence)) }
    }

    @Test("an SVG chart: empty data says so, points are placed inside the plot, text is escaped")
    func chart() throws {
        let empty = SVGChart(title: "nothing", xLabel: "x", yLabel: "y", series: []).render()
        #expect(empty.contains("no data"))
        #expect(ReportReader.read(empty).error == nil)
        var chart = SVGChart(title: "a < b", xLabel: "t", yLabel: "v", series: [.init(name: "s&p", points: [(0, 0), (10, 5), (20, 10)])])
        chart.markers = [.init(x: 10, label: "fault", color: "#f00")]
        let svg = chart.render()
        let reader = ReportReader.read(svg)
        #expect(reader.error == nil)
        #expect(reader.polylines == 1)
        #expect(svg.contains("a &lt; b") && svg.contains("s&amp;p"))
        // The first point sits on the left edge, the last on the right edge of the plot.
        #expect(svg.contains("points=\"64.0,"))
        #expect(svg.contains("\(String(format: "%.1f", chart.width - 16)),"))
        var spectrum = SVGChart(title: "p", xLabel: "percentile", yLabel: "ms", series: [.init(name: "a", points: [(0, 1), (99, 2), (99.9, 3)])])
        spectrum.xAxis = .percentile
        #expect(spectrum.render().contains(">99.9%<"))
        #expect(SVGChart.thin((0..<5000).map { (Double($0), 1) }, limit: 500).count <= 500)
    }

    @Test("bridgelab report renders the same summary again from the saved files")
    func renderAgainFromFiles() throws {
        let directory = NSTemporaryDirectory() + "bridgelab-report-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var scenario = Scenario(name: "again")
        scenario.arms = [Scenario.Arm(name: "event")]
        let arm = Fixtures.arm(seconds: 40, cpu: 6)
        let armDirectory = directory + "/arms/event"
        try FileManager.default.createDirectory(atPath: armDirectory + "/metrics", withIntermediateDirectories: true)
        try arm.write(to: armDirectory)
        for (index, reading) in Fixtures.metrics(seconds: 40, requestsPerSecond: 0).enumerated() {
            _ = index
            let text = """
                bridge_connections{transport="ws"} \(reading.connections["ws"] ?? 0)
                bridge_messages_sent_total{transport="ws"} \(reading.messagesSent)
                """
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(armDirectory)/metrics/\(reading.at).prom"))
        }
        try FileManager.default.createDirectory(atPath: armDirectory + "/loadgen", withIntermediateDirectories: true)
        try JSONEncoder().encode(Fixtures.loadgen()).write(to: URL(fileURLWithPath: armDirectory + "/loadgen/summary.json"))
        try JSONEncoder().encode(scenario).write(to: URL(fileURLWithPath: directory + "/scenario.json"))
        try JSONEncoder().encode(Fixtures.environment()).write(to: URL(fileURLWithPath: directory + "/environment.json"))

        let first = try Runner.assess(directory: directory, finished: "f")
        let saved = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/summary.json")))
        #expect(saved == first)
        let second = try Runner.assess(directory: directory)
        #expect(second == first)
        #expect(first.arms[0].figures.bridgeCPU.map { abs($0 - 6) < 1e-6 } == true)
        #expect(first.arms[0].kpis.first { $0.id == "ws_clients" }?.measured == 20)
        for file in ["report.md", "report.html"] { #expect(FileManager.default.fileExists(atPath: "\(directory)/\(file)")) }
        #expect(throws: RunnerError.self) { try Runner.assess(directory: directory + "/nope") }
    }
}
