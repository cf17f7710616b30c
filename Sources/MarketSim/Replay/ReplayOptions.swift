/// What a replay of a captured Sierra Chart Data folder does (`simulator replay`, docs/REPLAY.md).
public struct ReplayOptions: Sendable, Equatable {
    /// The captured Data folder: `.scid` files, and `MarketDepthData/` for the days replayed.
    public var source: String
    /// The folder written, live, as Sierra Chart would have written it.
    public var dataDirectory: String
    /// Roots (`NQ`) or contract names (`NQZ26-CME`) to replay; empty replays every contract.
    public var symbols: [String] = []
    /// Unix µs: the window replayed, [start, end). Nil start: the start of the last UTC day
    /// with data; nil end: the data's end.
    public var start: Int64?
    public var end: Int64?
    /// Record spacing is divided by this; 0 writes as fast as it can.
    public var speed: Double = 1
    /// Seconds: a quiet stretch (a night, a weekend) longer than this is cut to this.
    public var maxGap: Double?
    /// At the window's end, start again from its beginning (the times carry on).
    public var loop = false
    /// Sierra Chart's flush interval: buffered records are written every this many ms (0: each record).
    public var flushMilliseconds = 1_000
    /// Seconds to run; nil runs until the window ends (or, looping, until stopped).
    public var duration: Double?
    /// Replay the `.depth` files of the days replayed.
    public var depth = true
    /// Start each destination file with the source's records before the window (and its depth
    /// files of earlier days), as a Data folder holds its past: the bridge starts on a real size.
    public var copyPast = false
    public var journalFileName = WriteJournal.defaultFileName

    public init(source: String, dataDirectory: String) {
        self.source = source
        self.dataDirectory = dataDirectory
    }
}
