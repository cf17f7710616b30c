import BridgeTesting
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import SierraFormat
import Swarm
import Testing

/// A bridge BridgeLab did not build, in the plan's message format, that drops, duplicates and
/// reorders trades on purpose: the profile clients must catch and count each mistake exactly.
final class FaultyPlanBridge: Sendable {
    let port: Int
    private let task: Task<Void, Error>

    /// Serves `/ws/live_data/{symbol}`: every message of `messages`, then waits for the client.
    static func start(messages: [String]) async throws -> FaultyPlanBridge {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.get("/health") { _, _ in "{\"status\":\"healthy\"}" }
        router.ws("/ws/live_data/{symbol}") { inbound, outbound, _ in
            for message in messages { try await outbound.write(.text(message)) }
            for try await _ in inbound {}
        }
        let port = NIOLockedValueBox<Int?>(nil)
        var logger = Logger(label: "faulty")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLockedValue { $0 = channel.localAddress?.port } },
            logger: logger
        )
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        for _ in 0..<200 {
            if let bound = port.withLockedValue({ $0 }) { return FaultyPlanBridge(port: bound, task: task) }
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        throw RunnerTestError("the faulty bridge did not start")
    }

    private init(port: Int, task: Task<Void, Error>) {
        self.port = port
        self.task = task
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

struct RunnerTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension BridgeSuites {
    @Suite("foreign bridges through a profile")
    struct ForeignBridgeTests {
        static let profiles =
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .path + "/profiles"

        /// The plan bridge's trade message for a record (ISO time to the microsecond, or none).
        static func message(_ contract: String, _ record: IntradayRecord, withTime: Bool) -> String {
            let time = withTime ? ",\"timestamp\":\"\(isoMicroseconds(record.dateTime.unixMicroseconds))\"" : ""
            return "{\"type\":\"trade\",\"symbol\":\"\(contract)\",\"data\":{\"price\":\(record.close),\"size\":\(record.totalVolume)\(time)}}"
        }

        static func isoMicroseconds(_ unix: Int64) -> String {
            let date = Date(timeIntervalSince1970: TimeInterval(unix / 1_000_000))
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(identifier: "UTC")
            let seconds = formatter.string(from: date).dropLast()  // "…Z"
            return seconds + "." + String(String(unix % 1_000_000 + 1_000_000).dropFirst()) + "+00:00"
        }

        /// Positions (in the trades) of a drop, a duplicate and a swapped pair, chosen where a trade
        /// differs from its neighbours so matching by order cannot confuse them either.
        static func mistakes(_ trades: [IntradayRecord]) -> (drop: Int, duplicate: Int, swap: Int) {
            func distinct(_ i: Int) -> Bool {
                (i - 2...i + 2).allSatisfy { j in
                    j == i || j < 0 || j >= trades.count || trades[j].close != trades[i].close || trades[j].totalVolume != trades[i].totalVolume
                }
            }
            let candidates = (5..<(trades.count - 5)).filter { distinct($0) && distinct($0 + 1) }
            return (candidates[0], candidates[3], candidates[6])
        }

        func run(withTime: Bool) async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try folder.advance(by: 2)
            let contract = try #require(DataFolder(path: folder.path).intradayFiles().first?.contract.name)
            let all = try folder.records(contract).filter(\.isTrade)
            // A live bridge's first trade is a fresh one: the newest of its price and size in the
            // file, which is what matching by order takes it for. Start the stream at such a trade.
            let start = try #require(
                (all.count - 120..<all.count - 60).first { i in
                    !all[(i + 1)...].contains { $0.close == all[i].close && $0.totalVolume == all[i].totalVolume }
                }
            )
            let trades = Array(all[start...])
            let (drop, duplicate, swap) = Self.mistakes(trades)
            var sent: [IntradayRecord] = []
            for (i, trade) in trades.enumerated() {
                if i == drop { continue }
                if i == swap { continue }
                sent.append(trade)
                if i == duplicate { sent.append(trade) }
                if i == swap + 1 { sent.append(trades[swap]) }
            }
            let bridge = try await FaultyPlanBridge.start(messages: sent.map { Self.message(contract, $0, withTime: withTime) })
            var text = try String(contentsOfFile: Self.profiles + "/plan.yaml", encoding: .utf8)
            if !withTime { text = text.replacingOccurrences(of: "  time: {path: data.timestamp, unit: iso8601}\n", with: "") }
            var configuration = SwarmConfiguration(url: "ws://127.0.0.1:\(bridge.port)")
            configuration.profile = try ProfileLoader.parse(text, file: "plan.yaml")
            #expect(configuration.profile?.matchesByTime == withTime)
            configuration.duration = 2
            configuration.clients = 1
            configuration.mix = [(.ws, 1)]
            configuration.symbols = ["NQ"]
            configuration.dataDirectory = folder.path
            configuration.progress = false
            var logger = Logger(label: "foreign-test")
            logger.logLevel = .critical
            let summary = try await Swarm(configuration: configuration, logger: logger).run()
            await bridge.stop()
            let json = try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: summary.json)) as! [String: Any]
            let how = withTime ? "by time" : "by order"
            #expect(json.int("updates.lost") == 1, "\(how): \(summary.text)")
            #expect(json.int("updates.duplicates") == 1, "\(how): \(summary.text)")
            #expect(json.int("updates.out_of_order") == 1, "\(how): \(summary.text)")
            #expect(json.int("updates.trades") == trades.count - 1, "\(how): \(summary.text)")
            #expect(json.int("profile.unmatched_trades") == 0, "\(how): \(summary.text)")
            #expect((json.at("profile.matched_by") as? String) == (withTime ? "time" : "order"))
            // Every trade received once got its write → decode sample from the journal.
            #expect(json.int("latency_us.update.count") == trades.count - 1, "\(how): \(summary.text)")
        }

        @Test("a bridge that drops, duplicates and reorders trades: each caught and counted exactly, matched by time")
        func matchedByTime() async throws { try await run(withTime: true) }

        @Test("the same bridge sending no record time: matched by the order of prices and sizes, the same counts")
        func matchedByOrder() async throws { try await run(withTime: false) }
    }
}
