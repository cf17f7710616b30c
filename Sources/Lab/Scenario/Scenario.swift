import MarketSim
import Swarm

/// A scenario: one market, one swarm, one fault timeline, run against one or more bridge arms, one
/// after the other, each with a fresh bridge process (docs/SCENARIOS.md).
public struct Scenario: Sendable, Codable, Equatable {
    public var name: String
    public var description: String = ""
    /// Seconds the swarm runs in each arm.
    public var duration: Double = 40
    /// Seconds at the start of the swarm's run left out of the resource figures (CPU, memory trend).
    public var warmup: Double = 5
    /// Seconds after the swarm has left before connections and descriptors are checked for leaks.
    public var settle: Double = 3
    /// Seconds the bridge runs with no client before the swarm starts (its idle cost is reported).
    public var idle: Double = 0
    public var market = Market()
    public var swarm = SwarmPlan()
    /// Faults timed from the swarm's start, parsed once: `cut:15:3`, `kill:20:1`, …
    /// (docs/LOADGEN.md). The runner applies `kill` itself; loadgen's proxy applies the rest.
    public var faults: [ScheduledFault] = []
    public var bridge = BridgeSettings()
    public var arms: [Arm] = []
    /// Steps of a `scale` scenario: the candidate arm runs once per client count, in order.
    public var scale: Scale?
    /// Overrides of the KPI targets, by KPI id.
    public var kpis: [String: KPIOverride] = [:]
    /// What a short request costs with the swarm connected, measured after the window.
    public var requestCost: RequestCost?

    public init(name: String) { self.name = name }

    /// `request_cost:`: after the measured window, with every client still connected, the runner
    /// sends, for each of `paths`, three rounds of `requests` GETs one after another (each on a
    /// new connection) and reads the bridge's CPU over each. The swarm stays connected for them (``holdSeconds`` longer).
    public struct RequestCost: Sendable, Codable, Equatable {
        /// Each measured in turn (`/health`, `/api/live_data/NQ`).
        public var paths = ["/health"]
        public var requests = 1000

        public init() {}

        /// How much longer the swarm stays: a second of background reading, and the requests at
        /// a pessimistic 2 ms each (a slow bridge is cut short by the swarm leaving; the count
        /// answered says so).
        public var holdSeconds: Double { Double(paths.count) * (2 + Double(requests * RequestCostProbe.rounds) * 0.002) + 1 }
    }

    /// The simulated Sierra Chart.
    public struct Market: Sendable, Codable, Equatable {
        public var symbols = ["NQ", "ES", "VX"]
        /// Records per second over all symbols.
        public var rate: Double = 300
        /// The simulator's flush interval (0: every record).
        public var flushMilliseconds = 0
        /// `bursty` (quiet, normal and spike regimes) or `steady` (Poisson).
        public var arrivals = "bursty"
        public var seed: UInt64 = 7
        /// Simulator events timed from the swarm's start, parsed once: `burst:10:5:3`, `rollover:20:NQ`, …
        public var events: [ScriptedEvent] = []
        public var splitWrites: Double = 0
        /// The files start with a past: `{days: N}` or `{records: N}` per contract (nil: empty files).
        public var history: HistorySpec?
        /// A recorded market replayed instead of a simulated one (nil: the simulator's market).
        public var replay: Replay?
        /// Expired contracts in the folder, as a trader's Data folder holds them (nil: none).
        public var expired: Expired?
        public init() {}
    }

    /// Per root, `contracts` expired contracts of `records` records each (`simulator --expired-contracts`).
    public struct Expired: Sendable, Codable, Equatable {
        public var contracts: Int
        public var records = 20_000
        public init(contracts: Int) { self.contracts = contracts }
    }

    /// A captured Data folder replayed live (`simulator replay`, docs/REPLAY.md).
    public struct Replay: Sendable, Codable, Equatable {
        /// The captured Data folder; nil: one the simulator writes first (``capture``), with the
        /// market's symbols, rate, flush, seed and events.
        public var from: String?
        public var capture = Capture()
        /// The window (Unix µs); nil start: the capture's session (for a folder: its last day).
        public var start: Int64?
        public var end: Int64?
        /// Each arm's speed unless it sets its own (`replay_speed`).
        public var speed: Double = 1
        public var maxGap: Double?
        /// Start the window again at its end: the arm's run is longer than most windows.
        public var loop = true
        /// The files start with the capture's past, so the bridge meets their real size.
        public var copyPast = true
        public init() {}
    }

    /// The session the simulator writes for a replay: a past, then `seconds` of live market
    /// (with the market's events, timed from its start), written at once.
    public struct Capture: Sendable, Codable, Equatable {
        public var seconds: Double = 120
        public var history: HistorySpec? = .days(1)
        public init() {}
    }

