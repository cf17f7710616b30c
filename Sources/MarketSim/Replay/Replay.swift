import SierraFormat

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Replays a captured Sierra Chart Data folder into another folder, live: the same records in
/// the same order, prices and sizes unchanged, their times moved to now with their spacing divided
/// by the speed, written in flushes as Sierra Chart writes them, with the write journal
/// (docs/JOURNAL.md) carrying each write's due time beside the time it happened.
///
/// One thread: the records of every file are merged by time, each is due at
/// ``ReplaySchedule/due(source:)`` and written at the first flush at or after that. All checks are
/// made by ``init(options:clock:)``, before anything is written.
public final class Replay {
    public let options: ReplayOptions
    public let plan: ReplayPlan
    private let clock: any ReplayClock

    /// What a replay wrote.
    public struct Summary: Sendable, Equatable {
        public var intradayRecords = 0
        public var depthRecords = 0
        /// Depth records written to give a window that starts mid-day its book first.
        public var snapshotRecords = 0
        public var pastRecords = 0
        public var writes = 0
        public var loops = 0
        /// Nil for `speed 0`: as fast as it can has no due times.
        public var lag: ReplayLag?
        public var elapsedSeconds = 0.0
    }

    public private(set) var summary = Summary()

    /// One destination file being written.
    private final class Output<Format: SierraFileFormat> {
        let name: String
        let writer: SierraFileWriter<Format>
        var stamps: MillisecondStamp
        /// The latest due time among the buffered records.
        var pendingDue: Int64 = .min

        init(name: String, path: String) throws(SimulatorError) {
            self.name = name
            writer = try SierraFileWriter<Format>(path: path)
            stamps = MillisecondStamp()
        }
    }

    private var intradayCursors: [ReplayCursor<IntradayFormat>] = []
    private var depthCursors: [ReplayCursor<DepthFormat>] = []
    private var intradayOutputs: [String: Output<IntradayFormat>] = [:]
    private var depthOutputs: [String: Output<DepthFormat>] = [:]
    private var journal: WriteJournal?
    private var lags = ReplayLag.Recorder()

    public init(options: ReplayOptions, clock: any ReplayClock = SystemReplayClock()) throws(SimulatorError) {
        self.options = options
        self.plan = try ReplayPlan.make(options)
        self.clock = clock
    }

    /// Writes the window (over and over with `loop`) until it ends, the duration passes or
    /// `shouldStop` says so, then flushes what is buffered.
    public func run(shouldStop: () -> Bool = { false }) throws(SimulatorError) -> Summary {
        let destination = DataFolder(path: options.dataDirectory)
        try Simulation.prepareFolder(destination, depth: options.depth)
        if options.copyPast { try copyPast(into: destination) }
        let journal = try WriteJournal(path: options.dataDirectory + "/" + options.journalFileName)
        self.journal = journal
        try openCursors(destination)

        let anchor = clock.now()
        let interval = Int64(options.flushMilliseconds) * 1000
        var schedule = options.speed > 0 ? ReplaySchedule(anchor: anchor, speed: options.speed, maxGap: options.maxGap.map { Int64($0 * 1e6) }) : nil
        let deadline = options.duration.map { anchor + Int64($0 * 1e6) }
        try journal.record(
            JournalEntry(
                writtenAt: anchor,
                kind: .event,
                file: "*",
                generation: 0,
                event: "start",
                detail:
                    "replay from=\(options.source) window=\(ISOTime.format(plan.firstRecord))..\(ISOTime.format(plan.lastRecord)) speed=\(options.speed) flush_ms=\(options.flushMilliseconds)"
            )
        )
        try journal.sync()

        var nextFlush = anchor + interval
        // The record being waited for: which cursor, and when it is due.
        var head: (depth: Bool, index: Int, due: Int64)?
        while !shouldStop() {
            let now = clock.now()
            if let deadline, now >= deadline { break }
            if interval > 0, now >= nextFlush {
                try flushAll(boundary: nextFlush, interval: interval, anchor: anchor)
                nextFlush += ((now - nextFlush) / interval + 1) * interval
                try journal.sync()
                continue
            }
            if head == nil {
                guard let next = earliestCursor() else {
                    guard options.loop else {
                        // The last records go out with the next flush, as they would have live.
                        guard interval > 0, hasPending else { break }
                        clock.sleep(until: nextFlush)
                        continue
                    }
                    for cursor in intradayCursors { cursor.restart() }
                    for cursor in depthCursors { cursor.restart() }
                    // The window comes round again a second after its end (or the longest gap, if shorter).
                    schedule?.restart(gap: min(1_000_000, options.maxGap.map { Int64($0 * 1e6) } ?? 1_000_000))
                    summary.loops += 1
                    try journal.record(
                        JournalEntry(writtenAt: now, kind: .event, file: "*", generation: 0, event: "loop", detail: "pass \(summary.loops + 1)")
                    )
                    continue
                }
                head = (next.depth, next.index, schedule?.due(source: next.time) ?? now)
            }
            guard let waiting = head else { continue }
            if waiting.due <= now {
                try write(depth: waiting.depth, index: waiting.index, due: waiting.due, destination: destination, interval: interval)
                head = nil
                continue
            }
            var wake = min(waiting.due, now + 50_000)
            if interval > 0 { wake = min(wake, nextFlush) }
            try journal.sync()
            clock.sleep(until: wake)
        }
        try flushAll(boundary: nil, interval: interval, anchor: anchor)
        summary.lag = lags.figures
        let lagText = summary.lag.map { " lag_p50_us=\($0.p50Microseconds) lag_p99_us=\($0.p99Microseconds) lag_max_us=\($0.maxMicroseconds)" } ?? ""
        try journal.record(
            JournalEntry(
                writtenAt: clock.now(),
                kind: .event,
                file: "*",
                generation: 0,
                event: "stop",
                detail: "records=\(summary.intradayRecords) depth=\(summary.depthRecords) writes=\(summary.writes) loops=\(summary.loops)\(lagText)"
            )
        )
        try journal.sync()
        summary.elapsedSeconds = Double(clock.now() - anchor) / 1e6
        return summary
    }

