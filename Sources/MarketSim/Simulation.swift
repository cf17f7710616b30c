import Clocks
import SierraFormat

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A synthetic Sierra Chart writing one data folder.
///
/// Time is virtual seconds from the start, mapped to the wall clock for timestamps. ``advance(to:)``
/// generates every market event due by a time, buffers the records and flushes them on the flush
/// schedule; ``run(shouldStop:)`` calls it in step with the wall clock. Tests call ``advance(to:)``
/// directly and need not sleep.
public final class Simulation {
    public let config: SimulationConfig
    public let folder: DataFolder
    public let journal: WriteJournal
    /// Wall-clock time of virtual time 0.
    public let startUnixMicroseconds: Int64

    /// What a run wrote.
    public struct Summary: Sendable, Equatable {
        public var intradayRecords = 0
        public var depthRecords = 0
        public var flushes = 0
        public var splitFlushes = 0
        public var elapsedSeconds = 0.0
    }

    public private(set) var summary = Summary()
    /// What ``SimulationConfig/history`` wrote, per contract.
    public private(set) var history: [HistoryWriter.Written] = []
    /// What ``SimulationConfig/expiredContracts`` wrote.
    public private(set) var expired: ExpiredContracts.Written?
    public private(set) var virtualTime = 0.0

    private var streams: [SymbolStream]
    private var random: SeededRandom
    private var arrivals: ArrivalProcess
    private var nextArrival: Double
    private var nextFlush: Double
    private var script: [ScriptedEvent]
    private var bursts: [(until: Double, multiplier: Double)] = []
    private var dayOffset = 0
    private var intradayScratch: [IntradayRecord] = []
    private var depthScratch: [DepthRecord] = []

    /// One simulated contract and its two files.
    struct SymbolStream {
        var market: SymbolMarket
        var intraday: SierraFileWriter<IntradayFormat>
        var depth: SierraFileWriter<DepthFormat>?
        var depthName: String
        var nextSnapshot: Double
    }

    public init(config: SimulationConfig) throws(SimulatorError) {
        let instruments = try config.validated()
        self.config = config
        self.folder = DataFolder(path: config.dataDirectory)
        try Self.prepareFolder(folder, depth: config.writeDepth)
        self.journal = try WriteJournal(path: config.dataDirectory + "/" + config.journalFileName)
        self.startUnixMicroseconds = config.startUnixMicroseconds ?? WallClock.nowMicroseconds()
        self.random = SeededRandom(seed: config.seed)
        self.arrivals = ArrivalProcess(meanRate: config.rate, pattern: config.arrivals)
        self.script = config.script.sorted { $0.time < $1.time }
        self.nextFlush = Double(config.flushMilliseconds) / 1000
        self.nextArrival = 0
        self.streams = []

        if config.expiredContracts > 0 {
            expired = try ExpiredContracts.write(
                count: config.expiredContracts,
                records: config.expiredRecords,
                instruments: instruments,
                folder: folder,
                before: startUnixMicroseconds,
                seed: config.seed
            )
        }
        if let history = config.history {
            let written = try HistoryWriter.write(
                history,
                instruments: instruments,
                folder: folder,
                end: startUnixMicroseconds,
                seed: config.seed,
                depthDays: config.writeDepth ? config.historyDepthDays : 0
            )
            self.history = written
        }
        let startDate = SCDateTime(unixMicroseconds: startUnixMicroseconds)
        let days = Int((startUnixMicroseconds - startUnixMicroseconds % SCDateTime.microsecondsPerDay) / SCDateTime.microsecondsPerDay)
        let (year, month, _) = CivilDate.fromDaysSinceUnixEpoch(days)
        for instrument in instruments {
            let contract = instrument.frontContract(year: year, month: month)
            var market = SymbolMarket(instrument: instrument, contract: contract, depthLevels: config.depthLevels)
            // A file with a past: the market carries on from its last record.
            if let reader = RecordReader<IntradayFormat>(path: folder.intradayPath(contract: contract.name)), reader.count > 0,
                let last = reader.record(at: reader.count - 1)
            {
                market.carryOn(from: last)
            }
            let stream = try openStream(market: market, date: startDate.utcDateString)
            streams.append(stream)
        }
        try journal.record(
            JournalEntry(
                writtenAt: WallClock.nowMicroseconds(),
                kind: .event,
                file: "*",
                generation: 0,
                event: "start",
                detail: "seed=\(config.seed) rate=\(config.rate) flush_ms=\(config.flushMilliseconds)"
            )
        )
        for index in streams.indices { try writeSnapshot(index) }
        nextArrival = arrivals.next(after: 0, burst: 1, random: &random)
    }

    /// The contracts being written now.
    public var contracts: [ContractSymbol] { streams.map(\.market.contract) }

