import BridgeTesting
import Foundation
import SierraFormat
import Testing

/// The built `floor-bridge`, run as a process on a simulated folder and read by a standard
/// WebSocket client, checked record by record against the file.
@Suite("floor-bridge", .serialized)
struct FloorBridgeTests {
    static func start(_ folder: SimulatedFolder) async throws -> (BridgeProcess, Int) {
        let bridge = try BridgeProcess(executable: try SimulatorCommandTests.executable("floor-bridge"), ["--data-dir", folder.path, "--port", "0"])
        // A wait, not a speed check: at the start of a loaded parallel test run the line took
        // 20 s to come once.
        return (bridge, try await bridge.port(timeout: 60))
    }

    @Test("sends every trade and quote change written after the upgrade, with the record's index as seq")
    func sendsEveryUpdate() async throws {
        let folder = try SimulatedFolder(roots: ["NQ"], rate: 300)
        defer { folder.cleanup() }
        let (bridge, port) = try await Self.start(folder)
        defer { bridge.signal(SIGKILL) }
        let contract = try #require(DataFolder.activeContracts(DataFolder(path: folder.path).intradayFiles())["NQ"]).name
        let before = try folder.records(contract).count
        let client = try await TestWSClient(url: "ws://127.0.0.1:\(port)/ws/live_data/NQ")
        try folder.advance(by: 2)
        let records = try folder.records(contract)
        // Computed from the file alone: each trade, then a quote wherever the best bid or ask moved.
        var expected: [String] = []
        for index in before..<records.count {
            let record = records[index]
            let previous = records[index - 1]
            if record.isTrade { expected.append("trade \(index)") }
            if record.bid != previous.bid || record.ask != previous.ask { expected.append("quote \(index)") }
        }
        #expect(expected.filter { $0.hasPrefix("quote") }.count > 20)
        #expect(expected.filter { $0.hasPrefix("trade") }.count > 100)
        var received: [JSON] = []
        while received.count < expected.count, let message = try await client.next(timeout: 10) { received.append(message) }
        #expect(received.map { "\($0["type"] as? String ?? "?") \($0["seq"] as? Int ?? -1)" } == expected)
        for message in received {
            let seq = try #require(message["seq"] as? Int)
            let record = records[seq]
            #expect(message["contract"] as? String == contract)
            #expect(message["t"] as? Int64 == record.dateTime.unixMicroseconds)
            if message["type"] as? String == "trade" {
                #expect((message["price"] as? Double).map(Float.init) == record.close)
                #expect(message["size"] as? Int == Int(record.totalVolume))
            } else {
                #expect((message["bid"] as? Double).map(Float.init) == record.bid)
                #expect((message["ask"] as? Double).map(Float.init) == record.ask)
            }
        }
        await client.close()
    }

    @Test("answers /health, refuses other routes, plain GETs of the WebSocket route and symbols the folder has no file of")
    func routes() async throws {
        let folder = try SimulatedFolder(roots: ["NQ"])
        defer { folder.cleanup() }
        let (bridge, port) = try await Self.start(folder)
        defer { bridge.signal(SIGKILL) }
        for (path, status) in [("/health", 200), ("/api/live_data/NQ", 404), ("/ws/live_data/NQ", 426)] {
            let http = try RawHTTP(port: port)
            http.request(path)
            #expect(try http.head().status == status, "\(path)")
        }
        // An upgrade for a root the folder has no file of is refused, not followed.
        let unknown = try RawHTTP(port: port)
        unknown.requestUpgrade("/ws/live_data/ZZ")
        #expect(try unknown.head().status == 404)
        let known = try RawHTTP(port: port)
        known.requestUpgrade("/ws/live_data/NQ")
        let head = try known.head()
        #expect(head.status == 101)
        // RFC 6455's own example key and answer.
        #expect(head.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("refuses a folder that is not there, with a clear error")
    func badFolder() async throws {
        let result = try await runCommand(try SimulatorCommandTests.executable("floor-bridge"), ["--data-dir", "/nonexistent-bridgelab"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no such folder"))
    }
}
