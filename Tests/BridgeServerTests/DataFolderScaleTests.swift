import BridgeServer
import BridgeTesting
import Foundation
import SierraFormat
import Testing

@testable import BridgeCore

/// A Data folder like a trader's: a file for every contract ever opened, most of them expired.
/// `roots` × 12 months × `years` small files, and an active contract per root that can grow.
struct ContractFolder {
    let folder: String
    let names: [String]
    static let base: Int64 = 1_764_599_400_000_000  // 2025-12-01 14:30 UTC

    init(roots: [String] = ["ES", "NQ", "CL", "GC"], years: Int = 5, records: Int = 3) throws {
        folder = NSTemporaryDirectory() + "bridgelab-contracts-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var names: [String] = []
        for root in roots {
            for year in 21..<(21 + years) {
                for code in ContractSymbol.monthCodes {
                    let name = "\(root)\(code)\(year)-CME"
                    // The earlier contracts traded earlier; all of them end before the base time.
                    let end = Self.base - Int64(26 + 21 - year) * 365 * SCDateTime.microsecondsPerDay / 12
                    let batch = (0..<records).map { i in
                        IntradayRecord.trade(
                            at: SCDateTime(unixMicroseconds: end + Int64(i) * 1_000_000),
                            price: 100 + Float(i),
                            size: 1,
                            side: .bid,
                            bid: 99.75 + Float(i),
                            ask: 100.25 + Float(i)
                        )
                    }
                    try Data(IntradayFormat.encodeFile(batch)).write(to: URL(fileURLWithPath: folder + "/" + name + ".scid"))
                    names.append(name)
                }
            }
        }
        self.names = names
    }

    func append(_ contract: String, trades: Int, from seconds: Int64) throws {
        var bytes: [UInt8] = []
        for i in 0..<trades {
            let record = IntradayRecord.trade(
                at: SCDateTime(unixMicroseconds: Self.base + (seconds + Int64(i)) * 1_000_000),
                price: 200 + Float(i),
                size: UInt32(i + 1),
                side: .ask,
                bid: 199.75 + Float(i),
                ask: 200.25 + Float(i)
            )
            IntradayFormat.encodeRecord(record, into: &bytes)
        }
        let path = folder + "/" + contract + ".scid"
        if !FileManager.default.fileExists(atPath: path) { try Data(IntradayFormat.encodeFile([])).write(to: URL(fileURLWithPath: path)) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: folder) }
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

extension BridgeSuites {
    @Suite("A real Data folder: hundreds of contracts, tailed only while needed")
    struct DataFolderScaleTests {
        func settings(_ folder: String) -> BridgeConfiguration {
            BridgeTesting.settings(folder) { $0.idleCloseSeconds = 0.2 }
        }

        @Test("discovery lists every contract from the folder's listing, without opening one; /api/symbols says what it can cheaply")
        func discoveryWithoutOpening() async throws {
            let folder = try ContractFolder()
            defer { folder.cleanup() }
            try await withBridge(settings(folder.folder)) { bridge in
                let hub = try #require(bridge.app.hub)
                #expect(hub.contractNames.count == 240)
                #expect(hub.tailedContracts.isEmpty)
                let symbols = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/symbols").body)
                let contracts = try #require(symbols["contracts"] as? [JSON])
                #expect(contracts.count == 240)
                #expect(contracts.allSatisfy { $0["records"] as? Int == 3 && $0["tailed"] as? Bool == false })
                // Each root means its latest contract with records, decided from the sizes.
                let roots = try #require(symbols["roots"] as? [String: String])
                #expect(roots == ["ES": "ESZ25-CME", "NQ": "NQZ25-CME", "CL": "CLZ25-CME", "GC": "GCZ25-CME"])
                #expect(contracts.filter { $0["active"] as? Bool == true }.count == 4)
                let health = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/health").body)
                #expect((health["bridge"] as? JSON)?["tailed"] as? Int == 0)
                #expect(hub.tailedContracts.isEmpty, "answering /api/symbols opened \(hub.tailedContracts)")
            }
        }