    /// Runs in step with the wall clock until the duration ends or `shouldStop` says so, then
    /// flushes everything buffered.
    public func run(shouldStop: () -> Bool) throws(SimulatorError) -> Summary {
        let started = WallClock.monotonicNanoseconds()
        while !shouldStop() {
            let now = Double(WallClock.monotonicNanoseconds() - started) / 1e9
            if let duration = config.duration, now >= duration {
                try advance(to: duration)
                break
            }
            try advance(to: now)
            try journal.sync()
            // Wake for the next flush (or the next record when every record is flushed), but at
            // least every 50 ms so a stop request is seen promptly.
            let due = config.flushMilliseconds == 0 ? nextArrival : nextFlush
            let next = min(due, script.first?.time ?? .infinity, config.duration ?? .infinity)
            let wait = min(0.05, next - Double(WallClock.monotonicNanoseconds() - started) / 1e9)
            if wait > 0.000_05 { usleep(UInt32(wait * 1e6)) }
        }
        try finish()
        summary.elapsedSeconds = Double(WallClock.monotonicNanoseconds() - started) / 1e9
        return summary
    }

    /// Writes the whole duration at once, as fast as it can, timed as if it had run live from
    /// the start: a capture of a session, to replay (the journal's write times are the real ones).
    public func runAtOnce() throws(SimulatorError) -> Summary {
        let started = WallClock.monotonicNanoseconds()
        guard let duration = config.duration else { throw .invalidOption("writing at once needs a duration") }
        try advance(to: duration)
        try finish()
        summary.elapsedSeconds = Double(WallClock.monotonicNanoseconds() - started) / 1e9
        return summary
    }

    /// Generates and writes everything due up to virtual time `time`.
    public func advance(to time: Double) throws(SimulatorError) {
        while true {
            let flushDue = config.flushMilliseconds > 0 ? nextFlush : .infinity
            let scriptDue = script.first?.time ?? .infinity
            let next = min(nextArrival, flushDue, scriptDue)
            guard next <= time else { break }
            virtualTime = next
            if scriptDue == next {
                try apply(script.removeFirst())
            } else if flushDue == next {
                try flushAll()
                let interval = Double(config.flushMilliseconds) / 1000
                nextFlush += interval
                if nextFlush <= time - interval { nextFlush = (time / interval).rounded(.down) * interval + interval }
            } else {
                try generateEvent()
            }
        }
        virtualTime = max(virtualTime, time)
    }

    /// Flushes what is buffered and closes the journal's entries for this run.
    public func finish() throws(SimulatorError) {
        try flushAll()
        try journal.record(JournalEntry(writtenAt: WallClock.nowMicroseconds(), kind: .event, file: "*", generation: 0, event: "stop"))
        try journal.sync()
    }

    // MARK: - Events

    private func generateEvent() throws(SimulatorError) {
        let index = Int(random.next() % UInt64(streams.count))
        let unix = unixTime(nextArrival)
        if streams[index].nextSnapshot <= nextArrival { try writeSnapshot(index) }
        intradayScratch.removeAll(keepingCapacity: true)
        depthScratch.removeAll(keepingCapacity: true)
        streams[index].market.step(at: unix, random: &random, intraday: &intradayScratch, depth: &depthScratch)
        streams[index].intraday.append(contentsOf: intradayScratch)
        summary.intradayRecords += intradayScratch.count
        if let depth = streams[index].depth {
            depth.append(contentsOf: depthScratch)
            summary.depthRecords += depthScratch.count
        }
        if config.flushMilliseconds == 0 { try flush(index) }
        bursts.removeAll { $0.until <= nextArrival }
        let multiplier = bursts.reduce(1.0) { $0 * $1.multiplier }
        nextArrival = arrivals.next(after: nextArrival, burst: multiplier, random: &random)
    }

