/// Everything that determines a simulator run. The same config and seed write the same records.
public struct SimulationConfig: Sendable {
    public var dataDirectory: String
    /// Product roots (`NQ`, `ES`, `VX`, …), see ``Instrument/known``.
    public var roots: [String]
    /// Mean `.scid` records per second, over all symbols (depth records come in addition).
    public var rate: Double
    /// Bursty (regimes and spikes) or steady (Poisson) arrivals at that mean rate.
    public var arrivals: ArrivalPattern = .bursty
    /// Seconds to run; nil runs until stopped.
    public var duration: Double?
    public var seed: UInt64
    /// Flush interval: Sierra Chart's default is 5000, traders often use 1000; 0 writes every record.
    public var flushMilliseconds: Int
    /// Fraction (0–1) of flushes split across two writes so that readers see partial records.
    public var splitProbability: Double
    /// Pause between the two writes of a split flush.
    public var splitGapMicroseconds: Int
    public var writeDepth: Bool
    public var depthLevels: Int
    /// Seconds between depth snapshot batches (Sierra Chart: about ten minutes).
    public var depthSnapshotInterval: Double
    public var script: [ScriptedEvent]
    /// Wall-clock start (Unix µs); nil means now. Fixing it makes the files byte-identical across runs.
    public var startUnixMicroseconds: Int64?
    public var journalFileName: String
    /// A past written into the `.scid` files before the run starts (they must be empty).
    public var history: HistorySpec?
    /// With a `.days` history: how many past days (before today) also get their depth files.
    public var historyDepthDays = 1
    /// Expired contracts written per root before the run (a Data folder of hundreds of files),
    /// each with ``expiredRecords`` records.
    public var expiredContracts = 0
    public var expiredRecords = 20_000

    public init(
        dataDirectory: String,
        roots: [String] = ["NQ", "ES", "VX"],
        rate: Double = 2_000,
        duration: Double? = nil,
        seed: UInt64 = 7,
        flushMilliseconds: Int = 1_000,
        splitProbability: Double = 0,
        splitGapMicroseconds: Int = 300,
        writeDepth: Bool = true,
        depthLevels: Int = 10,
        depthSnapshotInterval: Double = 600,
        script: [ScriptedEvent] = [],
        startUnixMicroseconds: Int64? = nil,
        journalFileName: String = WriteJournal.defaultFileName
    ) {
        self.dataDirectory = dataDirectory
        self.roots = roots
        self.rate = rate
        self.duration = duration
        self.seed = seed
        self.flushMilliseconds = flushMilliseconds
        self.splitProbability = splitProbability
        self.splitGapMicroseconds = splitGapMicroseconds
        self.writeDepth = writeDepth
        self.depthLevels = depthLevels
        self.depthSnapshotInterval = depthSnapshotInterval
        self.script = script
        self.startUnixMicroseconds = startUnixMicroseconds
        self.journalFileName = journalFileName
    }

    /// The instruments for ``roots``, or the error a user should see.
    public func validated() throws(SimulatorError) -> [Instrument] {
        guard !roots.isEmpty else { throw .noSymbols }
        var instruments: [Instrument] = []
        for root in roots {
            guard let instrument = Instrument.named(root.trimmingSpaces()) else {
                throw .unknownRoot(root, known: Instrument.known.map(\.root))
            }
            if !instruments.contains(instrument) { instruments.append(instrument) }
        }
        guard rate.isFinite, rate > 0, rate <= 10_000_000 else { throw .invalidRate(rate) }
        if let duration, !(duration.isFinite && duration > 0) { throw .invalidDuration(duration) }
        guard flushMilliseconds >= 0, flushMilliseconds <= 3_600_000 else { throw .invalidFlushInterval(flushMilliseconds) }
        guard (0...1).contains(splitProbability) else { throw .invalidOption("split probability must be between 0 and 1, got \(splitProbability)") }
        guard splitGapMicroseconds >= 0, splitGapMicroseconds <= 1_000_000 else {
            throw .invalidOption("split gap must be between 0 and 1000000 µs, got \(splitGapMicroseconds)")
        }
        guard (1...100).contains(depthLevels) else { throw .invalidOption("depth levels must be between 1 and 100, got \(depthLevels)") }
        guard depthSnapshotInterval > 0 else { throw .invalidOption("depth snapshot interval must be positive") }
        for event in script {
            switch event {
            case .rollover(_, let root?), .rewrite(_, let root?, _):
                guard instruments.contains(where: { $0.root == root }) else {
                    throw .invalidScript("\(root) is not one of the simulated roots (\(instruments.map(\.root).joined(separator: ",")))")
                }
            default: break
            }
        }
        return instruments
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
