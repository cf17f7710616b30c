import SierraFormat

/// Settings of the hub.
public struct HubConfiguration: Sendable {
    public var dataDirectory: String
    /// Depth levels per side kept and sent.
    public var depthLevels = 10
    /// Trades kept in memory per contract for resumes; older ones are read back from the file.
    public var historyLimit = 50_000
    /// Most trades replayed for one resume; a client further behind gets `not_recovered` and a snapshot.
    public var maxReplay = 10_000
    /// Price multiplier per contract name or root (raw file units × multiplier = display price).
    public var priceMultipliers: [String: Float] = [:]
    public var maxSubscriptionsPerClient = 64
    /// Serve only these roots (nil: every contract found). A real Sierra Chart folder can hold
    /// hundreds of files; loading only the traded ones keeps start-up and memory small.
    public var includeRoots: Set<String>?
    /// Market updates carry the bridge's wake-up (`tw`) and queued (`tq`) times, Unix µs, so a
    /// client on the same machine can tell where the time went (docs/PROTOCOL.md).
    public var traceTimestamps = false
    /// Seconds a contract nobody needs stays tailed before its files are closed (it is opened again
    /// on demand: resume and snapshots read from file positions).
    public var idleCloseSeconds = 30.0
    /// Most contracts tailed at once (two descriptors each). Opening one more first closes the
    /// least recently needed contract nobody subscribes to; subscribed contracts are always
    /// served. Nil: a quarter of the descriptor limit, less a reserve for connections.
    public var maxTailedContracts: Int?
    /// Closed bars kept in memory per contract and period, for snapshots and resumes.
    public var barsKept = 120
    /// Closed bars of each followed period a snapshot carries.
    public var snapshotBars = 20
    /// How long (µs) past a bar's end the data's clock must be, with no record since, before the
    /// timer closes the bar: Sierra Chart may still write trades stamped inside it that long after
    /// (its flush interval). A record stamped after the end closes it at once.
    public var barCloseGraceMicroseconds: Int64 = 1_000_000

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }
}
