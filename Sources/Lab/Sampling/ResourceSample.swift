/// One reading of the bridge, the generator, the simulator and the machine (every 100 ms).
public struct ResourceSample: Sendable, Equatable {
    /// Unix µs of the reading.
    public var at: Int64
    /// Bridge CPU since the previous reading, % of one core (user and system apart).
    public var bridgeUserPercent: Double
    public var bridgeSystemPercent: Double
    public var bridgeRSSMB: Double
    public var bridgePeakRSSMB: Double
    public var bridgeThreads: Int
    public var bridgeDescriptors: Int
    public var sockets: SocketStates
    /// Every core, 0–100.
    public var machinePercent: Double
    public var loadgenPercent: Double
    public var loadgenRSSMB: Double
    public var simulatorPercent: Double
    public var simulatorRSSMB: Double
    /// Whether the bridge process was there at all.
    public var bridgeAlive: Bool
    /// Processes in the bridge's tree (a foreign bridge's workers and helpers; 1 for ours).
    public var bridgeProcesses = 1

    public var bridgePercent: Double { bridgeUserPercent + bridgeSystemPercent }

    static let socketColumns = ["ESTABLISHED", "CLOSE_WAIT", "TIME_WAIT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "LAST_ACK", "LISTEN"]

    public static let csvHeader =
        "unix_us,bridge_alive,bridge_user_pct,bridge_system_pct,bridge_rss_mb,bridge_peak_rss_mb,bridge_threads,bridge_fds,"
        + socketColumns.map { "tcp_\($0.lowercased())" }.joined(separator: ",")
        + ",machine_cpu_pct,loadgen_cpu_pct,loadgen_rss_mb,simulator_cpu_pct,simulator_rss_mb,bridge_processes"

    public var csvRow: String {
        var fields: [String] = [
            "\(at)", bridgeAlive ? "1" : "0", Self.number(bridgeUserPercent), Self.number(bridgeSystemPercent), Self.number(bridgeRSSMB),
            Self.number(bridgePeakRSSMB), "\(bridgeThreads)", "\(bridgeDescriptors)",
        ]
        fields += Self.socketColumns.map { "\(sockets[$0])" }
        fields += [
            Self.number(machinePercent), Self.number(loadgenPercent), Self.number(loadgenRSSMB), Self.number(simulatorPercent),
            Self.number(simulatorRSSMB), "\(bridgeProcesses)",
        ]
        return fields.joined(separator: ",")
    }

    /// Reads a row written by ``csvRow`` (nil for a malformed one).
    public init?(csv line: Substring) {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let columns = 8 + Self.socketColumns.count + 5
        // Runs saved before the process count have one column less.
        guard f.count == columns || f.count == columns + 1, let at = Int64(f[0]) else { return nil }
        let numbers = f.map { Double($0) ?? 0 }
        self.at = at
        bridgeAlive = f[1] == "1"
        bridgeUserPercent = numbers[2]
        bridgeSystemPercent = numbers[3]
        bridgeRSSMB = numbers[4]
        bridgePeakRSSMB = numbers[5]
        bridgeThreads = Int(numbers[6])
        bridgeDescriptors = Int(numbers[7])
        var counts: [String: Int] = [:]
        for (i, name) in Self.socketColumns.enumerated() { counts[name] = Int(numbers[8 + i]) }
        sockets = SocketStates(counts: counts)
        let rest = 8 + Self.socketColumns.count
        machinePercent = numbers[rest]
        loadgenPercent = numbers[rest + 1]
        loadgenRSSMB = numbers[rest + 2]
        simulatorPercent = numbers[rest + 3]
        simulatorRSSMB = numbers[rest + 4]
        bridgeProcesses = f.count > columns ? Int(numbers[rest + 5]) : 1
    }

    public init(
        at: Int64,
        bridgeUserPercent: Double,
        bridgeSystemPercent: Double,
        bridgeRSSMB: Double,
        bridgePeakRSSMB: Double,
        bridgeThreads: Int,
        bridgeDescriptors: Int,
        sockets: SocketStates,
        machinePercent: Double,
        loadgenPercent: Double,
        loadgenRSSMB: Double,
        simulatorPercent: Double,
        simulatorRSSMB: Double,
        bridgeAlive: Bool,
        bridgeProcesses: Int = 1
    ) {
        self.at = at
        self.bridgeUserPercent = bridgeUserPercent
        self.bridgeSystemPercent = bridgeSystemPercent
        self.bridgeRSSMB = bridgeRSSMB
        self.bridgePeakRSSMB = bridgePeakRSSMB
        self.bridgeThreads = bridgeThreads
        self.bridgeDescriptors = bridgeDescriptors
        self.sockets = sockets
        self.machinePercent = machinePercent
        self.loadgenPercent = loadgenPercent
        self.loadgenRSSMB = loadgenRSSMB
        self.simulatorPercent = simulatorPercent
        self.simulatorRSSMB = simulatorRSSMB
        self.bridgeAlive = bridgeAlive
        self.bridgeProcesses = bridgeProcesses
    }

    static func number(_ value: Double) -> String {
        String(format: "%.2f", value)
    }
}