        @Test("a contract is tailed while someone needs it and closed after; a resume carries on across the close")
        func openOnDemandAndResume() async throws {
            let folder = try ContractFolder()
            defer { folder.cleanup() }
            try await withBridge(settings(folder.folder)) { bridge in
                let hub = try #require(bridge.app.hub)
                // A poll opens one contract, for a while.
                #expect(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/CLH22-CME").status == 200)
                #expect(hub.tailedContracts == ["CLH22-CME"])
                #expect(try await eventually { hub.tailedContracts.isEmpty }, "an unneeded contract stayed open")

                let client = try await TestWSClient(url: bridge.ws + "/ws")
                try await client.send(["op": "subscribe", "symbols": ["ES"], "channels": ["trades"]])
                let (snapshot, _) = try await client.until("snapshot")
                let epoch = try #require(snapshot["epoch"] as? String)
                #expect(hub.tailedContracts == ["ESZ25-CME"])
                try folder.append("ESZ25-CME", trades: 4, from: 10)
                let live = try await client.collect("trade", count: 4)
                let seq = try #require(live.last?["seq"] as? Int)
                // Subscribed, it stays open past the idle time.
                try await Task.sleep(for: .milliseconds(500))
                #expect(hub.tailedContracts == ["ESZ25-CME"])
                await client.close()
                #expect(try await eventually { hub.tailedContracts.isEmpty }, "the contract stayed open after its client left")

                // Written while nobody tailed it: the contract is opened again from its file (a
                // small file is read whole, so the trades come from what was read), in order.
                try folder.append("ESZ25-CME", trades: 6, from: 20)
                let again = try await TestWSClient(url: bridge.ws + "/ws")
                try await again.send(["op": "subscribe", "symbols": ["ES"], "channels": ["trades"], "resume": ["ES": ["epoch": epoch, "seq": seq]]])
                let (resumed, before) = try await again.until("resumed")
                #expect(["memory", "file"].contains(resumed["source"] as? String))
                let replayed = before.filter { $0["type"] as? String == "trade" }
                #expect(replayed.map { $0["seq"] as? Int } == Array((seq + 1)...(seq + 6)))
                #expect(replayed.first?["prev"] as? Int == seq)
                await again.close()
            }
        }

        @Test("a root with subscribers follows a rollover to a contract that was never tailed; the old one is closed")
        func rolloverOfAnUntailedContract() async throws {
            let folder = try ContractFolder()
            defer { folder.cleanup() }
            try await withBridge(settings(folder.folder)) { bridge in
                let hub = try #require(bridge.app.hub)
                let client = try await TestWSClient(url: bridge.ws + "/ws")
                try await client.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades"]])
                _ = try await client.until("snapshot")
                #expect(hub.tailedContracts == ["NQZ25-CME"])
                // The next contract's file appears and gets its first trades.
                try folder.append("NQH26-CME", trades: 3, from: 30)
                let (rollover, _) = try await client.until("rollover", timeout: 10)
                #expect(rollover["from"] as? String == "NQZ25-CME" && rollover["to"] as? String == "NQH26-CME")
                let trades = try await client.collect("trade", count: 3)
                #expect(trades.allSatisfy { $0["contract"] as? String == "NQH26-CME" })
                #expect(try await eventually { hub.tailedContracts == ["NQH26-CME"] }, "tailed: \(hub.tailedContracts)")
                await client.close()
            }
        }

        @Test("a folder larger than the descriptor limit: the bridge starts, lists it and serves any contract")
        func moreFilesThanDescriptors() async throws {
            let folder = try ContractFolder(roots: ["ES", "NQ", "CL", "GC", "YM"], years: 4)
            defer { folder.cleanup() }
            #expect(folder.names.count == 240)
            let port = try freeLoopbackPort()
            // A limit of 64 descriptors for a folder of 240 files (each bridge tailing them all needed 240+).
            let bridge = try BridgeProcess(
                shell: "ulimit -n 64 && exec \"$0\" \"$@\"",
                ["--data-dir", folder.folder, "--port", String(port), "--log-level", "warning", "--close-after", "0.2"]
            )
            #expect(try await bridge.port() == port)
            let symbols = parseJSON(try await RawHTTP.fetch(port: port, "/api/symbols").body)
            #expect((symbols["contracts"] as? [JSON])?.count == 240)
            // Every contract in turn, more of them than the limit: each is opened, served and closed again.
            for name in folder.names.prefix(120) {
                let (status, _, body) = try await RawHTTP.fetch(port: port, "/api/live_data/\(name)")
                #expect(status == 200, "\(name): \(status) \(body)")
                if status != 200 { break }
            }
            let limits = try String(contentsOfFile: "/proc/\(bridge.process.processIdentifier)/limits", encoding: .utf8)
            #expect(limits.contains("Max open files            64"), "\(limits)")
            bridge.signal(SIGTERM)
            #expect(try await bridge.exit(timeout: 10) == 0)
        }
    }
}
