import Dispatch
import SierraFormat
import Synchronization

/// A Data folder's past contracts: Sierra Chart keeps a `.scid` for every contract the trader ever
/// opened, most of them expired. Writes, for each instrument, the `count` contracts listed before
/// the front one, each with `records` records ending in the middle of its own month (when it was
/// the front contract), so a folder holds hundreds of files as a real one does. At most a
/// century of each root's listings (two-digit years repeat after that): 396 quarterly, 1188 monthly.
public enum ExpiredContracts {
    public struct Written: Sendable, Equatable {
        public var contracts: Int
        public var records: Int
        public var bytes: Int
    }

    public static func write(
        count: Int,
        records: Int,
        instruments: [Instrument],
        folder: DataFolder,
        before start: Int64,
        seed: UInt64
    ) throws(SimulatorError) -> Written {
        guard (0...1_200).contains(count) else { throw .invalidOption("expired contracts must be between 0 and 1200 per root, got \(count)") }
        guard (1...10_000_000).contains(records) else {
            throw .invalidOption("records per expired contract must be between 1 and 10000000, got \(records)")
        }
        let (year, month, _) = CivilDate.fromDaysSinceUnixEpoch(Int(SCDateTime.unixDay(start)))
        var jobs: [(Instrument, year: Int, month: Int)] = []
        for instrument in instruments {
            let front = instrument.frontContract(year: year, month: month)
            // Counted in numbers, not read back from names (whose two-digit years wrap).
            var (y, m) = (front.year ?? year, front.month ?? month)
            let step = instrument.cycle == .quarterly ? 3 : 1
            for _ in 0..<count {
                m -= step
                if m < 1 {
                    m += 12
                    y -= 1
                }
                guard y >= 2000 else { break }
                jobs.append((instrument, y, m))
            }
        }
        let work = jobs
        let results = Mutex<[Result<HistoryWriter.Written, SimulatorError>?]>(Array(repeating: nil, count: work.count))
        DispatchQueue.concurrentPerform(iterations: work.count) { position in
            let (instrument, y, m) = work[position]
            // The 15th of its month at 20:00 UTC: while it was the front contract.
            let end = (Int64(CivilDate.daysSinceUnixEpoch(year: y, month: m, day: 15)) * 86_400 + 72_000) * 1_000_000
            let result = Result { () throws(SimulatorError) -> HistoryWriter.Written in
                try HistoryWriter.write(.records(records), instruments: [instrument], folder: folder, end: end, seed: seed &+ UInt64(position))[0]
            }
            results.withLock { $0[position] = result }
        }
        var written = Written(contracts: 0, records: 0, bytes: 0)
        for result in results.withLock({ $0 }) {
            let file = try result!.get()
            written.contracts += 1
            written.records += file.records
            written.bytes += file.bytes
        }
        return written
    }
}
