/// The figures the runner keeps from one `/metrics` scrape (Prometheus text format).
public struct MetricsReading: Sendable, Equatable {
    /// Unix µs of the scrape.
    public var at: Int64
    /// HTTP requests clients made (every route but the runner's own `/health`, `/metrics` and the
    /// dashboard stream), since the bridge started.
    public var clientRequests: Double
    /// Open connections by transport (`bridge_connections`).
    public var connections: [String: Double]
    /// Streaming connections that ended, for any reason, since the bridge started (`bridge_disconnects_total`).
    public var connectionsClosed: Double
    public var messagesSent: Double
    public var bytesSent: Double
    public var recordsRead: Double
    /// `bridge_detect_to_send_seconds` buckets: upper bound (s) → cumulative count.
    public var detectToSend: [(le: Double, count: Double)]
    /// `bridge_queued_to_written_seconds` buckets: queued for a WebSocket client → its frame
    /// handed to the socket.
    public var queuedToWritten: [(le: Double, count: Double)]

    /// Routes the runner itself calls: left out of the clients' request count.
    static let runnerRoutes: Set<String> = ["/health", "/metrics", "/api/stream/dashboard"]

    public init(at: Int64, text: String) {
        self.at = at
        var requests = 0.0
        var connections: [String: Double] = [:]
        var closed = 0.0
        var sent = 0.0
        var bytes = 0.0
        var records = 0.0
        var buckets: [(Double, Double)] = []
        var written: [(Double, Double)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sample = Self.sample(line) else { continue }
            switch sample.name {
            case "bridge_http_requests_total":
                if !Self.runnerRoutes.contains(sample.labels["route"] ?? "") { requests += sample.value }
            case "bridge_connections":
                connections[sample.labels["transport"] ?? "", default: 0] += sample.value
            case "bridge_disconnects_total": closed += sample.value
            case "bridge_messages_sent_total": sent += sample.value
            case "bridge_bytes_sent_total": bytes += sample.value
            case "bridge_records_read_total": records += sample.value
            case "bridge_detect_to_send_seconds_bucket":
                if let le = sample.labels["le"].flatMap({ $0 == "+Inf" ? Double.infinity : Double($0) }) { buckets.append((le, sample.value)) }
            case "bridge_queued_to_written_seconds_bucket":
                if let le = sample.labels["le"].flatMap({ $0 == "+Inf" ? Double.infinity : Double($0) }) { written.append((le, sample.value)) }
            default: break
            }
        }
        clientRequests = requests
        self.connections = connections
        connectionsClosed = closed
        messagesSent = sent
        bytesSent = bytes
        recordsRead = records
        detectToSend = buckets.sorted { $0.0 < $1.0 }.map { (le: $0.0, count: $0.1) }
        queuedToWritten = written.sorted { $0.0 < $1.0 }.map { (le: $0.0, count: $0.1) }
    }

    public static func == (a: MetricsReading, b: MetricsReading) -> Bool {
        a.at == b.at && a.clientRequests == b.clientRequests && a.connections == b.connections && a.connectionsClosed == b.connectionsClosed
            && a.messagesSent == b.messagesSent
            && a.bytesSent == b.bytesSent && a.recordsRead == b.recordsRead && a.detectToSend.map(\.le) == b.detectToSend.map(\.le)
            && a.detectToSend.map(\.count) == b.detectToSend.map(\.count) && a.queuedToWritten.map(\.le) == b.queuedToWritten.map(\.le)
            && a.queuedToWritten.map(\.count) == b.queuedToWritten.map(\.count)
    }

    /// `name{a="x",b="y"} value` → its parts (nil for anything else).
    static func sample(_ line: Substring) -> (name: String, labels: [String: String], value: Double)? {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        let series = line[..<space]
        guard let brace = series.firstIndex(of: "{") else { return (String(series), [:], value) }
        var labels: [String: String] = [:]
        let inner = series[series.index(after: brace)...].dropLast()
        for pair in inner.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            labels[String(parts[0])] = String(parts[1].trimmingCharacters(in: ["\""]))
        }
        return (String(series[..<brace]), labels, value)
    }

    /// The upper bound of the bucket holding the `percentile`th observation (nil without data).
    public func detectToSendPercentile(_ percentile: Double) -> Double? {
        Self.percentile(percentile, of: detectToSend)
    }

    /// The same for queued → written to the socket.
    public func queuedToWrittenPercentile(_ percentile: Double) -> Double? {
        Self.percentile(percentile, of: queuedToWritten)
    }

    static func percentile(_ percentile: Double, of buckets: [(le: Double, count: Double)]) -> Double? {
        guard let total = buckets.last?.count, total > 0 else { return nil }
        let rank = total * percentile / 100
        // A rank in the +Inf bucket is past what the histogram can say: no figure, rather than
        // one that is not a number (JSON cannot hold it, and a bound would understate it).
        return buckets.first { $0.count >= rank }?.le.nilIfInfinite
    }
}

extension Double {
    var nilIfInfinite: Double? { isFinite ? self : nil }
}