    // MARK: - Reading

    private func openCursors(_ destination: DataFolder) throws(SimulatorError) {
        for file in plan.files {
            switch file.kind {
            case .scid:
                intradayCursors.append(try ReplayCursor<IntradayFormat>(file: file) { $0.dateTime.unixMicroseconds })
                let output = try Output<IntradayFormat>(name: file.contract, path: destination.intradayPath(contract: file.contract))
                // Times carry on after what the file already holds (a copied past).
                if let reader = RecordReader<IntradayFormat>(path: output.writer.path), let last = reader.record(at: reader.count - 1) {
                    output.stamps = MillisecondStamp(after: last.dateTime)
                }
                intradayOutputs[file.contract] = output
            case .depth:
                let prelude = ReplayCursor<DepthFormat>.depthSnapshot(path: file.path, before: file.records.lowerBound)
                depthCursors.append(try ReplayCursor<DepthFormat>(file: file, prelude: prelude) { $0.dateTime.unixMicroseconds })
            }
        }
    }

    /// The cursor whose next record is the earliest (scid before depth at equal times).
    private func earliestCursor() -> (depth: Bool, index: Int, time: Int64)? {
        var best: (depth: Bool, index: Int, time: Int64)?
        for (index, cursor) in intradayCursors.enumerated() {
            if let time = cursor.headTime, time < best?.time ?? .max { best = (false, index, time) }
        }
        for (index, cursor) in depthCursors.enumerated() {
            if let time = cursor.headTime, time < best?.time ?? .max { best = (true, index, time) }
        }
        return best
    }

    // MARK: - Writing

    private var hasPending: Bool {
        intradayOutputs.values.contains { $0.writer.pendingRecords > 0 } || depthOutputs.values.contains { $0.writer.pendingRecords > 0 }
    }

    private func write(depth: Bool, index: Int, due: Int64, destination: DataFolder, interval: Int64) throws(SimulatorError) {
        if depth {
            let cursor = depthCursors[index]
            guard var record = cursor.head else { return }
            let isPrelude = record.dateTime.microseconds == 0
            cursor.advance()
            let output = try depthOutput(contract: cursor.file.contract, due: due, destination: destination)
            record.dateTime = output.stamps.stamp(unixMicroseconds: due)
            output.writer.append(record)
            output.pendingDue = max(output.pendingDue, due)
            if isPrelude { summary.snapshotRecords += 1 } else { summary.depthRecords += 1 }
            if interval == 0 { try flush(output, kind: .depth, scheduled: due) }
        } else {
            let cursor = intradayCursors[index]
            guard var record = cursor.head, let output = intradayOutputs[cursor.file.contract] else { return }
            cursor.advance()
            record.dateTime = output.stamps.stamp(unixMicroseconds: due)
            output.writer.append(record)
            output.pendingDue = max(output.pendingDue, due)
            summary.intradayRecords += 1
            if interval == 0 { try flush(output, kind: .scid, scheduled: due) }
        }
    }

