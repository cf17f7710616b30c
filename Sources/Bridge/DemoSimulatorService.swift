import Foundation
import Logging
import MarketSim
import ServiceLifecycle
import Synchronization

/// `bridge --demo`: an embedded simulator writing to a temporary folder, run as a service beside
/// the bridge so that one command shows live data flowing, with no Sierra Chart.
final class DemoSimulatorService: Service, Sendable {
    let simulation: SimulationHandle
    private let logger: Logger

    /// Creates the folder and the simulation (and writes its first records) right away, so the
    /// bridge finds contracts when it starts.
    init(folder: String, rate: Double, flushMilliseconds: Int, logger: Logger) throws {
        let config = SimulationConfig(dataDirectory: folder, roots: ["NQ", "ES", "VX"], rate: rate, flushMilliseconds: flushMilliseconds)
        let simulation = try Simulation(config: config)
        try simulation.advance(to: 0.001)
        try simulation.finish()
        self.simulation = SimulationHandle(simulation)
        self.logger = logger
    }

    public func run() async throws {
        let thread = Thread { [simulation, logger] in
            do {
                _ = try simulation.value.run { simulation.stop.load(ordering: .relaxed) }
            } catch {
                logger.error("demo simulator stopped: \(error)")
            }
            simulation.finished.store(true, ordering: .releasing)
        }
        thread.name = "demo-simulator"
        thread.start()
        try? await gracefulShutdown()
        simulation.stop.store(true, ordering: .relaxed)
        while !simulation.finished.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(10)) }
    }
}

/// The simulation, handed to its own thread (it is used by that thread only).
final class SimulationHandle: @unchecked Sendable {
    let value: Simulation
    let stop = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)

    init(_ value: Simulation) {
        self.value = value
    }
}
