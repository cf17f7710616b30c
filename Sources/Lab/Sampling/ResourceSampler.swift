import Foundation
import NIOConcurrencyHelpers

/// Reads `/proc` every `interval` for the bridge (CPU, memory, threads, descriptors, sockets on its
/// port), the generator, the simulator and the whole machine. The processes are looked up on each
/// reading, so a bridge restarted under a new PID is followed.
public final class ResourceSampler: Sendable {
    public struct Targets: Sendable {
        public var bridge: Int32?
        public var loadgen: Int32?
        public var simulator: Int32?
        public init(bridge: Int32? = nil, loadgen: Int32? = nil, simulator: Int32? = nil) {
            self.bridge = bridge
            self.loadgen = loadgen
            self.simulator = simulator
        }
    }

    public let port: Int
    public let interval: Duration
    private let targets: @Sendable () -> Targets
    private let samples = NIOLockedValueBox<[ResourceSample]>([])

    public init(port: Int, interval: Duration = .milliseconds(100), targets: @escaping @Sendable () -> Targets) {
        self.port = port
        self.interval = interval
        self.targets = targets
    }

    public var all: [ResourceSample] { samples.withLockedValue { $0 } }
    public var latest: ResourceSample? { samples.withLockedValue { $0.last } }
    /// The last `count` samples.
    public func recent(_ count: Int) -> [ResourceSample] { samples.withLockedValue { Array($0.suffix(count)) } }

    /// A process's CPU between two readings, as % of one core.
    struct Previous {
        var figures: [Int32: (ProcReader.ProcessFigures, Double)] = [:]
        var machine: ProcReader.MachineCPU?

        mutating func percent(_ pid: Int32?, now: Double, tree: Bool = false) -> (user: Double, system: Double, figures: ProcReader.ProcessFigures?) {
            guard let pid, let figures = tree ? ProcReader.tree(pid) : ProcReader.process(pid) else { return (0, 0, nil) }
            defer { self.figures[pid] = (figures, now) }
            guard let (before, at) = self.figures[pid], now > at else { return (0, 0, figures) }
            let seconds = now - at
            return (
                (figures.userSeconds - before.userSeconds) / seconds * 100, (figures.systemSeconds - before.systemSeconds) / seconds * 100, figures
            )
        }
    }

    /// Samples until cancelled.
    public func run() async {
        var previous = Previous()
        _ = takeSample(&previous)
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if let sample = takeSample(&previous) { samples.withLockedValue { $0.append(sample) } }
        }
    }

    /// One reading; the first one only primes the CPU counters.
    func takeSample(_ previous: inout Previous) -> ResourceSample? {
        let targets = self.targets()
        // One instant for both the CPU rates and the sample's time stamp: rates × intervals then
        // add up exactly to the CPU time spent, however late the sampler runs.
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let now = Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9
        let at = Int64(clock.tv_sec) * 1_000_000 + Int64(clock.tv_nsec) / 1000
        let primed = previous.machine != nil
        // The bridge with everything it started (one process for the reference bridge).
        let bridge = previous.percent(targets.bridge, now: now, tree: true)
        let loadgen = previous.percent(targets.loadgen, now: now)
        let simulator = previous.percent(targets.simulator, now: now)
        let machine = ProcReader.machineCPU()
        let machinePercent = machine.flatMap { current in previous.machine.map { current.percent(since: $0) } } ?? 0
        previous.machine = machine
        guard primed else { return nil }
        return ResourceSample(
            at: at,
            bridgeUserPercent: bridge.user,
            bridgeSystemPercent: bridge.system,
            bridgeRSSMB: bridge.figures?.residentMB ?? 0,
            bridgePeakRSSMB: bridge.figures?.peakResidentMB ?? 0,
            bridgeThreads: bridge.figures?.threads ?? 0,
            bridgeDescriptors: bridge.figures?.descriptors ?? 0,
            sockets: SocketStates.read(port: port),
            machinePercent: machinePercent,
            loadgenPercent: loadgen.user + loadgen.system,
            loadgenRSSMB: loadgen.figures?.residentMB ?? 0,
            simulatorPercent: simulator.user + simulator.system,
            simulatorRSSMB: simulator.figures?.residentMB ?? 0,
            bridgeAlive: bridge.figures != nil,
            bridgeProcesses: bridge.figures?.processes ?? 0
        )
    }
}
