import Foundation

/// loadgen's `summary.json` (schema `bridgelab.loadgen.summary/1`, docs/LOADGEN.md): one Codable
/// type, written by the swarm and read by the runner's judge, so the two cannot drift apart.
/// Field names are the file's own (snake_case).
public struct LoadgenSummary: Sendable, Codable, Equatable {
    public static let schema = "bridgelab.loadgen.summary/1"

    /// Percentiles of one histogram, in microseconds (only `count` when it is empty).
    public struct Percentiles: Sendable, Codable, Equatable {
        public var count: Int
        public var min: Int?
        public var p50: Int?
        public var p90: Int?
        public var p99: Int?
        public var p99_9: Int?
        public var max: Int?
        public var mean: Double?
    }

    public struct Config: Sendable, Codable, Equatable {
        public var url: String
        public var clients: Int
        public var kinds: [String: Int]
        public var symbols: [String]
        public var channels: [String]
        public var duration_s: Double
        public var arrival_rate: Double
        public var ramp_down_s: Double
        public var poll_rate: Double
        public var cache_reads_per_s: Double
        /// The ws and sse clients' `max_rate` (absent: every update).
        public var max_rate: Double?
        public var data_dir: String
    }

    public struct Clients: Sendable, Codable, Equatable {
        public var started: [String: Int]
        public var connected: [String: Int]
    }

    public struct Updates: Sendable, Codable, Equatable {
        public var messages: Int
        public var measured: Int
        public var bytes: Int
        public var trades: Int
        /// -1 when there was no data folder to count against.
        public var lost: Int
        public var gaps: Int
        public var duplicates: Int
        public var out_of_order: Int
    }

    public struct Count: Sendable, Codable, Equatable {
        public var messages: Int
        public var bytes: Int
    }

    /// Messages and bytes per message type, and the mean size of a delta against a snapshot's.
    public struct Payload: Sendable, Codable, Equatable {
        public var snapshot: Count?
        public var trade: Count?
        public var quote: Count?
        public var depth: Count?
        public var stats: Count?
        public var bar: Count?
        public var other: Count?
        public var snapshot_mean_bytes: Double
        public var delta_mean_bytes: Double
    }

    public struct HTTP: Sendable, Codable, Equatable {
        public var requests: Int
        public var status: [String: Int]
        public var sse_connect_status: [String: Int]?
    }

    public struct Resumes: Sendable, Codable, Equatable {
        public var recovered: Int
        public var not_recovered: Int
        public var reconnects: Int
    }

    public struct Cache: Sendable, Codable, Equatable {
        public var hits: Int
        public var misses: Int
        public var hit_rate: Double
    }

    /// The generator's own cost (getrusage over the run).
    public struct Generator: Sendable, Codable, Equatable {
        public var cpu_user_s: Double
        public var cpu_system_s: Double
        public var cpu_percent_of_core: Double
        public var peak_rss_mb: Double
        public var cpu_us_per_message: Double
    }

    /// How a bridge described by a profile was read (absent for the reference protocol).
    public struct Profile: Sendable, Codable, Equatable {
        public var name: String?
        public var file: String?
        /// `time`, `order` or `seq`: how trades were matched to their records.
        public var matched_by: String?
        public var unmatched_trades: Int?
        public var problems: [String]?
    }

    public var schema: String
    public var started_unix_us: Int64
    public var elapsed_s: Double
    public var config: Config?
    public var clients: Clients
    public var updates: Updates
    public var payload: Payload?
    public var latency_us: [String: Percentiles]
    public var latency_unresolved: Int
    public var latency_negative: Int?
    public var http: HTTP
    public var resumes: Resumes
    public var cache: Cache
    /// Client errors by stable name (`ErrorName`), e.g. `poll_NIOConnectionError`.
    public var errors: [String: Int]
    public var server_errors: Int?
    public var close_codes: [String: Int]
    public var generator: Generator
    public var profile: Profile?

    /// A histogram's percentiles, or nil when it recorded nothing.
    public func latency(_ name: String) -> Percentiles? {
        guard let value = latency_us[name], value.count > 0 else { return nil }
        return value
    }

    /// The file's bytes: sorted keys, indented.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
