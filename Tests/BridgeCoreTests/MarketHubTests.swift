import BridgeCore
import BridgeTesting
import BridgeWire
import Foundation
import Logging
import Metrics
import SierraFormat
import Testing

/// The hub without sockets: a simulated folder, the hub, and client outboxes drained by hand —
/// discovery, tailing on demand, fan-out of shared bytes, resume from the file, and rollover.
@Suite("MarketHub: discovery, fan-out, resume and rollover, no sockets")
struct MarketHubTests {
    /// `historyLimit`: trades kept in memory for resumes (older ones are read back from the file).
    func hub(_ folder: SimulatedFolder, historyLimit: Int = 50_000) -> MarketHub {
        var logger = Logger(label: "hub-test")
        logger.logLevel = .critical
        var configuration = HubConfiguration(dataDirectory: folder.path)
        configuration.historyLimit = historyLimit
        let hub = MarketHub(configuration: configuration, metrics: BridgeMetrics(factory: NOOPMetricsHandler.instance), logger: logger)
        hub.refresh()
        return hub
    }

    /// Everything queued for `outbox`, as JSON, with the raw bytes.
    func drained(_ outbox: ClientOutbox) -> [(json: JSON, bytes: [UInt8])] {
        var items: [OutboxItem] = []
        outbox.drain(into: &items)
        return items.compactMap { item in
            guard case .message(let message) = item else { return nil }
            let bytes = Array(message.bytes.readableBytesView)
            return (parseJSON(String(decoding: bytes, as: UTF8.self)), bytes)
        }
    }

    func subscribe(_ hub: MarketHub, _ outbox: ClientOutbox, _ symbols: [String], resume: [String: ClientRequest.ResumePoint]? = nil) {
        _ = hub.subscribe(outbox, request: ClientRequest(op: .subscribe, symbols: symbols, channels: [.trades], resume: resume))
    }

    @Test("discovery: the folder's contracts are listed and a root names its active contract; nothing is tailed until someone subscribes")
    func discovery() throws {
        let folder = try SimulatedFolder(roots: ["NQ", "ES"])
        defer { folder.cleanup() }
        let hub = hub(folder)
        #expect(hub.contractNames.sorted() == ["ESZ25-CME", "NQZ25-CME"])
        #expect(hub.resolve("NQ") == "NQZ25-CME")
        #expect(hub.resolve("NQZ25-CME") == "NQZ25-CME")
        #expect(hub.resolve("CL") == nil)
        #expect(hub.tailedContracts.isEmpty)
        let outbox = ClientOutbox(id: 1, maxBacklog: 10_000)
        subscribe(hub, outbox, ["NQ"])
        #expect(hub.tailedContracts == ["NQZ25-CME"], "only what a client needs is tailed")
        hub.remove(outbox)
        #expect(hub.totalSubscriptions == 0)
    }

    @Test("fan-out: two clients get the same bytes for every trade, each trade of the file once, in order")
    func fanOut() throws {
        let folder = try SimulatedFolder(roots: ["NQ"])
        defer { folder.cleanup() }
        let hub = hub(folder)
        let first = ClientOutbox(id: 1, maxBacklog: 100_000)
        let second = ClientOutbox(id: 2, maxBacklog: 100_000)
        subscribe(hub, first, ["NQ"])
        subscribe(hub, second, ["NQ"])
        let snapshot = try #require(drained(first).first { $0.json["type"] as? String == "snapshot" }?.json)
        _ = drained(second)
        let start = try #require(snapshot["seq"] as? Int)
        try folder.advance(by: 2)
        hub.pump()
        let a = drained(first).filter { $0.json["type"] as? String == "trade" }
        let b = drained(second).filter { $0.json["type"] as? String == "trade" }
        let records = try folder.records("NQZ25-CME")
        #expect(a.count > 100)
        expectTrades(a.map(\.json), match: records, after: start)
        #expect(a.map(\.bytes) == b.map(\.bytes), "encoded once: the same bytes for both")
    }

    @Test(
        "resume from a file position: the trades after the client's seq are replayed, `resumed` says which, a fresh snapshot follows, then it goes live"
    )
    func resumeFromTheFile() throws {
        let folder = try SimulatedFolder(roots: ["NQ"])
        defer { folder.cleanup() }
        // Three trades in memory: the missed ones are read back from the file.
        let hub = hub(folder, historyLimit: 3)
        let first = ClientOutbox(id: 1, maxBacklog: 100_000)
        subscribe(hub, first, ["NQ"])
        let snapshot = try #require(drained(first).first { $0.json["type"] as? String == "snapshot" }?.json)
        let epoch = try #require(snapshot["epoch"] as? String)
        let from = try #require(snapshot["seq"] as? Int)
        // Written while the second client was away.
        try folder.advance(by: 1)
        hub.pump()
        let second = ClientOutbox(id: 2, maxBacklog: 100_000)
        subscribe(hub, second, ["NQ"], resume: ["NQ": .init(epoch: epoch, seq: from)])
        try folder.advance(by: 1)
        hub.pump()
        let messages = drained(second).map(\.json)
        let records = try folder.records("NQZ25-CME")
        let resumedAt = try #require(messages.firstIndex { $0["type"] as? String == "resumed" })
        let resumed = messages[resumedAt]
        let replayed = messages[..<resumedAt].filter { $0["type"] as? String == "trade" }
        #expect(resumed["source"] as? String == "file")
        #expect(replayed.count == resumed["replayed"] as? Int)
        #expect(replayed.first?["seq"] as? Int == resumed["from"] as? Int)
        #expect(replayed.last?["seq"] as? Int == resumed["to"] as? Int)
        #expect(messages[resumedAt...].dropFirst().first?["type"] as? String == "snapshot", "a fresh snapshot follows the replay")
        // Replayed and live together: every trade after the resume point, once, in order.
        expectTrades(messages.filter { $0["type"] as? String == "trade" }, match: records, after: from)
    }

    @Test("rollover: a root's subscriber is told, and gets the new contract's trades from its first record")
    func rollover() throws {
        let folder = try SimulatedFolder(roots: ["NQ"], script: [.rollover(at: 2, root: "NQ")])
        defer { folder.cleanup() }
        let hub = hub(folder)
        let outbox = ClientOutbox(id: 1, maxBacklog: 100_000)
        subscribe(hub, outbox, ["NQ"])
        _ = drained(outbox)
        try folder.advance(by: 2)
        // The new contract's file appears: the watcher would list the folder and pump.
        hub.refresh()
        hub.pump()
        let messages = drained(outbox).map(\.json)
        let rollover = try #require(messages.first { $0["type"] as? String == "rollover" })
        #expect(rollover["from"] as? String == "NQZ25-CME")
        #expect(rollover["to"] as? String == "NQH26-CME")
        #expect(hub.resolve("NQ") == "NQH26-CME")
        let newTrades = messages.filter { $0["type"] as? String == "trade" && $0["contract"] as? String == "NQH26-CME" }
        expectTrades(newTrades, match: try folder.records("NQH26-CME"), after: -1)
    }
}
