import Dispatch
import SierraFormat
import Synchronization

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// How much past a data folder starts with.
public enum HistorySpec: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The `days` days before the start, at each instrument's session rates.
    case days(Int)
    /// This many `.scid` records per contract, ending at the start, at the same session rates.
    case records(Int)

    public var description: String {
        switch self {
        case .days(let days): return "\(days) days"
        case .records(let records): return "\(records) records"
        }
    }
}

/// When a CME-style futures market trades, minute by minute (UTC): closed from Friday 22:00 to
/// Sunday 23:00 and in the daily halt 22:00–23:00; a quiet night, a busier European morning, a
/// busy open (14:30) and close (20:00–21:00) around a lunch lull. The weights are relative
/// activity; ``Instrument/recordsPerDay`` scales them.
public enum SessionProfile {
    /// Relative activity of the minute that starts at `unixMicroseconds`.
    public static func weight(unixMicroseconds: Int64) -> Double {
        let day = SCDateTime.unixDay(unixMicroseconds)
        let minute = Int((unixMicroseconds - day * SCDateTime.microsecondsPerDay) / 60_000_000)
        // 1970-01-01 was a Thursday: 0 = Thursday … 2 = Saturday, 3 = Sunday, 1 = Friday.
        let weekday = Int(((day % 7) + 7) % 7)
        let hour = Double(minute) / 60
        if weekday == 2 { return 0 }  // Saturday
        if weekday == 1, hour >= 22 { return 0 }  // Friday after the close
        if weekday == 3, hour < 23 { return 0 }  // Sunday before the open
        switch hour {
        case 22..<23: return 0  // the daily halt
        case 14.5..<15.5: return 3  // the open
        case 15.5..<17: return 1.5
        case 17..<19: return 0.7  // lunch
        case 19..<20: return 1.2
        case 20..<21: return 2.5  // the close
        case 13.5..<14.5: return 1  // data releases, pre-open
        case 7..<13.5: return 0.3  // Europe
        case 21..<22: return 0.3
        default: return 0.15  // Asia
        }
    }

    /// The weights of a whole trading day (Monday), summed over its minutes.
    static let dailyWeight: Double = {
        let monday: Int64 = 4 * SCDateTime.microsecondsPerDay  // 1970-01-05
        return (0..<1440).map { weight(unixMicroseconds: monday + Int64($0) * 60_000_000) }.reduce(0, +)
    }()
}

/// Writes a realistic past into a data folder's `.scid` files before a simulation starts: the
/// same market model, at each instrument's session rates along ``SessionProfile``, ending just
/// before `end`. The records are byte-exact Sierra Chart records. With `depthDays`, the last
/// days of a `.days` past also get their depth files, as Sierra Chart keeps them
/// (`MarketDepthData/<contract>.<date>.depth`: a snapshot batch at the start and every ten
/// minutes, then one batch per market event), and today's file starts with today's past.
public enum HistoryWriter {
    public struct Written: Sendable, Equatable {
        public var contract: String
        public var records: Int
        public var bytes: Int
    }

    /// Writes `spec` for each instrument; the files must be missing or empty. `end` is Unix µs.
    public static func write(
        _ spec: HistorySpec,
        instruments: [Instrument],
        folder: DataFolder,
        end: Int64,
        seed: UInt64,
        depthDays: Int = 0
    ) throws(SimulatorError) -> [Written] {
        guard (0...366).contains(depthDays) else { throw .invalidOption("history depth days must be between 0 and 366, got \(depthDays)") }
        switch spec {
        case .days(let days): guard (1...366).contains(days) else { throw .invalidOption("history days must be between 1 and 366, got \(days)") }
        case .records(let records):
            guard (1...2_000_000_000).contains(records) else {
                throw .invalidOption("history records must be between 1 and 2000000000, got \(records)")
            }
        }
        let (year, month, _) = CivilDate.fromDaysSinceUnixEpoch(Int(end / SCDateTime.microsecondsPerDay))
        let contracts = instruments.map { $0.frontContract(year: year, month: month) }
        for contract in contracts {
            let path = folder.intradayPath(contract: contract.name)
            if let existing = RecordReader<IntradayFormat>(path: path), existing.count > 0 {
                throw .invalidOption(
                    "history needs empty files: \(contract.name)\(DataFolder.intradayExtension) already holds \(existing.count) records"
                )
            }
        }
        if case .days = spec, depthDays > 0 {
            for contract in contracts {
                for day in (SCDateTime.unixDay(end) - Int64(depthDays))...SCDateTime.unixDay(end) {
                    let path = folder.depthPath(
                        contract: contract.name,
                        date: SCDateTime(unixMicroseconds: day * SCDateTime.microsecondsPerDay).utcDateString
                    )
                    if let existing = RecordReader<DepthFormat>(path: path), existing.count > 0 {
                        throw .invalidOption("history needs empty files: \(path) already holds \(existing.count) records")
                    }
                }
            }
        }
        // Each contract's past is independent of the others': they are written side by side, one
        // thread each, so a week of three contracts takes what the largest one takes.
        let results = Mutex<[Result<Written, SimulatorError>?]>(Array(repeating: nil, count: instruments.count))
        DispatchQueue.concurrentPerform(iterations: instruments.count) { position in
            let result = Result { () throws(SimulatorError) -> Written in
                try writeOne(
                    spec,
                    instruments[position],
                    contracts[position],
                    folder: folder,
                    end: end,
                    seed: seed &+ 0x9E37_79B9 &* UInt64(position + 1),
                    depthDays: depthDays
                )
            }
            results.withLock { $0[position] = result }
        }
        return try results.withLock { $0 }.map { (result) throws(SimulatorError) -> Written in try result!.get() }
    }

