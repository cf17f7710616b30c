import Foundation
import MarketSim
import SierraFormat
import Testing

@Suite("History: files that start with a realistic past")
struct HistoryTests {
    /// Monday 2025-12-08 15:00 UTC.
    static let start: Int64 = 1_765_206_000_000_000

    func folder() -> String { NSTemporaryDirectory() + "bridgelab-history-" + UUID().uuidString }

    @Test("days of history follow the session: none at the weekend or in the daily halt, the open busier than lunch")
    func sessionShape() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SimulationConfig(dataDirectory: path, roots: ["ES"], rate: 100, seed: 3, startUnixMicroseconds: Self.start)
        config.history = .days(7)
        config.historyDepthDays = 0
        let simulation = try Simulation(config: config)
        let written = try #require(simulation.history.first)
        let records = try IntradayFormat.readFile(atPath: path + "/" + written.contract + ".scid").records
        #expect(records.count == written.records)
        // A week of ES: about five trading days at 600,000 records a day.
        #expect(records.count > 2_000_000 && records.count < 4_000_000, "\(records.count) records")
        var byHour = [Int](repeating: 0, count: 24)
        var saturday = 0
        var previous: Int64 = .min
        var ordered = true
        for record in records {
            let us = record.dateTime.unixMicroseconds
            if record.dateTime.microseconds < previous { ordered = false }
            previous = record.dateTime.microseconds
            let day = us / SCDateTime.microsecondsPerDay
            if (day % 7 + 7) % 7 == 2 { saturday += 1 }
            byHour[Int((us % SCDateTime.microsecondsPerDay) / 3_600_000_000)] += 1
        }
        #expect(ordered, "records out of time order")
        #expect(previous < SCDateTime(unixMicroseconds: Self.start).microseconds)
        #expect(saturday == 0)
        #expect(byHour[22] == 0, "the daily halt holds \(byHour[22]) records")
        #expect(byHour[15] > 2 * byHour[18], "open hour \(byHour[15]) vs lunch \(byHour[18])")
        #expect(byHour[20] > 2 * byHour[3], "close hour \(byHour[20]) vs the Asian night \(byHour[3])")
    }

    @Test("records of history: exactly that many per contract, and the live market carries on from the last one")
    func recordsThenLive() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SimulationConfig(dataDirectory: path, roots: ["NQ", "VX"], rate: 2_000, seed: 5, startUnixMicroseconds: Self.start)
        config.history = .records(50_000)
        let simulation = try Simulation(config: config)
        #expect(simulation.history.map(\.records) == [50_000, 50_000])
        try simulation.advance(to: 2)
        try simulation.finish()
        for written in simulation.history {
            let records = try IntradayFormat.readFile(atPath: path + "/" + written.contract + ".scid").records
            #expect(records.count > 50_000)
            let lastPast = records[49_999]
            let firstLive = records[50_000]
            #expect(lastPast.dateTime.microseconds < firstLive.dateTime.microseconds)
            #expect(firstLive.dateTime.unixMicroseconds >= Self.start)
            // The quote carries on: the first live record is within a few ticks of the last past one.
            let tick = Float(Instrument.named(written.contract.hasPrefix("NQ") ? "NQ" : "VX")!.tickSize)
            #expect(abs(firstLive.low - lastPast.low) <= 4 * tick, "\(lastPast.low) → \(firstLive.low)")
        }
    }

    @Test(
        "days of history keep the last days' depth files: one per UTC day, snapshots every ten minutes, a sane book; the live run carries on today's"
    )
    func depthDays() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SimulationConfig(dataDirectory: path, roots: ["VX"], rate: 50, seed: 5, startUnixMicroseconds: Self.start)
        config.history = .days(3)
        config.historyDepthDays = 2
        let simulation = try Simulation(config: config)
        let contract = simulation.contracts[0].name
        // Saturday 2025-12-06 is closed: no file. Sunday opens at 23:00; Monday is today, up to 15:00.
        let files = DataFolder(path: path).depthFiles().filter { $0.contract == contract }
        #expect(files.map(\.date) == ["2025-12-07", "2025-12-08"])
        var todayBefore = 0
        for file in files {
            let records = try DepthFormat.readFile(atPath: path + "/MarketDepthData/" + file.fileName).records
            #expect(records.first?.command == .clearBook, "\(file.fileName) starts without a snapshot")
            #expect(records.allSatisfy { $0.dateTime.utcDateString == file.date }, "\(file.fileName) holds another day's records")
            #expect(zip(records, records.dropFirst()).allSatisfy { $0.dateTime <= $1.dateTime })
            let snapshots = records.filter { $0.command == .clearBook }.map(\.dateTime.unixMicroseconds)
            let span = (records.last!.dateTime.unixMicroseconds - records.first!.dateTime.unixMicroseconds) / 600_000_000
            #expect(
                snapshots.count >= Int(span) - 1 && snapshots.count <= Int(span) + 2,
                "\(snapshots.count) snapshots over \(span) ten-minute spans"
            )
            var builder = DepthBookBuilder()
            var crossed = 0
            for record in records {
                if let book = builder.apply(record), let bid = book.bids.first, let ask = book.asks.first, bid.price >= ask.price { crossed += 1 }
            }
            #expect(crossed == 0, "\(file.fileName): \(crossed) crossed books")
            if file.date == "2025-12-08" {
                todayBefore = records.count
                #expect(records.last!.dateTime.unixMicroseconds < Self.start)
            }
        }
        // The live market appends to today's file, starting with its own snapshot.
        try simulation.advance(to: 5)
        try simulation.finish()
        let today = try DepthFormat.readFile(atPath: path + "/MarketDepthData/" + files[1].fileName).records
        #expect(today.count > todayBefore)
        #expect(today[todayBefore].command == .clearBook)
        #expect(today[todayBefore].dateTime.unixMicroseconds >= Self.start)
    }

    @Test("expired contracts: a file per past listing back to 2000, each trading while it was the front contract")
    func expiredContracts() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SimulationConfig(dataDirectory: path, roots: ["ES", "VX"], rate: 50, seed: 5, startUnixMicroseconds: Self.start)
        config.expiredContracts = 400
        config.expiredRecords = 50
        config.writeDepth = false
        let simulation = try Simulation(config: config)
        let files = DataFolder(path: path).intradayFiles()
        // ES: H00 … U25 before Z25 (103); VX: F00 … Nov 2025 before Dec 2025 (311); and the two front contracts.
        #expect(simulation.expired?.contracts == 103 + 311)
        #expect(files.count == 103 + 311 + 2)
        #expect(Set(files.map(\.contract.name)).count == files.count)
        #expect(files.allSatisfy { ($0.contract.year ?? 0) >= 2000 })
        for file in files where file.contract.name != "ESZ25-CME" && file.contract.name != "VXZ25-CFE" {
            #expect(file.recordCount == 50)
            let records = try IntradayFormat.readFile(atPath: path + "/" + file.contract.name + ".scid").records
            let last = SCDateTime(unixMicroseconds: records.last!.dateTime.unixMicroseconds).utcDateString
            let month = String(format: "%04d-%02d", file.contract.year!, file.contract.month!)
            #expect(last.hasPrefix(month), "\(file.contract.name) ends on \(last)")
        }
        // The root still means its front contract once it trades.
        try simulation.advance(to: 5)
        try simulation.finish()
        let active = DataFolder.activeContracts(DataFolder(path: path).intradayFiles())
        #expect(active["ES"]?.name == "ESZ25-CME" && active["VX"]?.name == "VXZ25-CFE")
    }

    @Test("bad history requests say why, and write nothing")
    func refusals() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = SimulationConfig(dataDirectory: path, roots: ["NQ"], rate: 100, startUnixMicroseconds: Self.start)
        config.history = .days(0)
        #expect(throws: SimulatorError.invalidOption("history days must be between 1 and 366, got 0")) { try Simulation(config: config) }
        // A file that already holds records cannot be given a past.
        config.history = nil
        let live = try Simulation(config: config)
        try live.advance(to: 1)
        try live.finish()
        config.history = .records(10)
        #expect {
            try Simulation(config: config)
        } throws: { error in
            "\(error)".contains("history needs empty files") && "\(error)".contains("NQZ25-CME.scid")
        }
    }
}
