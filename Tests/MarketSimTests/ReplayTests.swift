import BridgeTesting
import Foundation
import MarketSim
import SierraFormat
import Testing

/// A clock that only moves when the replay sleeps, and then wakes `oversleep` µs late (and
/// `stall` µs late, once, at the `stallAt`-th sleep): what a loaded machine does to a sleeper.
final class SteppingClock: ReplayClock {
    var time: Int64
    let oversleep: Int64
    var stall: Int64
    var stallAt: Int
    private(set) var sleeps = 0

    init(start: Int64, oversleep: Int64 = 0, stall: Int64 = 0, stallAt: Int = 0) {
        self.time = start
        self.oversleep = oversleep
        self.stall = stall
        self.stallAt = stallAt
    }

    func now() -> Int64 { time }

    func sleep(until target: Int64) {
        sleeps += 1
        time = max(time, target) + oversleep + (sleeps == stallAt ? stall : 0)
    }
}

@Suite("Replay: a captured Data folder written again, live")
struct ReplayTests {
    /// A 60-second session of NQ and ES (bursty, with a news spike at 20 s), written at once.
    static func capture(seconds: Double = 60, depth: Bool = true) throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        var config = SimulationConfig(
            dataDirectory: folder.path,
            roots: ["NQ", "ES"],
            rate: 300,
            duration: seconds,
            seed: 11,
            flushMilliseconds: 100,
            writeDepth: depth,
            script: [.burst(at: 20, multiplier: 8, duration: 5)],
            startUnixMicroseconds: fixedStart
        )
        config.arrivals = .bursty
        _ = try Simulation(config: config).runAtOnce()
        return folder
    }

    static func records(_ folder: String, _ contract: String) throws -> [IntradayRecord] {
        try IntradayFormat.readFile(atPath: folder + "/" + contract + ".scid").records
    }

    static func withoutTime(_ record: IntradayRecord) -> IntradayRecord {
        var copy = record
        copy.dateTime = SCDateTime(microseconds: 0)
        return copy
    }

    @Test("the same records in the same order, values unchanged, times moved to now with Sierra's counter kept valid")
    func sameRecords() throws {
        let source = try Self.capture()
        let target = try TemporaryFolder()
        defer {
            source.cleanup()
            target.cleanup()
        }
        var options = ReplayOptions(source: source.path, dataDirectory: target.path)
        options.speed = 0
        let replay = try Replay(options: options)
        let summary = try replay.run()
        #expect(Set(replay.plan.contracts) == ["NQZ25-CME", "ESZ25-CME"])
        var total = 0
        for contract in replay.plan.contracts {
            let original = try Self.records(source.path, contract)
            let replayed = try Self.records(target.path, contract)
            #expect(replayed.count == original.count)
            #expect(replayed.map(Self.withoutTime) == original.map(Self.withoutTime), "\(contract): values or order changed")
            // Now, not then; in time order; the sub-millisecond digits a counter of records in that millisecond.
            #expect(replayed.first!.dateTime.unixMicroseconds > fixedStart + 3_600_000_000)
            for (earlier, later) in zip(replayed, replayed.dropFirst()) {
                #expect(later.dateTime > earlier.dateTime)
                if later.dateTime.millisecondsSinceEpoch > earlier.dateTime.millisecondsSinceEpoch {
                    #expect(later.dateTime.subMillisecondCounter == 0)
                }
            }
            total += replayed.count
        }
        #expect(summary.intradayRecords == total)
        // Depth: the same records, in order.
        for file in DataFolder(path: source.path).depthFiles() {
            let original = try DepthFormat.readFile(atPath: source.path + "/MarketDepthData/" + file.fileName).records
            let written = DataFolder(path: target.path).depthFiles().filter { $0.contract == file.contract }
            let replayed = try written.flatMap { try DepthFormat.readFile(atPath: target.path + "/MarketDepthData/" + $0.fileName).records }
            #expect(replayed.map(\.command) == original.map(\.command))
            #expect(replayed.map(\.price) == original.map(\.price))
            #expect(replayed.map(\.quantity) == original.map(\.quantity))
            #expect(replayed.map(\.flags) == original.map(\.flags))
        }
        // The journal accounts for every record written.
        let journal = try WriteJournal.read(path: target.path + "/" + WriteJournal.defaultFileName)
        #expect(journal.filter { $0.kind == .scid }.map(\.count).reduce(0, +) == total)
        #expect(journal.contains { $0.event == "start" } && journal.contains { $0.event == "stop" })
    }

    @Test("at 10x, 60 s of data keeps its spacing divided by ten, within 1 ms, and every write is journalled with its due time")
    func spacingDividedBySpeed() throws {
        let source = try Self.capture()
        let target = try TemporaryFolder()
        defer {
            source.cleanup()
            target.cleanup()
        }
        let clock = SteppingClock(start: fixedStart + 86_400_000_000)
        var options = ReplayOptions(source: source.path, dataDirectory: target.path)
        options.speed = 10
        options.flushMilliseconds = 0
        let replay = try Replay(options: options, clock: clock)
        _ = try replay.run()
        for contract in replay.plan.contracts {
            let original = try Self.records(source.path, contract)
            let replayed = try Self.records(target.path, contract)
            #expect(original.last!.dateTime.unixMicroseconds - original.first!.dateTime.unixMicroseconds > 55_000_000)
            let o0 = original[0].dateTime.unixMicroseconds
            let r0 = replayed[0].dateTime.unixMicroseconds
            var worst: Int64 = 0
            for (o, r) in zip(original, replayed) {
                let expected = (o.dateTime.unixMicroseconds - o0) / 10
                worst = max(worst, abs((r.dateTime.unixMicroseconds - r0) - expected))
            }
            #expect(worst <= 1_000, "\(contract): \(worst) µs off the spacing ÷ 10")
        }
        let writes = try WriteJournal.read(path: target.path + "/" + WriteJournal.defaultFileName).filter { $0.kind == .scid }
        #expect(!writes.isEmpty && writes.allSatisfy { $0.scheduledAt != nil })
        // The whole minute took six seconds on the replay's clock.
        let span = writes.last!.writtenAt - writes.first!.writtenAt
        #expect(span > 5_500_000 && span < 6_100_000, "\(span) µs")
    }

    @Test("writes are due from the anchor: a clock that wakes late makes each write late by that much, never more, and a stall is caught up")
    func anchoredSchedule() throws {
        let source = try Self.capture(seconds: 30, depth: false)
        let target = try TemporaryFolder()
        let stalled = try TemporaryFolder()
        defer {
            source.cleanup()
            target.cleanup()
            stalled.cleanup()
        }
        var options = ReplayOptions(source: source.path, dataDirectory: target.path)
        options.speed = 5
        options.flushMilliseconds = 0
        let late = SteppingClock(start: fixedStart + 86_400_000_000, oversleep: 3_000)
        let summary = try Replay(options: options, clock: late).run()
        let lag = try #require(summary.lag)
        // Every wake is 3 ms late; sleeping per record delta would have added those up.
        #expect(lag.maxMicroseconds >= 2_900 && lag.maxMicroseconds <= 3_100, "max \(lag.maxMicroseconds) µs")
        let journal = try WriteJournal.read(path: target.path + "/" + WriteJournal.defaultFileName).filter { $0.kind == .scid }
        let lags = journal.map { $0.writtenAt - $0.scheduledAt! }
        #expect(lags.allSatisfy { $0 >= 0 && $0 <= 3_000 })
        #expect(lag.writes == journal.count)

        // One stall of two seconds: the writes due during it go out late, those after it on time.
        options.dataDirectory = stalled.path
        let stalling = SteppingClock(start: fixedStart + 86_400_000_000, stall: 2_000_000, stallAt: 200)
        let caughtUp = try #require(try Replay(options: options, clock: stalling).run().lag)
        #expect(caughtUp.maxMicroseconds >= 1_900_000 && caughtUp.maxMicroseconds <= 2_010_000, "max \(caughtUp.maxMicroseconds) µs")
        #expect(caughtUp.p50Microseconds == 0)
    }

    @Test("quiet stretches longer than max-gap are cut to it; a loop comes round again with times still rising")
    func gapsAndLoops() throws {
        let source = try TemporaryFolder()
        let target = try TemporaryFolder()
        let looped = try TemporaryFolder()
        defer {
            source.cleanup()
            target.cleanup()
            looped.cleanup()
        }
        // Four trades: one second apart, an hour's silence (a night), one second apart.
        let writer = try SierraFileWriter<IntradayFormat>(path: source.path + "/ESZ25-CME.scid")
        for offset in [0, 1, 3_601, 3_602] as [Int64] {
            writer.append(
                IntradayRecord.trade(
                    at: SCDateTime(unixMicroseconds: fixedStart + offset * 1_000_000),
                    price: 6_000,
                    size: 1,
                    side: .ask,
                    bid: 5_999.75,
                    ask: 6_000
                )
            )
        }
        try writer.flush()
        var options = ReplayOptions(source: source.path, dataDirectory: target.path)
        options.maxGap = 5
        options.flushMilliseconds = 0
        _ = try Replay(options: options, clock: SteppingClock(start: fixedStart + 86_400_000_000)).run()
        let times = try Self.records(target.path, "ESZ25-CME").map(\.dateTime.unixMicroseconds)
        #expect(zip(times, times.dropFirst()).map { $1 - $0 } == [1_000_000, 5_000_000, 1_000_000])

        options.dataDirectory = looped.path
        options.loop = true
        options.duration = 20
        let summary = try Replay(options: options, clock: SteppingClock(start: fixedStart + 86_400_000_000)).run()
        let again = try Self.records(looped.path, "ESZ25-CME")
        // A pass is 7 s (1 + 5 + 1) and the next comes a second later: at 0, 8 and 16 s, the third cut off at 20 s.
        #expect(summary.loops == 2)
        #expect(again.count == summary.intradayRecords && again.count == 10, "\(again.count) records in \(summary.loops) loops")
        #expect(
            again.map(\.dateTime.unixMicroseconds).map { ($0 - again[0].dateTime.unixMicroseconds) / 1_000_000 } == [
                0, 1, 6, 7, 8, 9, 14, 15, 16, 17,
            ]
        )
        #expect(zip(again, again.dropFirst()).allSatisfy { $1.dateTime > $0.dateTime })
        let journal = try WriteJournal.read(path: looped.path + "/" + WriteJournal.defaultFileName)
        #expect(journal.filter { $0.event == "loop" }.count == summary.loops)
    }

    @Test("a window that starts mid-day: the past is copied unchanged, and the depth file starts with the book as it stood")
    func midDayWithPast() throws {
        let source = try Self.capture()
        let target = try TemporaryFolder()
        defer {
            source.cleanup()
            target.cleanup()
        }
        var options = ReplayOptions(source: source.path, dataDirectory: target.path)
        options.start = fixedStart + 30_000_000
        options.speed = 0
        options.copyPast = true
        options.symbols = ["NQ"]
        let replay = try Replay(options: options)
        let summary = try replay.run()
        #expect(replay.plan.contracts == ["NQZ25-CME"])
        let original = try Self.records(source.path, "NQZ25-CME")
        let replayed = try Self.records(target.path, "NQZ25-CME")
        let past = original.prefix { $0.dateTime.unixMicroseconds < fixedStart + 30_000_000 }
        #expect(summary.pastRecords == past.count && past.count > 1_000)
        #expect(Array(replayed.prefix(past.count)) == Array(past), "the past is copied byte for byte")
        #expect(replayed.dropFirst(past.count).map(Self.withoutTime) == original.dropFirst(past.count).map(Self.withoutTime))

        // The depth: the book at the window's start, then the same records, ending on the same book.
        let day = DataFolder(path: source.path).depthFiles().first { $0.contract == "NQZ25-CME" }!
        let sourceDepth = try DepthFormat.readFile(atPath: source.path + "/MarketDepthData/" + day.fileName).records
        let written = DataFolder(path: target.path).depthFiles().first { $0.contract == "NQZ25-CME" }!
        let targetDepth = try DepthFormat.readFile(atPath: target.path + "/MarketDepthData/" + written.fileName).records
        #expect(targetDepth.first?.command == .clearBook)
        var before = DepthBookBuilder()
        for record in sourceDepth where record.dateTime.unixMicroseconds < options.start! { _ = before.apply(record) }
        var atStart = DepthBookBuilder()
        for record in targetDepth.prefix(summary.snapshotRecords) { _ = atStart.apply(record) }
        #expect(atStart.bids == before.bids && atStart.asks == before.asks && !before.bids.isEmpty)
        var sourceEnd = DepthBookBuilder()
        for record in sourceDepth { _ = sourceEnd.apply(record) }
        var targetEnd = DepthBookBuilder()
        for record in targetDepth { _ = targetEnd.apply(record) }
        #expect(targetEnd.bids == sourceEnd.bids && targetEnd.asks == sourceEnd.asks)
        #expect(targetDepth.count == summary.snapshotRecords + summary.depthRecords)
    }

    @Test("every bad input is one clear error, and nothing is written")
    func badInputs() throws {
        let source = try Self.capture(seconds: 5, depth: false)
        let broken = try TemporaryFolder()
        let target = try TemporaryFolder()
        defer {
            source.cleanup()
            broken.cleanup()
            target.cleanup()
        }
        try Data("SCID not really".utf8).write(to: URL(fileURLWithPath: broken.path + "/NQZ25-CME.scid"))
        let destination = target.path + "/out"
        func refusal(_ change: (inout ReplayOptions) -> Void) -> String {
            var options = ReplayOptions(source: source.path, dataDirectory: destination)
            change(&options)
            do {
                _ = try Replay(options: options)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(refusal { $0.source = source.path + "/missing" }.contains("no such folder"))
        #expect(refusal { $0.symbols = ["VX"] }.contains("no .scid file for 'VX'"))
        #expect(refusal { $0.start = fixedStart + 86_400_000_000 }.contains("after the data's end"))
        #expect(
            refusal {
                $0.start = fixedStart
                $0.end = fixedStart - 1
            }.contains("must come after the start")
        )
        #expect(
            refusal {
                $0.end = fixedStart - 1_000_000
                $0.start = fixedStart - 2_000_000
                $0.symbols = ["NQ"]
            }.contains("has no records between")
        )
        #expect(refusal { $0.source = broken.path }.contains("truncated header"))
        #expect(refusal { $0.speed = -1 }.contains("speed must be a positive factor"))
        #expect(refusal { $0.speed = .nan }.contains("speed must be a positive factor"))
        #expect(refusal { $0.maxGap = 0 }.contains("longest gap"))
        #expect(refusal { $0.dataDirectory = source.path }.contains("the capture itself"))
        #expect(refusal { _ in }.contains("accepted"))
        #expect(!FileManager.default.fileExists(atPath: destination), "a refused replay wrote something")
    }

    @Test("ISO-8601 times: the forms a user types, and nonsense refused")
    func isoTimes() {
        #expect(ISOTime.parse("2025-12-01T14:30:00Z") == fixedStart)
        #expect(ISOTime.parse("2025-12-01 14:30") == fixedStart)
        #expect(ISOTime.parse("2025-12-01T15:30:00+01:00") == fixedStart)
        #expect(ISOTime.parse("2025-12-01T14:30:00.25Z") == fixedStart + 250_000)
        #expect(ISOTime.parse("2025-12-01") == fixedStart - (14 * 3600 + 1800) * 1_000_000)
        for bad in ["", "2025-13-01", "2025-02-30", "2025-12-01T25:00", "2025-12-01T14:30:00Q", "yesterday", "2025-12-01T14:30:00."] {
            #expect(ISOTime.parse(bad) == nil, "\(bad)")
        }
        #expect(ISOTime.format(fixedStart + 250_000) == "2025-12-01T14:30:00.250Z")
        #expect(ISOTime.parse(ISOTime.format(fixedStart + 7_000)) == fixedStart + 7_000 - 7_000 % 1_000)
    }
}