    /// One contract's past, written beside its file and renamed into place: a bridge watching the
    /// folder sees the whole past at once, never a file half written.
    private static func writeOne(
        _ spec: HistorySpec,
        _ instrument: Instrument,
        _ contract: ContractSymbol,
        folder: DataFolder,
        end: Int64,
        seed: UInt64,
        depthDays: Int
    ) throws(SimulatorError) -> Written {
        let path = folder.intradayPath(contract: contract.name)
        let scratch = path + ".history"
        var count = 0
        switch spec {
        case .days(let days):
            // Depth from midnight `depthDays` days before the end's day.
            let depthFrom = depthDays > 0 ? (SCDateTime.unixDay(end) - Int64(depthDays)) * SCDateTime.microsecondsPerDay : nil
            count = try generate(
                instrument,
                contract,
                from: lastMinute(end) - Int64(days) * SCDateTime.microsecondsPerDay,
                end: end,
                seed: seed,
                into: scratch,
                depth: depthFrom.map { (from: $0, folder: folder) }
            )
        case .records(let wanted):
            // Far enough back for the records wanted (with a margin, widened until it is
            // enough), then only the last `wanted` are kept.
            var margin = 1.3
            repeat {
                count = try generate(
                    instrument,
                    contract,
                    from: firstMinute(for: Double(wanted) * margin, instrument, end: end),
                    end: end,
                    seed: seed,
                    into: scratch
                )
                margin *= 2
            } while count < wanted && margin < 100
            if count > wanted { try keepLast(wanted, of: count, in: scratch) }
            count = min(count, wanted)
        }
        guard rename(scratch, path) == 0 else { throw .io(path: path, operation: "rename history into", errno: errno) }
        return Written(contract: contract.name, records: count, bytes: IntradayFormat.headerSize + count * IntradayFormat.recordSize)
    }

    /// Events per minute for `instrument` at a weight of 1.
    static func eventsPerWeight(_ instrument: Instrument) -> Double {
        // About 1.1 records an event (unbundled trades write several).
        instrument.recordsPerDay / 1.1 / SessionProfile.dailyWeight
    }

    static let minute: Int64 = 60_000_000

    /// The last whole minute before `end`.
    static func lastMinute(_ end: Int64) -> Int64 { end / minute * minute - minute }

    /// The first minute from which about `records` records reach the end.
    static func firstMinute(for records: Double, _ instrument: Instrument, end: Int64) -> Int64 {
        let last = lastMinute(end)
        let perWeight = eventsPerWeight(instrument)
        var minutes: Int64 = 0
        var expected = 0.0
        // An instrument that never trades gives up after twenty years.
        while expected * 1.1 < records, minutes < 60 * 24 * 366 * 20 {
            minutes += 1
            expected += SessionProfile.weight(unixMicroseconds: last - minutes * minute) * perWeight
        }
        return last - minutes * minute
    }

