import Swarm

/// The key figures of one arm, each computed from the saved measurements (samples, scrapes,
/// probes, loadgen's summary); the report shows them and the history keeps them.
public struct ArmFigures: Sendable, Codable, Equatable {
    /// Mean over the measured window, % of one core.
    public var bridgeCPU: Double?
    public var bridgeCPUUser: Double?
    public var bridgeCPUSystem: Double?
    public var bridgePeakRSSMB: Double?
    /// Resident memory at the last sample (after the clients left and the settle time).
    public var bridgeFinalRSSMB: Double?
    public var bridgeMaxThreads: Int?
    public var bridgeMaxDescriptors: Int?
    /// RSS trend after warm-up, MB per minute.
    public var memoryTrend: Trend?
    /// Open descriptors after warm-up, per minute.
    public var descriptorTrend: Trend?
    /// TCP sockets on the bridge's port (ESTABLISHED and CLOSE_WAIT) after warm-up, per minute.
    public var socketTrend: Trend?
    public var loadgenCPU: Double?
    public var loadgenPeakRSSMB: Double?
    public var simulatorCPU: Double?
    public var machineCPU: Double?
    /// Share of the measured window's samples with every core busy (≥ 95 %).
    public var machineSaturatedShare: Double?
    public var maxSockets: [String: Int] = [:]
    /// Messages the bridge sent per second in the window (its own counter).
    public var bridgeMessagesPerSecond: Double?
    /// Whether the two above come from the messages the swarm received (a bridge with no
    /// metrics route), not from the bridge's own counter.
    public var messagesCountedByClients = false
    /// Bridge CPU µs per message sent, and loadgen's per message received.
    public var bridgeMicrosecondsPerMessage: Double?
    public var loadgenMicrosecondsPerMessage: Double?
    /// Client HTTP requests in the window, and that rate per hour.
    public var clientRequests: Double?
    public var requestsPerHour: Double?
    /// Write → decode (streaming clients), µs.
    public var updateLatency: LoadgenReport.Percentiles?
    /// Pollers: request time from the intended send, and the age of the data received, µs.
    public var pollRequest: LoadgenReport.Percentiles?
    public var pollStaleness: LoadgenReport.Percentiles?
    /// Pollers: from a record's write to the first answer that carried it, µs.
    public var pollDelivery: LoadgenReport.Percentiles?
    /// With `--trace-timestamps`: write → wake, wake → queued, queued → decoded (µs), by stage name.
    public var stages: [String: LoadgenReport.Percentiles] = [:]
    /// Inside the bridge: wake-up → queued for every subscriber (bucket upper bounds, ms).
    public var detectToSendP50: Double?
    public var detectToSendP99: Double?
    /// Inside the bridge: queued for a WebSocket client → written to its socket (ms, bucket bounds).
    public var queuedToWrittenP50: Double?
    public var queuedToWrittenP99: Double?
    /// Most connections the bridge held at once (its own gauge), and its memory per connection:
    /// resident memory in the measured window over what it was before the swarm, per connection.
    public var peakConnections: Int?
    public var bridgeMemoryPerConnectionKB: Double?
    /// Streaming connections the bridge saw end (its own counter), and the memory each one left
    /// behind: resident memory after the clients left and the settle, minus before they came,
    /// over the connections closed. A leak shows here in any run with enough churn.
    public var connectionsClosed: Int?
    public var memoryKeptPerClosedConnectionKB: Double?
    /// Resident memory regressed on the connections closed so far, after warm-up (MB per closed
    /// connection, with its 95 % margin): what each closed connection adds, apart from one-off
    /// growth before the window (the trade history filling, allocator arenas).
    public var memoryPerClosedTrend: Trend?
    /// The `.scid` files when the bridge started: their sizes say what a figure was measured on.
    public var dataFiles: [String: ArmRecord.DataFile]?
    /// The bridge with no client, before the swarm (an idle window): CPU, mean RSS, descriptors at most.
    public var idleCPU: Double?
    public var idleRSSMB: Double?
    public var idleDescriptors: Int?
    public var idleSeconds: Double?
    /// A short request's cost with the swarm connected (a scenario's `request_cost`), per path.
    public var requestCosts: [ArmRecord.RequestCost] = []
    /// A replayed market: what, at which speed, and how far behind its schedule it wrote.
    public var replay: ArmRecord.ReplayRun?
    /// A bridge BridgeLab did not build: its command (nil: the reference bridge).
    public var foreignBridge: String?
    /// The profile the swarm read the bridge through, how its trades were matched to records
    /// (`time`, `order`, `seq`), how many matched none, and what the clients found wrong with it.
    public var profile: String?
    public var matchedBy: String?
    public var unmatchedTrades: Int?
    public var profileProblems: [String] = []
    /// Most processes in the bridge's tree at once (workers, reloaders, helpers).
    public var bridgeMaxProcesses: Int?
    /// What the arm's clients got: how a figure is read at equal information.
    public var information: Information?
    /// Mean bytes of each delta channel's messages, and of a snapshot (what a poller gets each time).
    public var deltaBytes: [String: Double] = [:]
    public var snapshotBytes: Double?
    public var healthProbes = 0
    public var healthAnswered = 0
    public var healthP99Milliseconds: Double?
    public var dashboardEvents = 0
    public var dashboardMaxGap: Double?
}

/// What an arm's clients got, so that two arms are compared at equal information
/// (docs/SCENARIOS.md): a bridge that sends every change costs more than one that answers four
/// polls a second, and only arms that deliver the same are judged against each other.
public struct Information: Sendable, Codable, Equatable {
    /// What each client asked for, in words: "every update (trades, quotes, depth, stats)",
    /// "the latest state at most 4 a second (quotes, depth, stats)", "bars:1m", "4 polls a second".
    public var wants: String
    /// Market messages (or poll answers) per client per second.
    public var updatesPerClientSecond: Double?
    /// Freshness: from each record's write to the first message (or answer) that carried it, µs.
    public var freshness: LoadgenReport.Percentiles?
    /// Trades received one by one, and bars, per client per second.
    public var tradesPerClientSecond: Double?
    public var barsPerClientSecond: Double?

    /// Whether the clients got the latest state as often as the baselines' pollers: the arm is
    /// comparable with them (by the scenario's `matches_baseline`).
    public var matchesBaseline = false
}