    /// The clients, as loadgen runs them.
    public struct SwarmPlan: Sendable, Codable, Equatable {
        public var clients = 20
        /// loadgen's `RLIMIT_NOFILE` (soft and hard), set by `bridgelab launch` before it starts;
        /// nil: loadgen raises its soft limit to the hard one itself.
        public var descriptorLimit: Int?
        /// Kind → weight: `{ws: 8, poll: 2}`.
        public var kinds: [String: Double] = ["ws": 1]
        /// Default: the market's symbols.
        public var symbols: [String]?
        public var channels = ["trades", "quotes", "depth", "stats"]
        public var arrivalRate: Double?
        public var rampDown: Double = 0
        public var pollRate: Double = 4
        public var cacheReads: Double = 4
        public var slowDelayMilliseconds = 20
        /// The clients' `max_rate` on state channels (nil: every update).
        public var maxRate: Double?
        public init() {}
    }

    /// Flags every arm's bridge gets, before the arm's own, and how it is launched.
    public struct BridgeSettings: Sendable, Codable, Equatable {
        public var flags: [String] = []
        /// The descriptor limit and allocator (an arm may override either).
        public var launch = Launch()
        public init() {}
    }

    /// One bridge configuration to measure.
    public struct Arm: Sendable, Codable, Equatable {
        public var name: String
        /// `event`, `polling-naive` or `polling-cached`.
        public var mode = "event"
        /// A baseline is measured and judged like any arm, but its KPIs do not decide the exit
        /// code: it is what the candidates are compared with.
        public var role = Role.candidate
        public var flags: [String] = []
        /// This arm's clients, where they differ from the scenario's (pollers for a polling bridge).
        public var swarm: SwarmOverride?
        /// This arm's descriptor limit and allocator, where they differ from the scenario's.
        public var descriptorLimit: Int?
        public var allocator: String?
        /// This arm's replay speed, where it differs from the market's.
        public var replaySpeed: Double?
        /// This arm's expired contracts, where they differ from the market's (a folder-size axis).
        public var expired: Expired?
        /// The profile file (resolved path) the swarm talks to this arm's bridge through; nil:
        /// the reference bridge's own protocol and clients (docs/PROFILES.md).
        public var profile: String?
        /// A bridge BridgeLab did not build, started by its own command (nil: the reference bridge).
        public var bridge: ForeignBridge?
        /// This candidate's clients get the information the baselines' clients get (the latest
        /// state, as often as a poller asks): the plan's CPU comparison is judged on it, and on no
        /// arm that delivers more (every update) or other (bars) information.
        public var matchesBaseline = false

        public init(name: String, mode: String = "event") {
            self.name = name
            self.mode = mode
        }
    }

    public enum Role: String, Sendable, Codable, Equatable {
        case candidate, baseline
    }

    /// What an arm may change of the swarm.
    public struct SwarmOverride: Sendable, Codable, Equatable {
        public var clients: Int?
        public var kinds: [String: Double]?
        public var channels: [String]?
        public var maxRate: Double?
        public var cacheReads: Double?
        public init() {}
    }

    public struct Scale: Sendable, Codable, Equatable {
        /// Client counts, one step each, ascending.
        public var clients: [Int]
        /// Stop at the first step that fails a KPI (the knee is the step before).
        public var stopAtFailure = true
    }

    public struct KPIOverride: Sendable, Codable, Equatable {
        public var plan: Double?
        public var lab: Double?
        /// `false` leaves the KPI out of this scenario (it shows as not applicable, with why).
        public var enabled = true
        public init() {}
    }

    /// The arms actually run: a `scale` scenario repeats its candidate once per step.
    public var expandedArms: [Arm] {
        guard let scale else { return arms }
        var result = arms.filter { $0.role == .baseline }
        guard let candidate = arms.first(where: { $0.role == .candidate }) else { return result }
        for clients in scale.clients {
            var step = candidate
            step.name = "\(candidate.name)@\(clients)"
            var swarm = step.swarm ?? SwarmOverride()
            swarm.clients = clients
            step.swarm = swarm
            result.append(step)
        }
        return result
    }

    /// The folder holding the scenario's `scenarios/` folder (placeholders `{package}` and the
    /// default working directory of a foreign bridge), set by the loader.
    public var packageFolder: String?

    /// How an arm's bridge is launched: the scenario's settings, with the arm's own on top.
    public func launch(for arm: Arm) -> Launch {
        var launch = bridge.launch
        if let limit = arm.descriptorLimit { launch.descriptorLimit = limit }
        if let allocator = arm.allocator { launch.allocator = allocator }
        return launch
    }

    /// The swarm an arm runs.
    public func swarm(for arm: Arm) -> SwarmPlan {
        var plan = swarm
        if let override = arm.swarm {
            if let clients = override.clients { plan.clients = clients }
            if let kinds = override.kinds { plan.kinds = kinds }
            if let channels = override.channels { plan.channels = channels }
            if let rate = override.maxRate { plan.maxRate = rate }
            if let reads = override.cacheReads { plan.cacheReads = reads }
        }
        if plan.symbols == nil { plan.symbols = market.symbols }
        return plan
    }
}
