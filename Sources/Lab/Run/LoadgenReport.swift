/// The part of loadgen's `summary.json` (docs/LOADGEN.md) the runner judges and shows.
public struct LoadgenReport: Sendable, Codable, Equatable {
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

    public struct Updates: Sendable, Codable, Equatable {
        public var messages: Int
        public var measured: Int
        public var bytes: Int
        public var trades: Int
        public var lost: Int
        public var gaps: Int
        public var duplicates: Int
        public var out_of_order: Int
    }

    public struct HTTP: Sendable, Codable, Equatable {
        public var requests: Int
        public var status: [String: Int]
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

    public struct Payload: Sendable, Codable, Equatable {
        public var snapshot_mean_bytes: Double
        public var delta_mean_bytes: Double
    }

    public struct Generator: Sendable, Codable, Equatable {
        public var cpu_user_s: Double
        public var cpu_system_s: Double
        public var cpu_percent_of_core: Double
        public var peak_rss_mb: Double
        public var cpu_us_per_message: Double
    }

    public struct Clients: Sendable, Codable, Equatable {
        public var started: [String: Int]
        public var connected: [String: Int]
    }

    /// How a bridge described by a profile was read (absent or empty for the reference protocol).
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
    public var clients: Clients
    public var updates: Updates
    public var latency_us: [String: Percentiles]
    public var latency_unresolved: Int
    public var http: HTTP
    public var resumes: Resumes
    public var cache: Cache
    public var payload: Payload?
    public var errors: [String: Int]
    public var close_codes: [String: Int]
    public var generator: Generator
    public var profile: Profile?

    public func latency(_ name: String) -> Percentiles? {
        guard let value = latency_us[name], value.count > 0 else { return nil }
        return value
    }
}