    private func apply(_ event: ScriptedEvent) throws(SimulatorError) {
        let now = WallClock.nowMicroseconds()
        switch event {
        case .burst(let at, let multiplier, let duration):
            bursts.append((at + duration, multiplier))
            // The next arrival was drawn at the old rate; draw it again at the new one.
            nextArrival = arrivals.next(after: at, burst: bursts.reduce(1.0) { $0 * $1.multiplier }, random: &random)
            try journal.record(
                JournalEntry(writtenAt: now, kind: .event, file: "*", generation: 0, event: "burst", detail: "x\(multiplier) for \(duration)s")
            )
        case .rollover(_, let root):
            for index in streams.indices where root == nil || streams[index].market.instrument.root == root {
                try flush(index)
                let old = streams[index].market.contract
                let next = streams[index].market.instrument.nextContract(after: old)
                streams[index].intraday.close()
                streams[index].depth?.close()
                var market = streams[index].market
                market.roll(to: next)
                streams[index] = try openStream(market: market, date: depthDate())
                try writeSnapshot(index)
                try journal.record(
                    JournalEntry(
                        writtenAt: WallClock.nowMicroseconds(),
                        kind: .event,
                        file: next.name,
                        generation: 0,
                        event: "rollover",
                        detail: "from \(old.name)"
                    )
                )
            }
        case .rewrite(_, let root, let keepFraction):
            for index in streams.indices where root == nil || streams[index].market.instrument.root == root {
                let writer = streams[index].intraday
                try flush(index)
                let keep = Int((Double(writer.recordCount) * keepFraction).rounded(.down))
                try writer.rewrite(keepingFirst: keep)
                try journal.record(
                    JournalEntry(
                        writtenAt: WallClock.nowMicroseconds(),
                        kind: .event,
                        file: streams[index].market.contract.name,
                        generation: writer.generation,
                        event: "rewrite",
                        detail: "kept \(keep) records"
                    )
                )
            }
        case .newDay:
            dayOffset += 1
            for index in streams.indices where streams[index].depth != nil {
                try flush(index)
                streams[index].depth?.close()
                let name = streams[index].market.contract.name + "." + depthDate()
                streams[index].depth = try SierraFileWriter<DepthFormat>(path: folder.depthPath + "/" + name + DataFolder.depthExtension)
                streams[index].depthName = name
                try writeSnapshot(index)
                try journal.record(JournalEntry(writtenAt: WallClock.nowMicroseconds(), kind: .event, file: name, generation: 0, event: "new-day"))
            }
        }
    }

    // MARK: - Files

    private func openStream(market: SymbolMarket, date: String) throws(SimulatorError) -> SymbolStream {
        let contract = market.contract.name
        let intraday = try SierraFileWriter<IntradayFormat>(path: folder.intradayPath(contract: contract))
        var depth: SierraFileWriter<DepthFormat>?
        if config.writeDepth {
            depth = try SierraFileWriter<DepthFormat>(path: folder.depthPath(contract: contract, date: date))
        }
        return SymbolStream(market: market, intraday: intraday, depth: depth, depthName: contract + "." + date, nextSnapshot: 0)
    }

    private func writeSnapshot(_ index: Int) throws(SimulatorError) {
        streams[index].nextSnapshot = virtualTime + config.depthSnapshotInterval
        guard let depth = streams[index].depth else { return }
        depthScratch.removeAll(keepingCapacity: true)
        streams[index].market.depthSnapshot(at: unixTime(virtualTime), random: &random, into: &depthScratch)
        depth.append(contentsOf: depthScratch)
        summary.depthRecords += depthScratch.count
        if config.flushMilliseconds == 0 { try flush(index) }
    }

    private func flushAll() throws(SimulatorError) {
        for index in streams.indices { try flush(index) }
    }

    private func flush(_ index: Int) throws(SimulatorError) {
        let stream = streams[index]
        if let done = try flushWriter(stream.intraday) {
            try journal.record(
                JournalEntry(
                    writtenAt: done.writtenAt,
                    kind: .scid,
                    file: stream.market.contract.name,
                    generation: stream.intraday.generation,
                    firstIndex: done.firstIndex,
                    count: done.count
                )
            )
        }
        if let depth = stream.depth, let done = try flushWriter(depth) {
            try journal.record(
                JournalEntry(
                    writtenAt: done.writtenAt,
                    kind: .depth,
                    file: stream.depthName,
                    generation: depth.generation,
                    firstIndex: done.firstIndex,
                    count: done.count
                )
            )
        }
    }

    private func flushWriter<F: SierraFileFormat>(_ writer: SierraFileWriter<F>) throws(SimulatorError) -> SierraFileWriter<F>.Flush? {
        guard writer.pendingRecords > 0 else { return nil }
        var splitAt: Int?
        if config.splitProbability > 0, random.chance(config.splitProbability) {
            // End the first write inside a record, so a reader can see a partial one.
            let record = Int(random.next() % UInt64(writer.pendingRecords))
            splitAt = record * F.recordSize + 1 + Int(random.next() % UInt64(F.recordSize - 1))
        }
        let done = try writer.flush(splitAt: splitAt, gapMicroseconds: config.splitGapMicroseconds)
        summary.flushes += 1
        if done?.split == true { summary.splitFlushes += 1 }
        return done
    }

    private func depthDate() -> String {
        SCDateTime(unixMicroseconds: startUnixMicroseconds + Int64(dayOffset) * SCDateTime.microsecondsPerDay).utcDateString
    }

    private func unixTime(_ virtual: Double) -> Int64 {
        startUnixMicroseconds + Int64(virtual * 1e6)
    }

    static func prepareFolder(_ folder: DataFolder, depth: Bool) throws(SimulatorError) {
        for path in [folder.path] + (depth ? [folder.depthPath] : []) {
            if mkdir(path, 0o755) != 0, errno != EEXIST {
                throw .unwritableFolder(path: path, errno: errno)
            }
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw .unwritableFolder(path: path, errno: ENOTDIR)
            }
            guard access(path, W_OK) == 0 else { throw .unwritableFolder(path: path, errno: errno) }
        }
    }
}