    /// Writes the market from minute `first` to just before `end` into a new file at `path`;
    /// returns the records written.
    private static func generate(
        _ instrument: Instrument,
        _ contract: ContractSymbol,
        from first: Int64,
        end: Int64,
        seed: UInt64,
        into path: String,
        depth: (from: Int64, folder: DataFolder)? = nil
    ) throws(SimulatorError) -> Int {
        unlink(path)
        let writer = try SierraFileWriter<IntradayFormat>(path: path)
        defer { writer.close() }
        var random = SeededRandom(seed: seed)
        var market = SymbolMarket(instrument: instrument, contract: contract)
        let perWeight = eventsPerWeight(instrument)
        var records: [IntradayRecord] = []
        records.reserveCapacity(64 * 1024)
        var depthFile = DepthDays(contract: contract.name, folder: depth?.folder)
        var count = 0
        var at = first
        let last = lastMinute(end)
        while at <= last {
            let expected = SessionProfile.weight(unixMicroseconds: at) * perWeight
            // A Poisson count would cost more than the records; a rounded mean with a random
            // fraction keeps the rate exact on average.
            let events = Int(expected) + (random.unit() < expected - expected.rounded(.down) ? 1 : 0)
            if events > 0 {
                let spacing = Double(minute) / Double(events)
                let withDepth = depth.map { at >= $0.from } ?? false
                for event in 0..<events {
                    let time = at + Int64((Double(event) + random.unit()) * spacing)
                    if withDepth {
                        try depthFile.prepare(at: time, market: &market, random: &random)
                        market.step(at: time, random: &random, intraday: &records, depth: &depthFile.pending)
                    } else {
                        market.historyStep(at: time, random: &random, intraday: &records)
                    }
                }
            }
            if records.count >= 60_000 {
                count += records.count
                writer.append(contentsOf: records)
                _ = try writer.flush()
                records.removeAll(keepingCapacity: true)
            }
            try depthFile.flushIfFull()
            at += minute
        }
        count += records.count
        writer.append(contentsOf: records)
        _ = try writer.flush()
        try depthFile.finish()
        return count
    }

    /// The depth files of a past: one per UTC day, a snapshot batch at each file's start and
    /// every ten minutes of record time.
    private struct DepthDays {
        let contract: String
        let folder: DataFolder?
        var pending: [DepthRecord] = []
        private var writer: SierraFileWriter<DepthFormat>?
        private var day: Int64 = .min
        private var nextSnapshot: Int64 = .min
        static let snapshotInterval: Int64 = 600_000_000

        init(contract: String, folder: DataFolder?) {
            self.contract = contract
            self.folder = folder
        }

        /// Before the event at `time`: a new day's file, or a snapshot batch, when due.
        mutating func prepare(at time: Int64, market: inout SymbolMarket, random: inout SeededRandom) throws(SimulatorError) {
            guard let folder else { return }
            let today = SCDateTime.unixDay(time)
            if today != day {
                try flush()
                writer?.close()
                let path = folder.depthPath(contract: contract, date: SCDateTime(unixMicroseconds: time).utcDateString)
                writer = try SierraFileWriter<DepthFormat>(path: path)
                day = today
                nextSnapshot = .min
            }
            if time >= nextSnapshot {
                market.depthSnapshot(at: time, random: &random, into: &pending)
                nextSnapshot = time + Self.snapshotInterval
            }
        }

        mutating func flushIfFull() throws(SimulatorError) {
            if pending.count >= 60_000 { try flush() }
        }

        mutating func flush() throws(SimulatorError) {
            guard let writer, !pending.isEmpty else { return }
            writer.append(contentsOf: pending)
            _ = try writer.flush()
            pending.removeAll(keepingCapacity: true)
        }

        mutating func finish() throws(SimulatorError) {
            try flush()
            writer?.close()
        }
    }

    /// Keeps only the last `wanted` of the `count` records of the file at `path`.
    private static func keepLast(_ wanted: Int, of count: Int, in path: String) throws(SimulatorError) {
        let trimmed = path + ".trimmed"
        unlink(trimmed)
        guard let reader = RecordReader<IntradayFormat>(path: path, chunkRecords: 16_384) else {
            throw .io(path: path, operation: "read back", errno: errno)
        }
        let writer = try SierraFileWriter<IntradayFormat>(path: trimmed)
        var failure: SimulatorError?
        var batch: [IntradayRecord] = []
        batch.reserveCapacity(16_384)
        reader.forEach(in: (count - wanted)..<count) { _, record in
            batch.append(record)
            if batch.count == 16_384 {
                writer.append(contentsOf: batch)
                batch.removeAll(keepingCapacity: true)
                do throws(SimulatorError) { _ = try writer.flush() } catch {
                    failure = error
                    return false
                }
            }
            return true
        }
        if let failure { throw failure }
        writer.append(contentsOf: batch)
        _ = try writer.flush()
        writer.close()
        guard rename(trimmed, path) == 0 else { throw .io(path: path, operation: "rename trimmed history into", errno: errno) }
    }
}
