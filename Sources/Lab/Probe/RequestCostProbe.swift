import BridgeClient
import Foundation
import Histogram
import Swarm

/// What one short HTTP request costs the bridge with its clients connected: `requests` GETs one
/// after another, each on a new connection (as a monitor's probe comes), timed by HdrHistogram,
/// and the bridge's CPU over them read from the kernel's per-thread run time (nanoseconds, not
/// the 10 ms ticks of `/proc/PID/stat`). The bridge's own rate in the second before is taken off,
/// so what is left is the requests'.
public struct RequestCostProbe: Sendable {
    public let host: String
    public let port: Int
    public let path: String
    public let requests: Int

    public init(host: String = "127.0.0.1", port: Int, path: String, requests: Int) {
        self.host = host
        self.port = port
        self.path = path
        self.requests = requests
    }

    public func measure(pid: Int32, openConnections: Int) async -> ArmRecord.RequestCost {
        let at = Int64(Date().timeIntervalSince1970 * 1e6)
        // The bridge's rate with nobody asking: one second of it.
        let quietStart = Self.cpuNanoseconds(pid)
        let quietClock = ContinuousClock.now
        try? await Task.sleep(for: .seconds(1))
        let quietEnd = Self.cpuNanoseconds(pid)
        let quietSeconds = Self.seconds(since: quietClock)

        var answers = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var failures = 0
        let burstClock = ContinuousClock.now
        let burstStart = Self.cpuNanoseconds(pid)
        for _ in 0..<requests {
            let sent = ContinuousClock.now
            let status = try? await HTTPConnection.with(host: host, port: port) { try await $0.get(path).status }
            if status == 200 {
                answers.record(UInt64(max(0, Self.seconds(since: sent) * 1e6)))
            } else {
                failures += 1
            }
        }
        let burstEnd = Self.cpuNanoseconds(pid)
        let burstSeconds = Self.seconds(since: burstClock)

        var cost = ArmRecord.RequestCost(
            path: path,
            at: at,
            openConnections: openConnections,
            requests: requests,
            failures: failures,
            seconds: burstSeconds,
            answer: LoadgenSummary.Percentiles(answers)
        )
        if let quietStart, let quietEnd, let burstStart, let burstEnd, quietSeconds > 0, requests > 0 {
            let background = Double(quietEnd - quietStart) / quietSeconds
            cost.backgroundPercent = background / 1e7
            let spent = Double(burstEnd - burstStart) - background * burstSeconds
            cost.cpuMicrosecondsPerRequest = max(0, spent) / 1000 / Double(requests)
        }
        return cost
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// The process's CPU time so far, nanoseconds: the sum of its threads' run time
    /// (`/proc/PID/task/TID/schedstat`, first field). Nil when it cannot be read.
    static func cpuNanoseconds(_ pid: Int32) -> UInt64? {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
        var total: UInt64 = 0
        for thread in threads {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/schedstat", encoding: .utf8),
                let first = text.split(separator: " ").first, let nanoseconds = UInt64(first)
            else { continue }
            total += nanoseconds
        }
        return total
    }
}
