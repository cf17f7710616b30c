import Foundation
import MarketSim
import SierraFormat

/// A temporary data folder with a simulator whose clock the test drives.
public final class SimulatedFolder: @unchecked Sendable {
    public let path: String
    public let simulation: Simulation
    private(set) var time = 0.0

    public init(
        roots: [String] = ["NQ", "ES"],
        rate: Double = 400,
        flushMilliseconds: Int = 50,
        script: [ScriptedEvent] = [],
        seed: UInt64 = 7
    ) throws {
        path = NSTemporaryDirectory() + "bridgelab-bridge-" + UUID().uuidString
        simulation = try Simulation(
            config: SimulationConfig(
                dataDirectory: path,
                roots: roots,
                rate: rate,
                seed: seed,
                flushMilliseconds: flushMilliseconds,
                script: script,
                startUnixMicroseconds: 1_764_599_400_000_000
            )
        )
        try advance(by: 1)
    }

    /// Writes `seconds` of simulated market (flushing on the simulator's schedule), now.
    public func advance(by seconds: Double) throws {
        time += seconds
        try simulation.advance(to: time)
        try simulation.finish()
    }

    /// Writes in real time: `steps` slices of `seconds / steps`, pausing between them.
    public func stream(seconds: Double, steps: Int) async throws {
        for _ in 0..<steps {
            try advance(by: seconds / Double(steps))
            try await Task.sleep(for: .milliseconds(Int64(seconds / Double(steps) * 1000)))
        }
    }

    public func records(_ contract: String) throws -> [IntradayRecord] {
        try IntradayFormat.readFile(atPath: path + "/" + contract + ".scid").records
    }

    public func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
