import Foundation
import Histogram
import NIOConcurrencyHelpers

/// The swarm's run second by second: written as `timeline.csv` beside the summary, so a report can
/// draw latency, throughput and clients over time (and show when a fault or spike hit).
public final class SwarmTimeline: Sendable {
    /// One second of the run. Counters are running totals; latency is that second's alone.
    public struct Row: Sendable {
        public var seconds: Double
        public var running: Int
        public var messages: Int
        public var measured: Int
        public var bytes: Int
        public var httpRequests: Int
        public var errors: Int
        public var update: Histogram<UInt64>?
        public var pollRequest: Histogram<UInt64>?
    }

    public static let header =
        "t_s,clients,messages,updates,bytes,http_requests,errors,update_count,update_p50_us,update_p99_us,update_max_us,poll_count,poll_p99_us"

    private let rows = NIOLockedValueBox<[Row]>([])

    public init() {}

    func append(_ row: Row) {
        rows.withLockedValue { $0.append(row) }
    }

    public var csv: String {
        var text = Self.header + "\n"
        for row in rows.withLockedValue({ $0 }) {
            let update = Self.figures(row.update)
            let poll = Self.figures(row.pollRequest)
            let fields: [String] = [
                String(format: "%.3f", row.seconds), "\(row.running)", "\(row.messages)", "\(row.measured)", "\(row.bytes)",
                "\(row.httpRequests)", "\(row.errors)", update.count, update.p50, update.p99, update.max, poll.count, poll.p99,
            ]
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }

    /// Count and percentiles of a window; empty fields when nothing was recorded.
    private static func figures(_ histogram: Histogram<UInt64>?) -> (count: String, p50: String, p99: String, max: String) {
        guard let histogram, histogram.totalCount > 0 else { return ("0", "", "", "") }
        return (
            "\(histogram.totalCount)", "\(histogram.valueAtPercentile(50))", "\(histogram.valueAtPercentile(99))", "\(histogram.max)"
        )
    }
}
