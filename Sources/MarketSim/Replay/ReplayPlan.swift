import SierraFormat

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// What a replay will read: the capture's files, the records of each inside the window, and
/// what the destination gets before the window. Found and checked as a whole before anything is
/// written, so every bad input is one clear error and leaves the destination untouched.
public struct ReplayPlan: Sendable, Equatable {
    /// One source file and the records of it that fall in the window.
    public struct File: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable { case scid, depth }
        public var kind: Kind
        public var path: String
        public var contract: String
        /// A depth file's `YYYY-MM-DD`.
        public var date: String?
        /// Indexes of the records replayed.
        public var records: Range<Int>
    }

    /// The `.scid` and `.depth` files replayed, in no particular order (the replay merges them by time).
    public var files: [File]
    /// Past depth files (days before the window) copied unchanged when ``ReplayOptions/copyPast`` is set.
    public var pastDepthFiles: [String]
    /// Unix µs: the window, [start, end).
    public var start: Int64
    public var end: Int64?
    /// Unix µs of the first and the last record replayed.
    public var firstRecord: Int64
    public var lastRecord: Int64

    public var intradayRecords: Int { files.filter { $0.kind == .scid }.map(\.records.count).reduce(0, +) }
    public var depthRecords: Int { files.filter { $0.kind == .depth }.map(\.records.count).reduce(0, +) }
    public var contracts: [String] { files.filter { $0.kind == .scid }.map(\.contract) }

    public static func make(_ options: ReplayOptions) throws(SimulatorError) -> ReplayPlan {
        try checkNumbers(options)
        let source = try checkFolders(options)
        let folder = DataFolder(path: source)
        let all = folder.intradayFiles()
        guard !all.isEmpty else { throw .replay("no .scid files in '\(options.source)'") }

        // Which contracts: every one, or those named by root or by contract.
        var chosen: [DataFolder.IntradayFile] = []
        for symbol in options.symbols {
            let matches = all.filter { $0.contract.name == symbol || $0.contract.root == symbol.uppercased() }
            guard !matches.isEmpty else {
                let roots = Set(all.map(\.contract.root)).sorted().joined(separator: ", ")
                throw .replay("no .scid file for '\(symbol)' in '\(options.source)' (its roots: \(roots))")
            }
            chosen += matches.filter { match in !chosen.contains(where: { $0.contract.name == match.contract.name }) }
        }
        if options.symbols.isEmpty { chosen = all }

        var readers: [(DataFolder.IntradayFile, RecordReader<IntradayFormat>)] = []
        for file in chosen {
            do {
                readers.append((file, try RecordReader<IntradayFormat>(opening: folder.intradayPath(contract: file.contract.name))))
            } catch {
                throw .replay("\(error.description): not a Sierra Chart intraday file")
            }
        }
        let lasts = readers.compactMap { _, reader in reader.record(at: reader.count - 1)?.dateTime.unixMicroseconds }
        guard let dataEnd = lasts.max() else { throw .replay("the .scid files chosen in '\(options.source)' hold no records") }
        let start = options.start ?? SCDateTime.unixDay(dataEnd) * SCDateTime.microsecondsPerDay
        guard start <= dataEnd else {
            throw .replay("the start \(ISOTime.format(start)) is after the data's end (\(ISOTime.format(dataEnd)))")
        }
        if let end = options.end, end <= start {
            throw .replay("the end \(ISOTime.format(end)) must come after the start \(ISOTime.format(start))")
        }

        var files: [File] = []
        var first = Int64.max
        var last = Int64.min
        for (file, reader) in readers {
            let range = window(reader, start: start, end: options.end) { $0.dateTime.unixMicroseconds }
            guard !range.isEmpty else { continue }
            first = min(first, reader.record(at: range.lowerBound)?.dateTime.unixMicroseconds ?? first)
            last = max(last, reader.record(at: range.upperBound - 1)?.dateTime.unixMicroseconds ?? last)
            files.append(File(kind: .scid, path: reader.path, contract: file.contract.name, records: range))
        }
        for symbol in options.symbols {
            let replayed = files.contains { $0.contract == symbol || ContractSymbol(name: $0.contract).root == symbol.uppercased() }
            guard replayed else {
                let until = options.end.map { " and \(ISOTime.format($0))" } ?? " and the data's end"
                throw .replay("'\(symbol)' has no records between \(ISOTime.format(start))\(until)")
            }
        }
        guard !files.isEmpty else { throw .replay("no records between \(ISOTime.format(start)) and the end of the window") }

        // The depth files of the days replayed (and, for a past, of the days before).
        var pastDepth: [String] = []
        if options.depth {
            let firstDay = SCDateTime(unixMicroseconds: start).utcDateString
            let lastDay = SCDateTime(unixMicroseconds: last).utcDateString
            let contracts = Set(files.map(\.contract))
            for depth in folder.depthFiles() where contracts.contains(depth.contract) {
                let path = folder.depthPath + "/" + depth.fileName
                if depth.date < firstDay {
                    pastDepth.append(path)
                    continue
                }
                guard depth.date <= lastDay else { continue }
                let reader: RecordReader<DepthFormat>
                do {
                    reader = try RecordReader<DepthFormat>(opening: path)
                } catch {
                    throw .replay("\(error.description): not a Sierra Chart depth file")
                }
                let range = window(reader, start: start, end: options.end) { $0.dateTime.unixMicroseconds }
                guard !range.isEmpty else { continue }
                files.append(File(kind: .depth, path: path, contract: depth.contract, date: depth.date, records: range))
            }
        }
        let plan = ReplayPlan(
            files: files,
            pastDepthFiles: options.copyPast ? pastDepth : [],
            start: start,
            end: options.end,
            firstRecord: first,
            lastRecord: last
        )
        if options.copyPast { try checkEmptyDestination(plan, options) }
        return plan
    }

    /// The records of `reader` with times in [start, end): found by binary search, as records are in time order.
    static func window<F>(_ reader: RecordReader<F>, start: Int64, end: Int64?, time: (F.Record) -> Int64) -> Range<Int> {
        let count = reader.count
        let lower = reader.firstIndex(count: count) { time($0) >= start }
        let upper = end.map { end in reader.firstIndex(count: count) { time($0) >= end } } ?? count
        return lower..<max(lower, upper)
    }

    private static func checkNumbers(_ options: ReplayOptions) throws(SimulatorError) {
        guard options.speed.isFinite, options.speed >= 0 else {
            throw .replay("the speed must be a positive factor (10 = ten times real time), or 0 for as fast as it can; got \(options.speed)")
        }
        if let gap = options.maxGap, !(gap.isFinite && gap > 0) {
            throw .replay("the longest gap must be a positive number of seconds, got \(gap)")
        }
        guard (0...3_600_000).contains(options.flushMilliseconds) else { throw .invalidFlushInterval(options.flushMilliseconds) }
        if let duration = options.duration, !(duration.isFinite && duration > 0) { throw .invalidDuration(duration) }
    }

    /// The source must be a folder; the destination must not be it (a replay would overwrite what
    /// it reads). Returns the source's real path.
    private static func checkFolders(_ options: ReplayOptions) throws(SimulatorError) -> String {
        var info = stat()
        guard stat(options.source, &info) == 0 else { throw .replay("no such folder '\(options.source)'") }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .replay("'\(options.source)' is not a folder") }
        let source = realPath(options.source) ?? options.source
        if let destination = realPath(options.dataDirectory), destination == source {
            throw .replay("the destination is the capture itself: a replay would overwrite what it reads")
        }
        return source
    }

    /// A past is copied into empty files only: a destination that already holds records keeps them.
    private static func checkEmptyDestination(_ plan: ReplayPlan, _ options: ReplayOptions) throws(SimulatorError) {
        let destination = DataFolder(path: options.dataDirectory)
        for contract in plan.contracts {
            if let existing = RecordReader<IntradayFormat>(path: destination.intradayPath(contract: contract)), existing.count > 0 {
                throw .replay("copying the past needs empty files: \(destination.intradayPath(contract: contract)) holds \(existing.count) records")
            }
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
