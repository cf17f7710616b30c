import Foundation
import MarketSim
import Processes
import SierraFormat
import Swarm

/// The command lines an arm runs: the simulator (or a replay and the capture it replays) and
/// loadgen, from the scenario's typed values.
extension ArmRunner {
    /// The folder to replay: the scenario's, or a session the simulator writes at once beside
    /// the arm's data (its past, then `capture.seconds` of live market ending now), whose live
    /// part becomes the window.
    func captureSource(_ replay: Scenario.Replay, data: String, window: inout Int64?) async throws -> String {
        if let from = replay.from { return from }
        let folder = data + "-capture"
        let market = scenario.market
        let begins = Self.now() - Int64(replay.capture.seconds * 1e6)
        var arguments = [
            "run", "--data-dir", folder, "--symbols", market.symbols.joined(separator: ","), "--rate", Format.plain(market.rate),
            "--flush-ms", String(market.flushMilliseconds), "--arrivals", market.arrivals, "--seed", String(market.seed),
            "--duration", Format.plain(replay.capture.seconds), "--at-once", "--start-unix-us", String(begins), "-q",
        ]
        for event in market.events { arguments += ["--event", event.description] }
        if let history = replay.capture.history { arguments += history.arguments }
        let capture = ChildProcess(name: "capture", executable: executables.simulator, arguments: arguments, logPath: directory + "/capture.log")
        try start(capture)
        guard await capture.wait(seconds: 600), let ending = capture.ending, !ending.signal, ending.status == 0 else {
            throw RunnerError("the simulator could not write the capture to replay: \(capture.logTail())")
        }
        if window == nil { window = begins }
        return folder
    }

    func simulatorArguments(data: String, replayStart: Int64? = nil) -> [String] {
        let market = scenario.market
        let runs = Format.plain(lead + scenario.duration + scenario.settle + 30)
        if let replay = market.replay {
            return replay.arguments(
                source: replay.from ?? data + "-capture",
                data: data,
                symbols: market.symbols,
                speed: arm.replaySpeed ?? replay.speed,
                flushMilliseconds: market.flushMilliseconds,
                duration: runs,
                start: replayStart
            )
        }
        var arguments = [
            "--data-dir", data, "--symbols", market.symbols.joined(separator: ","), "--rate", Format.plain(market.rate),
            "--flush-ms", String(market.flushMilliseconds), "--arrivals", market.arrivals, "--seed", String(market.seed),
            "--split-writes", Format.plain(market.splitWrites),
            "--duration", runs, "-q",
        ]
        for event in market.events { arguments += ["--event", event.shifted(by: lead).description] }
        if let history = market.history { arguments += history.arguments }
        if let expired = arm.expired ?? market.expired, expired.contracts > 0 {
            arguments += ["--expired-contracts", String(expired.contracts), "--expired-records", String(expired.records)]
        }
        return arguments
    }

    /// How long the swarm runs: the scenario's duration, and the time a request-cost measurement
    /// needs after the window, with the clients still connected.
    var swarmSeconds: Double { scenario.duration + (scenario.requestCost?.holdSeconds ?? 0) }

    func loadgenArguments(data: String, port: Int) -> [String] {
        var arguments = [
            "--url", "ws://127.0.0.1:\(port)", "--clients", String(plan.clients),
            "--kind", plan.kinds.sorted { $0.key < $1.key }.map { "\($0.key)=\(Format.plain($0.value))" }.joined(separator: ","),
            "--symbols", (plan.symbols ?? scenario.market.symbols).joined(separator: ","), "--channels", plan.channels.joined(separator: ","),
            "--duration", Format.plain(swarmSeconds), "--ramp-down", Format.plain(plan.rampDown), "--poll-rate", Format.plain(plan.pollRate),
            "--cache-reads", Format.plain(plan.cacheReads), "--slow-delay-ms", String(plan.slowDelayMilliseconds),
            "--data-dir", data, "--out", directory + "/" + ArmData.loadgenFolder, "--no-progress",
        ]
        if let rate = plan.arrivalRate { arguments += ["--arrival-rate", Format.plain(rate)] }
        if let rate = plan.maxRate { arguments += ["--max-rate", Format.plain(rate)] }
        // Kill faults are the runner's (it owns the bridge process); the proxy applies the rest.
        for fault in scenario.faults where fault.needsProxy { arguments += ["--fault", fault.description] }
        return arguments
    }

    /// (at, down) of each kill fault, in time order.
    func killFaults() -> [(Double, Double)] {
        scenario.faults.compactMap { fault -> (Double, Double)? in
            guard case .kill(let down) = fault.fault else { return nil }
            return (fault.at, down)
        }.sorted { $0.0 < $1.0 }
    }
}

extension Format {
    /// A number for a command line: no exponent, no trailing zeros.
    static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

extension Scenario.Replay {
    /// `simulator replay`'s options for this replay.
    func arguments(
        source: String,
        data: String,
        symbols: [String],
        speed: Double,
        flushMilliseconds: Int,
        duration: String,
        start: Int64?
    ) -> [String] {
        var arguments = [
            "replay", "--from", source, "--data-dir", data, "--symbols", symbols.joined(separator: ","), "--speed", Format.plain(speed),
            "--flush-ms", String(flushMilliseconds), "--duration", duration, "-q",
        ]
        if let start { arguments += ["--start", ISOTime.format(start)] }
        if let end { arguments += ["--end", ISOTime.format(end)] }
        if let maxGap { arguments += ["--max-gap", Format.plain(maxGap)] }
        if loop { arguments.append("--loop") }
        if copyPast { arguments.append("--copy-past") }
        return arguments
    }
}

extension Scenario.Capture: CustomStringConvertible {
    public var description: String {
        "a capture the simulator wrote: \(Format.plain(seconds)) s of live market" + (history.map { " after \($0) of history" } ?? "")
    }
}

extension HistorySpec {
    /// The simulator's options for this past (`--history-days` / `--history-records`).
    var arguments: [String] {
        switch self {
        case .days(let days): return ["--history-days", String(days)]
        case .records(let records): return ["--history-records", String(records)]
        }
    }
}
