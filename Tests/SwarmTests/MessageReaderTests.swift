import Foundation
import SierraFormat
import Testing

@testable import Swarm

@Suite("profiles: reading fields out of messages")
struct MessageReaderTests {
    static func profile(time unit: TimeUnit = .unixMicroseconds) throws -> BridgeProfile {
        try ProfileLoader.parse(
            """
            name: t
            websocket: {url: "ws://{host}:{port}/ws/{symbol}"}
            health: "http://{host}:{port}/health"
            trade: {match: {type: trade, "meta.v": "2"}}
            quote: {match: {type: q}}
            fields:
              contract: sym
              price: d.px
              size: d.qty
              bid: book[0][0]
              ask: book[1][0]
              time: {path: d.at, unit: \(unit.rawValue)}
            """,
            file: "t.yaml"
        )
    }

    @Test("nested paths, array positions, numbers as text, escapes; other fields skipped whatever they hold")
    func fields() throws {
        let reader = MessageReader(profile: try Self.profile())
        let text = #"""
            {"skip":{"a":[1,{"b":"}]"}],"c":"x\"y"},"type":"trade","meta":{"v":2},"sym":"NQ\u005a25-CME",
             "d":{"px":"21005.25","qty":3,"at":1764599401612345},"book":[[21005.0,4],[21005.5,2]]}
            """#
        let messages = reader.read(text)
        #expect(messages.count == 1)
        let m = try #require(messages.first)
        #expect(m.kind == .trade)
        #expect(m.contract == "NQZ25-CME")
        #expect(m.price == 21005.25)
        #expect(m.size == 3)
        #expect(m.bid == 21005.0)
        #expect(m.ask == 21005.5)
        #expect(m.time == MessageTime(unixMicroseconds: 1_764_599_401_612_345, resolution: 1))
        #expect(m.missing.isEmpty)
        #expect(m.bytes == text.utf8.count)
    }

    @Test("recognisers: every path must hold its value; what matches none is other; a top-level array is a batch")
    func classification() throws {
        let reader = MessageReader(profile: try Self.profile())
        #expect(reader.read(#"{"type":"trade","meta":{"v":3}}"#).first?.kind == .other)
        #expect(reader.read(#"{"type":"q","sym":"ES","book":[[1],[2]]}"#).first?.kind == .quote)
        let batch = reader.read(#"[{"type":"q"},{"type":"trade","meta":{"v":"2"},"d":{"px":1,"qty":1,"at":5}}]"#)
        #expect(batch.map(\.kind) == [.quote, .trade])
        #expect(batch[1].time?.unixMicroseconds == 5)
        // Malformed or cut short: nothing found, nothing crashes.
        for broken in ["", "{", "[", "{\"type\":", "{\"type\":\"trade\",\"meta\":{\"v\":\"2\"", "nul", "\"", "{\"a\":[[[[", "}}}"] {
            _ = reader.read(broken)
        }
        let missing = reader.read(#"{"type":"trade","meta":{"v":"2"},"d":{"px":1}}"#)[0]
        #expect(missing.missing.contains("d.qty"))
        #expect(missing.missing.contains("d.at"))
    }

    static let unix = Int64(1_764_599_401_612_345)

    /// (unit, value as JSON, expected Unix µs, expected resolution µs)
    static let times: [(TimeUnit, String, Int64, Int64)] = [
        (.unixMicroseconds, "1764599401612345", unix, 1),
        (.unixMilliseconds, "1764599401612", 1_764_599_401_612_000, 1000),
        (.unixMilliseconds, "1764599401612.345", unix, 1),
        (.unixSeconds, "1764599401", 1_764_599_401_000_000, 1_000_000),
        (.unixSeconds, "\"1764599401.612345\"", unix, 1),
        (.iso8601, "\"2025-12-01T14:30:01.612345Z\"", unix, 1),
        (.iso8601, "\"2025-12-01T14:30:01.612345+00:00\"", unix, 1),
        (.iso8601, "\"2025-12-01T15:30:01.612+01:00\"", 1_764_599_401_612_000, 1000),
        (.iso8601, "\"2025-12-01T14:30:01Z\"", 1_764_599_401_000_000, 1_000_000),
        (.sierraDays, String(Double(unix + SCDateTime.unixEpochOffsetMicroseconds) / 86_400e6), unix, 2),
    ]

    @Test("a record's time in every unit, with the precision the message gave it", arguments: 0..<times.count)
    func timeUnits(_ index: Int) throws {
        let (unit, value, micros, resolution) = Self.times[index]
        let reader = MessageReader(profile: try Self.profile(time: unit))
        let message = try #require(reader.read(#"{"type":"trade","meta":{"v":"2"},"d":{"px":1,"qty":1,"at":\#(value)}}"#).first)
        let time = try #require(message.time, "\(unit) \(value)")
        // A double of days since 1899 holds the microsecond to within one.
        #expect(abs(time.unixMicroseconds - micros) <= (unit == .sierraDays ? 1 : 0), "\(unit) \(value): \(time.unixMicroseconds)")
        #expect(time.resolution == resolution, "\(unit) \(value)")
    }

    @Test("a poll answer is read for its last trade through the poll route's fields")
    func pollAnswer() throws {
        let plan = try ProfileLoader.load("plan", searching: [ProfileLoaderTests.packageRoot + "/profiles"])
        let answer = MessageReader(profile: plan).readPoll(
            #"{"symbol":"NQZ25-CME","price":21004.25,"last_trade":{"price":21004.25,"size":2,"timestamp":"2025-12-01T14:30:01.612345+00:00"}}"#
        )
        #expect(answer.contract == "NQZ25-CME")
        #expect(answer.price == 21004.25)
        #expect(answer.size == 2)
        #expect(answer.time?.unixMicroseconds == Self.unix)
    }
}