    /// The contract's depth file for the day of `due`: a replay that crosses midnight moves to
    /// the next day's file, as Sierra Chart does.
    private func depthOutput(contract: String, due: Int64, destination: DataFolder) throws(SimulatorError) -> Output<DepthFormat> {
        let date = SCDateTime(unixMicroseconds: due).utcDateString
        let name = contract + "." + date
        if let output = depthOutputs[contract], output.name == name { return output }
        if let old = depthOutputs[contract] {
            try flush(old, kind: .depth, scheduled: old.pendingDue)
            old.writer.close()
            try journal?.record(JournalEntry(writtenAt: clock.now(), kind: .event, file: name, generation: 0, event: "new-day"))
        }
        let output = try Output<DepthFormat>(name: name, path: destination.depthPath(contract: contract, date: date))
        depthOutputs[contract] = output
        return output
    }

    /// Flushes every output with buffered records. `boundary` is the flush being made (nil: the
    /// final one); a write is due at the first flush boundary at or after its latest record's due time.
    private func flushAll(boundary: Int64?, interval: Int64, anchor: Int64) throws(SimulatorError) {
        func scheduled(_ pendingDue: Int64) -> Int64 {
            guard interval > 0 else { return pendingDue }
            let flushes = (pendingDue - anchor + interval - 1) / interval
            return min(boundary ?? .max, anchor + max(1, flushes) * interval)
        }
        for output in intradayOutputs.values.sorted(by: { $0.name < $1.name }) where output.writer.pendingRecords > 0 {
            try flush(output, kind: .scid, scheduled: scheduled(output.pendingDue))
        }
        for output in depthOutputs.values.sorted(by: { $0.name < $1.name }) where output.writer.pendingRecords > 0 {
            try flush(output, kind: .depth, scheduled: scheduled(output.pendingDue))
        }
    }

    private func flush<Format: SierraFileFormat>(_ output: Output<Format>, kind: JournalEntry.Kind, scheduled: Int64) throws(SimulatorError) {
        guard let done = try output.writer.flush() else { return }
        let writtenAt = clock.now()
        let due: Int64? = options.speed > 0 ? scheduled : nil
        if let due { lags.record(writtenAt - due) }
        summary.writes += 1
        try journal?.record(
            JournalEntry(
                writtenAt: writtenAt,
                kind: kind,
                file: output.name,
                generation: output.writer.generation,
                firstIndex: done.firstIndex,
                count: done.count,
                scheduledAt: due
            )
        )
        output.pendingDue = .min
    }

    // MARK: - The past

    /// Each destination `.scid` starts with the source's records before the window (written
    /// beside it and renamed in, so a bridge never sees it half written); earlier days' depth
    /// files are copied whole.
    private func copyPast(into destination: DataFolder) throws(SimulatorError) {
        for file in plan.files where file.kind == .scid {
            let target = destination.intradayPath(contract: file.contract)
            let scratch = target + ".past"
            let bytes = IntradayFormat.headerSize + file.records.lowerBound * IntradayFormat.recordSize
            try Self.copy(from: file.path, to: scratch, bytes: bytes)
            guard rename(scratch, target) == 0 else { throw .io(path: target, operation: "rename the past into", errno: errno) }
            summary.pastRecords += file.records.lowerBound
        }
        for path in plan.pastDepthFiles {
            let name = String(path.split(separator: "/").last ?? "")
            let target = destination.depthPath + "/" + name
            guard access(target, F_OK) != 0 else { continue }
            try Self.copy(from: path, to: target, bytes: .max)
        }
    }

    /// Copies the first `bytes` bytes of a file (all of it for `.max`), a megabyte at a time.
    static func copy(from source: String, to target: String, bytes: Int) throws(SimulatorError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .io(path: source, operation: "open", errno: errno) }
        defer { _ = Glibc_close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw .io(path: target, operation: "create", errno: errno) }
        defer { _ = Glibc_close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var left = bytes
        while left > 0 {
            let wanted = min(left, buffer.count)
            let got = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, wanted) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw .io(path: source, operation: "read", errno: errno) }
            if got == 0 { break }
            try SierraFileWriter<IntradayFormat>.writeAll(output, buffer[0..<got], path: target)
            left -= got
        }
    }
}
