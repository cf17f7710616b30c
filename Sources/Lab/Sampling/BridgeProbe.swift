import BridgeClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Swarm

/// Watches the bridge from outside, as an operator's monitoring would: `/health` every 500 ms
/// (answer time, failures: the uptime KPI, and a hang when nothing answers for 5 s), `/metrics`
/// every second, and the dashboard stream's events.
public final class BridgeProbe: Sendable {
    public struct HealthProbe: Sendable, Equatable {
        /// Unix µs the probe was sent.
        public var at: Int64
        /// Answer time in ms, nil when it failed or took over a second.
        public var milliseconds: Double?
    }

    public let host: String
    public let port: Int
    /// The routes probed: the reference bridge's, or a profile's (no metrics route: none scraped).
    public let healthPath: String
    public let metricsPath: String?
    private struct State {
        var health: [HealthProbe] = []
        var metrics: [MetricsReading] = []
        var dashboardEvents: [Int64] = []
        var hangs: [Int64] = []
    }
    private let state = NIOLockedValueBox(State())
    public static let hangSeconds = 5.0

    public init(host: String = "127.0.0.1", port: Int, healthPath: String = "/health", metricsPath: String? = "/metrics") {
        self.host = host
        self.port = port
        self.healthPath = healthPath
        self.metricsPath = metricsPath
    }

    public var health: [HealthProbe] { state.withLockedValue { $0.health } }
    public var metrics: [MetricsReading] { state.withLockedValue { $0.metrics } }
    public var dashboardEvents: [Int64] { state.withLockedValue { $0.dashboardEvents } }
    /// When the bridge stopped answering for `hangSeconds` while its process was alive.
    public var hangs: [Int64] { state.withLockedValue { $0.hangs } }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e6) }

    /// One GET on a new connection, within `seconds`.
    public func get(_ path: String, seconds: Double = 1) async throws -> HTTPConnection.Response {
        let host = self.host
        let port = self.port
        return try await withThrowingTaskGroup(of: HTTPConnection.Response?.self) { group in
            group.addTask {
                try await HTTPConnection.with(host: host, port: port, connectTimeout: .milliseconds(Int64(seconds * 1000))) { try await $0.get(path) }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else { throw RunnerError("\(path) did not answer within \(seconds) s") }
            return response
        }
    }

    /// Probes `/health` until cancelled; `alive` tells whether the process exists (a silent live
    /// process is a hang; a dead one is a crash, recorded elsewhere).
    public func probeHealth(every interval: Duration = .milliseconds(500), alive: @escaping @Sendable () -> Bool) async {
        var lastAnswer = Self.now()
        var hung = false
        while !Task.isCancelled {
            let at = Self.now()
            var milliseconds: Double?
            if let response = try? await get(healthPath), response.status == 200 {
                milliseconds = Double(Self.now() - at) / 1000
            }
            let probe = HealthProbe(at: at, milliseconds: milliseconds)
            let now = Self.now()
            if milliseconds != nil {
                lastAnswer = now
                hung = false
            } else if !hung, alive(), Double(now - lastAnswer) / 1e6 >= Self.hangSeconds {
                hung = true
                state.withLockedValue { $0.hangs.append(lastAnswer) }
            }
            state.withLockedValue { $0.health.append(probe) }
            try? await Task.sleep(for: interval)
        }
    }

    /// Scrapes `/metrics` until cancelled, saving each scrape as `<directory>/<unix µs>.prom`.
    public func scrapeMetrics(every interval: Duration = .seconds(1), saveTo directory: String) async {
        guard let metricsPath else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        while !Task.isCancelled {
            let at = Self.now()
            if let response = try? await get(metricsPath, seconds: 2), response.status == 200 {
                let text = String(buffer: response.body)
                try? Data(text.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(at).prom"))
                let reading = MetricsReading(at: at, text: text)
                state.withLockedValue { $0.metrics.append(reading) }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Holds `/api/stream/dashboard` open and notes when each event arrives, reconnecting as a
    /// browser's EventSource would.
    public func followDashboard(path: String = "/api/stream/dashboard") async {
        let host = self.host
        let port = self.port
        while !Task.isCancelled {
            try? await HTTPConnection.with(host: host, port: port) { connection in
                try await connection.send(path)
                let head = try await connection.head()
                guard head.status == .ok else { return }
                var parser = SSEParser()
                while let chunk = try await connection.chunk() {
                    for event in parser.feed(chunk) where event.data != nil {
                        let now = Self.now()
                        self.state.withLockedValue { $0.dashboardEvents.append(now) }
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}
