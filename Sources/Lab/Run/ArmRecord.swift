import MarketSim
import Processes
import Swarm

/// What the runner saw of one arm, saved as `arm.json` beside the raw samples: everything a
/// report needs that is not a sample, a scrape or loadgen's summary.
public struct ArmRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Ran its whole course (the bridge may still have failed KPIs).
        case completed
        /// The bridge process ended by itself during the run.
        case crashed
        /// Ctrl-C: cut short, its figures are partial.
        case interrupted
        /// The harness could not run it (a bridge that never started, loadgen that failed).
        case error
        /// A scale step after the knee, or an arm after an interruption.
        case notRun = "not-run"
    }

    /// A moment worth marking on the time axis.
    public struct Marker: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable { case fault, event, crash, hang, restart, phase }
        /// Unix µs.
        public var at: Int64
        public var kind: Kind
        public var label: String
    }

    /// A `.scid` file as the bridge first saw it.
    public struct DataFile: Sendable, Codable, Equatable {
        public var bytes: Int
        public var records: Int
    }

    public struct Connections: Sendable, Codable, Equatable {
        public var descriptors: Int
        public var sockets: SocketStates
    }

    public var name: String
    public var mode: String
    public var role: Scenario.Role
    public var status: Status = .notRun
    public var error: String?
    public var clients = 0
    public var kinds: [String: Double] = [:]
    public var port = 0
    public var commands: [String: String] = [:]
    /// The bridge measured: nil for the reference bridge; else what its command was.
    public var foreignBridge: String?
    /// The profile the swarm talked to the bridge through (nil: the reference protocol).
    public var profile: String?
    /// Whether the runner followed a dashboard stream (the reference bridge's, or the one a
    /// foreign bridge's profile names).
    public var dashboardFollowed = false
    /// Unix µs: when the swarm started and ended (the time axis's zero and end).
    public var swarmStart: Int64 = 0
    public var swarmEnd: Int64 = 0
    /// Warm-up end: resource figures start here.
    public var measureFrom: Int64 = 0
    /// Ramp-down start (or the swarm's end): steady-state figures stop here.
    public var measureTo: Int64 = 0
    public var markers: [Marker] = []
    /// Every way a bridge process ended; those not requested are crashes.
    public var bridgeEndings: [ChildProcess.Ending] = []
    /// Before the swarm connected, and after it left and the settle time passed.
    public var before: Connections?
    public var after: Connections?
    /// The `.scid` files when the bridge started (a past written before the run shows here).
    public var dataFiles: [String: DataFile]? = nil
    /// With an idle window: when the bridge ran with no client (Unix µs).
    public var idleFrom: Int64? = nil
    public var idleTo: Int64? = nil
    /// For a replayed market: what was replayed and how far behind its schedule it wrote.
    public var replay: ReplayRun? = nil

    /// A replay as this arm ran it, read back from its write journal.
    public struct ReplayRun: Sendable, Codable, Equatable {
        /// The folder replayed, or what the simulator captured for it.
        public var source: String
        public var speed: Double
        /// Unix µs: the window's start.
        public var windowStart: Int64?
        public var records = 0
        public var loops = 0
        public var lag: ReplayLag?
    }
    public var dashboardEvents: [Int64] = []
    /// Outages the runner caused itself (a kill fault): from the SIGKILL until the restarted bridge
    /// answered /health, Unix µs. Left out of uptime and failure analysis, and said so.
    public var outages: [Outage] = []

    public struct Outage: Sendable, Codable, Equatable {
        public var from: Int64
        public var to: Int64

        public func contains(_ at: Int64) -> Bool { at >= from && at <= to }
    }

    /// Whether `at` falls in an outage the runner caused.
    public func injectedOutage(at: Int64) -> Bool { outages.contains { $0.contains(at) } }
    public var hangs: [Int64] = []
    public var loadgenStatus: Int32?
    /// What a short request cost with the swarm connected (a scenario's `request_cost`), per path.
    public var requestCosts: [RequestCost] = []

    /// Rounds of `requests` GETs of `path`, one after another on new connections, after the measured window
    /// with the swarm still connected (``RequestCostProbe``).
    public struct RequestCost: Sendable, Codable, Equatable {
        public var path: String
        /// Unix µs the measurement began.
        public var at: Int64
        /// ESTABLISHED sockets on the bridge's port when it began.
        public var openConnections: Int
        public var requests: Int
        public var failures: Int
        /// Wall time of the requests.
        public var seconds: Double
        /// From the request's send to its whole answer, µs.
        public var answer: LoadgenReport.Percentiles
        /// The bridge's CPU just before (% of a core; the median of three 400 ms windows), taken off the requests' share.
        public var backgroundPercent: Double?
        /// The bridge's CPU per request, less its background rate: the median round's.
        public var cpuMicrosecondsPerRequest: Double?
        /// Each round: its wall time and CPU per request.
        public var rounds: [Round] = []

        public struct Round: Sendable, Codable, Equatable {
            public var seconds: Double
            public var cpuMicrosecondsPerRequest: Double?
        }
    }
    /// The descriptor limit and allocator the bridge ran with, and whether jemalloc was seen mapped
    /// into it (`/proc/PID/maps`).
    public var launch = Launch()
    public var allocatorLoaded: Bool?

    public init(name: String, mode: String, role: Scenario.Role) {
        self.name = name
        self.mode = mode
        self.role = role
    }

    public var crashes: [ChildProcess.Ending] { bridgeEndings.filter { !$0.requested } }
    public var isEventMode: Bool { mode == "event" }
}
