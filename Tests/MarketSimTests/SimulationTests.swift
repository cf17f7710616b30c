import BridgeTesting
import Foundation
import MarketSim
import SierraFormat
import Testing

@Suite("Simulator files")
struct SimulationTests {
    func simulate(_ folder: TemporaryFolder, seconds: Double, configure: (inout SimulationConfig) -> Void = { _ in }) throws -> Simulation {
        var config = SimulationConfig(dataDirectory: folder.path, rate: 2_000, seed: 7, flushMilliseconds: 100, startUnixMicroseconds: fixedStart)
        configure(&config)
        let simulation = try Simulation(config: config)
        try simulation.advance(to: seconds)
        try simulation.finish()
        return simulation
    }

    @Test("files are named like Sierra Chart's and decode back; prices stay on the tick grid; bid < ask")
    func filesDecode() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let simulation = try simulate(folder, seconds: 20)
        #expect(simulation.contracts.map(\.name) == ["NQZ25-CME", "ESZ25-CME", "VXZ25-CFE"])
        #expect(folder.files().contains("NQZ25-CME.scid"))
        #expect(folder.files("/MarketDepthData").contains("NQZ25-CME.2025-12-01.depth"))

        var total = 0
        for (contract, tick) in [("NQZ25-CME", 0.25), ("ESZ25-CME", 0.25), ("VXZ25-CFE", 0.05)] {
            let decoded = try IntradayFormat.readFile(atPath: folder.path + "/\(contract).scid")
            #expect(decoded.partialBytes == 0)
            #expect(!decoded.records.isEmpty)
            total += decoded.records.count
            var previous = SCDateTime(microseconds: 0)
            for record in decoded.records {
                #expect(record.dateTime >= previous)
                previous = record.dateTime
                #expect(record.kind != .bar)
                for price in [record.high, record.low, record.close] {
                    let ticks = Double(price) / tick
                    #expect(abs(ticks - ticks.rounded()) < 1e-3, "\(contract) price \(price) is off the \(tick) grid")
                }
                #expect(record.low < record.high, "bid \(record.low) must be below ask \(record.high)")
                if record.isTrade {
                    #expect(record.close == record.high || record.close == record.low)
                    #expect(record.totalVolume == record.bidVolume + record.askVolume)
                }
            }
        }
        #expect(total == simulation.summary.intradayRecords)
    }

    @Test("depth: a snapshot batch first, then batches whose published books keep bid < ask")
    func depthBooks() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        _ = try simulate(folder, seconds: 10) { $0.depthSnapshotInterval = 4 }
        let decoded = try DepthFormat.readFile(atPath: folder.path + "/MarketDepthData/ESZ25-CME.2025-12-01.depth")
        #expect(decoded.records.first?.command == .clearBook)
        #expect(decoded.records.last?.isEndOfBatch == true)
        var builder = DepthBookBuilder()
        var books = 0
        var snapshots = 0
        for record in decoded.records {
            if record.command == .clearBook { snapshots += 1 }
            guard let book = builder.apply(record) else { continue }
            books += 1
            #expect(book.bids.count == 10 && book.asks.count == 10)
            if let bid = book.bids.first, let ask = book.asks.first {
                #expect(bid.price < ask.price)
            }
        }
        #expect(books > 100)
        #expect(snapshots == 3)  // at 0 s, 4 s and 8 s
    }

    @Test("the top of the published book is the quote the next tick carries")
    func depthMatchesQuotes() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        _ = try simulate(folder, seconds: 5) { $0.roots = ["NQ"] }
        let ticks = try IntradayFormat.readFile(atPath: folder.path + "/NQZ25-CME.scid").records
        let depth = try DepthFormat.readFile(atPath: folder.path + "/MarketDepthData/NQZ25-CME.2025-12-01.depth").records
        var builder = DepthBookBuilder()
        var books: [DepthBook] = []
        for record in depth { if let book = builder.apply(record) { books.append(book) } }
        // One batch per market event after the snapshot: book k (k ≥ 1) is the market after event
        // k-1, which is the quote that the first record of event k shows.
        var matched = 0
        var tickIndex = 0
        for book in books.dropFirst().dropLast() {
            while tickIndex < ticks.count, ticks[tickIndex].dateTime.millisecondsSinceEpoch * 1000 < book.dateTime.microseconds { tickIndex += 1 }
            guard tickIndex < ticks.count else { break }
            if let bid = book.bids.first, let ask = book.asks.first, bid.price <= ticks[tickIndex].low, ask.price >= ticks[tickIndex].high - 1 {
                matched += 1
            }
        }
        #expect(matched > books.count / 2)
    }

    @Test("the same seed and start write byte-identical files; another seed does not")
    func reproducible() throws {
        let a = try TemporaryFolder()
        let b = try TemporaryFolder()
        let c = try TemporaryFolder()
        defer {
            a.cleanup()
            b.cleanup()
            c.cleanup()
        }
        _ = try simulate(a, seconds: 5)
        _ = try simulate(b, seconds: 5)
        _ = try simulate(c, seconds: 5) { $0.seed = 8 }
        let name = "/NQZ25-CME.scid"
        let bytesA = try Data(contentsOf: URL(fileURLWithPath: a.path + name))
        #expect(bytesA == (try Data(contentsOf: URL(fileURLWithPath: b.path + name))))
        #expect(bytesA != (try Data(contentsOf: URL(fileURLWithPath: c.path + name))))
    }

    @Test("the journal is monotonic and accounts for every record written, contiguously")
    func journal() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        _ = try simulate(folder, seconds: 10) { $0.flushMilliseconds = 0 }
        let entries = try WriteJournal.read(path: folder.path + "/" + WriteJournal.defaultFileName)
        #expect(entries.first?.event == "start")
        #expect(entries.last?.event == "stop")
        var last: Int64 = 0
        var next: [String: Int] = [:]
        for entry in entries {
            #expect(entry.writtenAt >= last)
            last = entry.writtenAt
            guard entry.kind != .event else { continue }
            #expect(entry.firstIndex == next[entry.file, default: 0], "\(entry.file) skipped or repeated records")
            next[entry.file] = entry.firstIndex + entry.count
        }
        let nq = try IntradayFormat.readFile(atPath: folder.path + "/NQZ25-CME.scid")
        #expect(next["NQZ25-CME"] == nq.records.count)
        // Flush interval 0: one write per market event.
        #expect(entries.filter { $0.kind == .scid }.allSatisfy { $0.count <= 4 })
    }

    @Test("arrivals are bursty and average the configured rate")
    func arrivals() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let simulation = try simulate(folder, seconds: 600) {
            $0.rate = 200
            $0.writeDepth = false
            $0.flushMilliseconds = 5_000
        }
        let records = simulation.summary.intradayRecords
        // A market event writes 1 record, an unbundled trade 2–4: about 1.07 records per event.
        #expect(Double(records) > 0.8 * 200 * 600 && Double(records) < 1.35 * 200 * 600, "\(records) records")

        var perSecond = [Int](repeating: 0, count: 600)
        for contract in simulation.contracts {
            for record in try IntradayFormat.readFile(atPath: folder.path + "/\(contract.name).scid").records {
                let second = Int((record.dateTime.unixMicroseconds - fixedStart) / 1_000_000)
                if (0..<600).contains(second) { perSecond[second] += 1 }
            }
        }
        let mean = Double(perSecond.reduce(0, +)) / 600
        let variance = perSecond.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / 600
        // Poisson arrivals have variance ≈ mean; clustered arrivals far more.
        #expect(variance / mean > 5, "dispersion \(variance / mean)")
    }

    @Test("steady arrivals are Poisson at the configured rate: no clustering")
    func steadyArrivals() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let simulation = try simulate(folder, seconds: 300) {
            $0.rate = 200
            $0.arrivals = .steady
            $0.writeDepth = false
            $0.flushMilliseconds = 5_000
        }
        var perSecond = [Int](repeating: 0, count: 300)
        for contract in simulation.contracts {
            for record in try IntradayFormat.readFile(atPath: folder.path + "/\(contract.name).scid").records {
                let second = Int((record.dateTime.unixMicroseconds - fixedStart) / 1_000_000)
                if (0..<300).contains(second) { perSecond[second] += 1 }
            }
        }
        let mean = Double(perSecond.reduce(0, +)) / 300
        let variance = perSecond.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / 300
        #expect(mean > 0.9 * 200 && mean < 1.25 * 200, "\(mean) records/s")
        // Poisson events (each 1–4 records): dispersion a little over 1, far from the bursty > 5.
        #expect(variance / mean < 2.5, "dispersion \(variance / mean)")
    }

    @Test("trade sizes are heavy-tailed; same-millisecond ticks carry a counter; unbundled trades exist")
    func tradeShape() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        _ = try simulate(folder, seconds: 60) { $0.roots = ["ES"] }
        let records = try IntradayFormat.readFile(atPath: folder.path + "/ESZ25-CME.scid").records
        let sizes = records.filter(\.isTrade).map(\.totalVolume).sorted()
        let median = sizes[sizes.count / 2]
        #expect(sizes.last! >= median * 20, "max \(sizes.last!) vs median \(median)")
        #expect(records.contains { $0.kind == .quote })
        #expect(records.contains { $0.kind == .tradeFirstSub })
        #expect(records.contains { $0.kind == .tradeLastSub })
        var counters = 0
        for (a, b) in zip(records, records.dropFirst()) where a.dateTime.millisecondsSinceEpoch == b.dateTime.millisecondsSinceEpoch {
            #expect(b.dateTime.subMillisecondCounter == a.dateTime.subMillisecondCounter + 1 || a.dateTime.subMillisecondCounter == 999)
            counters += 1
        }
        #expect(counters > 0)
    }

    @Test("scripted rollover, rewrite and new day")
    func scriptedEvents() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        _ = try simulate(folder, seconds: 12) {
            $0.script = [.rollover(at: 3, root: "NQ"), .rewrite(at: 6, root: "ES", keepFraction: 0.25), .newDay(at: 9)]
        }
        // Rollover: NQH26 appears and grows, NQZ25 stops.
        let old = try IntradayFormat.readFile(atPath: folder.path + "/NQZ25-CME.scid").records
        let new = try IntradayFormat.readFile(atPath: folder.path + "/NQH26-CME.scid").records
        #expect(!old.isEmpty && !new.isEmpty)
        #expect(old.last!.dateTime < new.first!.dateTime)
        #expect(DataFolder.activeContracts(DataFolder(path: folder.path).intradayFiles())["NQ"]?.name == "NQH26-CME")

        // Rewrite: the journal says what was kept, and the file continued from there.
        let entries = try WriteJournal.read(path: folder.path + "/" + WriteJournal.defaultFileName)
        let rewrite = try #require(entries.first { $0.event == "rewrite" })
        #expect(rewrite.file == "ESZ25-CME" && rewrite.generation == 1)
        let kept = Int(rewrite.detail.split(separator: " ")[1])!
        let afterRewrite = entries.first { $0.kind == .scid && $0.file == "ESZ25-CME" && $0.generation == 1 }
        #expect(afterRewrite?.firstIndex == kept)

        // New day: each contract has a second depth file that starts with a snapshot.
        let depthFiles = folder.files("/MarketDepthData")
        #expect(depthFiles.contains("ESZ25-CME.2025-12-02.depth"))
        #expect(depthFiles.contains("NQH26-CME.2025-12-02.depth"))
        let nextDay = try DepthFormat.readFile(atPath: folder.path + "/MarketDepthData/ESZ25-CME.2025-12-02.depth")
        #expect(nextDay.records.first?.command == .clearBook)
        #expect(DataFolder(path: folder.path).latestDepthFiles()["ESZ25-CME"]?.date == "2025-12-02")
    }

    @Test("a split flush shows a reader a partial record, then the rest")
    func splitFlush() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let path = folder.path + "/X.scid"
        let writer = try SierraFileWriter<IntradayFormat>(path: path)
        let tailer = FileTailer<IntradayFormat>(path: path)
        let records = (0..<3).map { IntradayRecord.quote(at: SCDateTime(microseconds: Int64($0)), bid: 1, ask: 2, last: 1) }
        writer.append(contentsOf: records)
        var midFlush = TailBatch<IntradayRecord>()
        let flush = try writer.flush(splitAt: 40 + 13) { midFlush = tailer.poll() }
        #expect(flush?.split == true && flush?.count == 3)
        #expect(midFlush.records == [records[0]])
        #expect(midFlush.pendingBytes == 13)
        let rest = tailer.poll()
        #expect(rest.firstIndex == 1 && rest.records == Array(records[1...]))
    }

    @Test("a restarted simulator continues an existing file")
    func continueExisting() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        _ = try simulate(folder, seconds: 2) { $0.roots = ["NQ"] }
        let first = try IntradayFormat.readFile(atPath: folder.path + "/NQZ25-CME.scid").records
        _ = try simulate(folder, seconds: 2) {
            $0.roots = ["NQ"]
            $0.startUnixMicroseconds = fixedStart + 10_000_000
        }
        let both = try IntradayFormat.readFile(atPath: folder.path + "/NQZ25-CME.scid").records
        #expect(both.count > first.count)
        #expect(Array(both.prefix(first.count)) == first)
    }

    @Test(
        "bad configurations are refused with a clear message",
        arguments: [
            (SimulationConfig(dataDirectory: "/tmp/x", roots: ["QQ"]), "unknown symbol root 'QQ'"),
            (SimulationConfig(dataDirectory: "/tmp/x", rate: -5), "rate must be a positive"),
            (SimulationConfig(dataDirectory: "/tmp/x", roots: []), "no symbols"),
            (SimulationConfig(dataDirectory: "/tmp/x", flushMilliseconds: -1), "flush interval"),
            (SimulationConfig(dataDirectory: "/proc/forbidden/data"), "cannot write to data folder"),
            (SimulationConfig(dataDirectory: "/tmp/x", roots: ["NQ"], script: [.rollover(at: 1, root: "ES")]), "not one of the simulated roots"),
        ]
    )
    func badConfig(config: SimulationConfig, message: String) {
        do {
            _ = try Simulation(config: config)
            Issue.record("accepted a bad configuration")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test(
        "scripted events parse",
        arguments: ["burst:10:5:3", "rollover:20", "rollover:20:nq", "rewrite:5:ES:0.3", "new-day:30"]
    )
    func scriptParsing(text: String) throws {
        let event = try ScriptedEvent(parsing: text)
        #expect(event.time > 0)
    }

    @Test(
        "bad scripted events are refused, each saying why",
        arguments: [
            ("burst:10", "burst takes burst:AT:MULTIPLIER:SECONDS"), ("explode:3", "unknown event 'explode'"),
            ("rollover:-1", "time must be a non-negative number"), ("rewrite:5:ES:2", "keep fraction must be between 0 and 1"),
            ("new-day", "expected NAME:SECONDS"), ("burst:1:0:3", "multiplier must be positive"),
        ]
    )
    func badScripts(text: String, why: String) {
        let error = #expect(throws: SimulatorError.self) { try ScriptedEvent(parsing: text) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("'\(text)'"), "the error names the input")
        #expect("\(error.map { "\($0)" } ?? "")".contains(why), "\(String(describing: error))")
    }
}
