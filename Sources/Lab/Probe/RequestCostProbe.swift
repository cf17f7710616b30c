import BridgeClient
import Clocks
import Foundation
import Histogram
import Swarm

/// What one short HTTP request costs the bridge with its clients connected: `requests` GETs one
/// after another, each on a new connection (as a monitor's probe comes), timed by HdrHistogram,
/// and the bridge's CPU over them read from the kernel's per-thread run time (nanoseconds, not
/// the 10 ms ticks of `/proc/PID/stat`). The bridge's own rate just before (the median of three
/// short windows) is taken off, so what is left is the requests'. Three rounds of `requests`; the
/// CPU figure is the median's.
public struct RequestCostProbe: Sendable {
    public let host: String
    public let port: Int
    public let path: String
    public let requests: Int

    /// Rounds of `requests` each; the CPU figure is the median round's.
    public static let rounds = 3

    public init(host: String = "127.0.0.1", port: Int, path: String, requests: Int) {
        self.host = host
        self.port = port
        self.path = path
        self.requests = requests
    }

    public func measure(pid: Int32, openConnections: Int) async -> ArmRecord.RequestCost {
        let at = Int64(Date().timeIntervalSince1970 * 1e6)
        // The bridge's rate with nobody asking: the median of three 400 ms windows (a heartbeat
        // round landing in one of them does not make the requests look free).
        var quiet: [Double] = []
        for _ in 0..<3 {
            let start = ProcReader.runNanoseconds(pid)
            let clock = WallClock.monotonicNanoseconds()
            try? await Task.sleep(for: .milliseconds(400))
            if let start, let end = ProcReader.runNanoseconds(pid) { quiet.append(Double(end - start) / Self.seconds(since: clock)) }
        }
        let background = quiet.isEmpty ? nil : quiet.sorted()[quiet.count / 2]

        var answers = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var failures = 0
        var rounds: [ArmRecord.RequestCost.Round] = []
        for _ in 0..<Self.rounds {
            let roundClock = WallClock.monotonicNanoseconds()
            let roundStart = ProcReader.runNanoseconds(pid)
            for _ in 0..<requests {
                let sent = WallClock.monotonicNanoseconds()
                let status = try? await HTTPConnection.with(host: host, port: port) { try await $0.get(path).status }
                if status == 200 {
                    answers.record(UInt64(max(0, Self.seconds(since: sent) * 1e6)))
                } else {
                    failures += 1
                }
            }
            let roundEnd = ProcReader.runNanoseconds(pid)
            var round = ArmRecord.RequestCost.Round(seconds: Self.seconds(since: roundClock))
            if let background, let roundStart, let roundEnd, requests > 0 {
                let spent = Double(roundEnd - roundStart) - background * round.seconds
                round.cpuMicrosecondsPerRequest = max(0, spent) / 1000 / Double(requests)
            }
            rounds.append(round)
        }

        var cost = ArmRecord.RequestCost(
            path: path,
            at: at,
            openConnections: openConnections,
            requests: requests * Self.rounds,
            failures: failures,
            seconds: rounds.map(\.seconds).reduce(0, +),
            answer: LoadgenSummary.Percentiles(answers)
        )
        cost.rounds = rounds
        cost.backgroundPercent = background.map { $0 / 1e7 }
        // The median round: one round that a heartbeat or the machine's noise landed on does not
        // move the figure.
        let perRequest = rounds.compactMap(\.cpuMicrosecondsPerRequest).sorted()
        if !perRequest.isEmpty { cost.cpuMicrosecondsPerRequest = perRequest[perRequest.count / 2] }
        return cost
    }

    static func seconds(since start: UInt64) -> Double {
        Double(WallClock.monotonicNanoseconds() &- start) / 1e9
    }
}
