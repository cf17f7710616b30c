import BridgeCore
import Clocks
import Foundation
import NIOConcurrencyHelpers
import ServiceLifecycle
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// Every dashboard interval, what the bridge did in it (records read and messages sent per second,
/// wake → queued percentiles, its own CPU and memory) and each contract's last price for the
/// sparklines. Dashboard events carry the latest figures: every one a measurement, none invented.
final class DashboardSampler: Service, Sendable {
    struct Figures: Sendable {
        var recordsPerSecond = 0.0
        var messagesPerSecond = 0.0
        /// Wake → queued over the interval, µs (nil when nothing was read).
        var detectToSend: (count: Int, p50: UInt64, p99: UInt64, max: UInt64)?
        var cpuPercent = 0.0
        var residentMB = 0.0
        /// Per contract, its last price at each of the last `sparkPoints` intervals.
        var spark: [String: [Float]] = [:]
    }

    static let sparkPoints = 60

    let hub: MarketHub
    let interval: Double
    private let figures = NIOLockedValueBox(Figures())

    init(hub: MarketHub, interval: Double) {
        self.hub = hub
        self.interval = interval
    }

    var latest: Figures { figures.withLockedValue { $0 } }

    /// The counters at the previous sample.
    private struct Previous {
        var records = 0
        var messages = 0
        var cpu = DashboardSampler.cpuSeconds()
        var at = WallClock.monotonicNanoseconds()
    }
    private let previous = NIOLockedValueBox(Previous())

    func run() async throws {
        // Rates count from now: the first read of every file at start-up is not a rate.
        let start = hub.metrics.activity.take()
        previous.withLockedValue { $0 = Previous(records: start.records, messages: start.messages) }
        let interval = self.interval
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                self.sample()
            }
        }
    }

    func sample() {
        let now = WallClock.monotonicNanoseconds()
        let activity = hub.metrics.activity.take()
        let cpu = Self.cpuSeconds()
        let last = previous.withLockedValue { last in
            defer { last = Previous(records: activity.records, messages: activity.messages, cpu: cpu, at: now) }
            return last
        }
        let seconds = max(1e-3, Double(now - last.at) / 1e9)
        let window = activity.detectToSend
        let states = hub.states()
        let resident = Self.residentMB()
        figures.withLockedValue { f in
            f.recordsPerSecond = Double(activity.records - last.records) / seconds
            f.messagesPerSecond = Double(activity.messages - last.messages) / seconds
            f.detectToSend =
                window.totalCount > 0
                ? (Int(window.totalCount), window.valueAtPercentile(50), window.valueAtPercentile(99), window.max) : nil
            f.cpuPercent = (cpu - last.cpu) / seconds * 100
            f.residentMB = resident
            for state in states {
                guard let price = state.last?.price else { continue }
                var points = f.spark[state.contract, default: []]
                points.append(price)
                if points.count > Self.sparkPoints { points.removeFirst(points.count - Self.sparkPoints) }
                f.spark[state.contract] = points
            }
        }
    }

    /// This process's CPU seconds (user + system).
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Resident memory from `/proc/self/statm` (pages).
    static func residentMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }
}
