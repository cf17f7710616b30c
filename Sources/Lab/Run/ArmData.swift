import Foundation

/// Everything saved of one arm, read back from its folder: what the judge and the report use,
/// so that `bridgelab report` renders the same report from the same files.
public struct ArmData: Sendable {
    public var record: ArmRecord
    public var samples: [ResourceSample]
    public var health: [BridgeProbe.HealthProbe]
    public var metrics: [MetricsReading]
    public var loadgen: LoadgenReport?
    /// loadgen's per-second rows (`timeline.csv`), as columns by name.
    public var timeline: [String: [Double]]
    /// Percentile spectra from the `.hgrm` files: name → (percentile, value µs).
    public var spectra: [String: [(percentile: Double, value: Double)]]

    public init(
        record: ArmRecord,
        samples: [ResourceSample] = [],
        health: [BridgeProbe.HealthProbe] = [],
        metrics: [MetricsReading] = [],
        loadgen: LoadgenReport? = nil,
        timeline: [String: [Double]] = [:],
        spectra: [String: [(percentile: Double, value: Double)]] = [:]
    ) {
        self.record = record
        self.samples = samples
        self.health = health
        self.metrics = metrics
        self.loadgen = loadgen
        self.timeline = timeline
        self.spectra = spectra
    }

    // MARK: - Files

    public static let recordFile = "arm.json"
    public static let samplesFile = "samples.csv"
    public static let healthFile = "health.csv"
    public static let metricsFolder = "metrics"
    public static let loadgenFolder = "loadgen"

    /// Writes the record, samples and probes (loadgen writes its own folder; scrapes are saved as
    /// they come, one `.prom` file each).
    public func write(to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(record).write(to: URL(fileURLWithPath: directory + "/" + Self.recordFile))
        var csv = ResourceSample.csvHeader + "\n"
        for sample in samples { csv += sample.csvRow + "\n" }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: directory + "/" + Self.samplesFile))
        var health = "unix_us,answer_ms\n"
        for probe in self.health { health += "\(probe.at),\(probe.milliseconds.map { String(format: "%.3f", $0) } ?? "")\n" }
        try Data(health.utf8).write(to: URL(fileURLWithPath: directory + "/" + Self.healthFile))
    }

    public static func load(from directory: String) throws -> ArmData {
        let recordData = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + recordFile))
        var data = ArmData(record: try JSONDecoder().decode(ArmRecord.self, from: recordData))
        if let text = ProcReader.read(directory + "/" + samplesFile) {
            data.samples = text.split(separator: "\n").dropFirst().compactMap { ResourceSample(csv: $0) }
        }
        if let text = ProcReader.read(directory + "/" + healthFile) {
            data.health = text.split(separator: "\n", omittingEmptySubsequences: true).dropFirst().compactMap { line in
                let parts = line.split(separator: ",", omittingEmptySubsequences: false)
                guard parts.count == 2, let at = Int64(parts[0]) else { return nil }
                return BridgeProbe.HealthProbe(at: at, milliseconds: Double(parts[1]))
            }
        }
        let metricsDirectory = directory + "/" + metricsFolder
        let scrapes = ((try? FileManager.default.contentsOfDirectory(atPath: metricsDirectory)) ?? []).filter { $0.hasSuffix(".prom") }
        data.metrics = scrapes.compactMap { name -> MetricsReading? in
            guard let at = Int64(name.dropLast(5)), let text = ProcReader.read(metricsDirectory + "/" + name) else { return nil }
            return MetricsReading(at: at, text: text)
        }.sorted { $0.at < $1.at }
        let loadgenDirectory = directory + "/" + loadgenFolder
        if let summary = FileManager.default.contents(atPath: loadgenDirectory + "/summary.json") {
            data.loadgen = try JSONDecoder().decode(LoadgenReport.self, from: summary)
        }
        if let text = ProcReader.read(loadgenDirectory + "/timeline.csv") { data.timeline = Self.columns(csv: text) }
        for file in (try? FileManager.default.contentsOfDirectory(atPath: loadgenDirectory)) ?? [] where file.hasSuffix(".hgrm") {
            if let text = ProcReader.read(loadgenDirectory + "/" + file) { data.spectra[String(file.dropLast(5))] = Self.spectrum(hgrm: text) }
        }
        return data
    }

    /// A CSV's numeric columns by header name (empty cells are NaN).
    static func columns(csv text: String) -> [String: [Double]] {
        let lines = text.split(separator: "\n")
        guard let header = lines.first?.split(separator: ",").map(String.init) else { return [:] }
        var columns = [String: [Double]]()
        for line in lines.dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            for (index, name) in header.enumerated() {
                columns[name, default: []].append(index < cells.count ? Double(cells[index]) ?? .nan : .nan)
            }
        }
        return columns
    }

    /// HdrHistogram's percentile distribution text: `Value Percentile TotalCount 1/(1-Percentile)` rows.
    static func spectrum(hgrm text: String) -> [(percentile: Double, value: Double)] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 4 || fields.count == 3, let value = Double(fields[0]), let percentile = Double(fields[1]), percentile <= 1
            else { return nil }
            return (percentile * 100, value)
        }
    }

    // MARK: - Windows

    /// Samples in the measured window (after warm-up, before ramp-down).
    public var measuredSamples: [ResourceSample] {
        let window = samples.filter { $0.at >= record.measureFrom && $0.at <= record.measureTo }
        return window.isEmpty ? samples : window
    }

    /// Seconds since the swarm started, for a Unix µs time.
    public func axis(_ at: Int64) -> Double { Double(at - record.swarmStart) / 1e6 }
}
