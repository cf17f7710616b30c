import ConfigFile
import Foundation
import Testing

@testable import Swarm

@Suite("profiles: parsing and every refusal")
struct ProfileLoaderTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("the shipped profiles parse: the reference bridge's and the plan's")
    func shipped() throws {
        let reference = try ProfileLoader.load("bridgelab", searching: [Self.packageRoot + "/profiles"])
        #expect(reference.webSocket?.perSymbol == false)
        #expect(reference.webSocket?.subscribe?.contains("{symbol}") == true)
        #expect(reference.tradeFields.time?.description == "t")
        #expect(reference.tradeFields.timeUnit == .unixMicroseconds)
        #expect(reference.pollFields.price?.description == "last.price")
        #expect(reference.snapshotFields.time?.description == "last.t")
        #expect(reference.tradeFields.price?.description == "price")
        #expect(reference.matchesByTime)
        let plan = try ProfileLoader.load("plan", searching: [Self.packageRoot + "/profiles"])
        #expect(plan.webSocket?.url == "ws://{host}:{port}/ws/live_data/{symbol}")
        #expect(plan.webSocket?.perSymbol == true)
        #expect(plan.webSocket?.heartbeat == .init(every: 10, text: "ping"))
        #expect(plan.tradeFields.timeUnit == .iso8601)
        #expect(plan.pollFields.time?.description == "last_trade.timestamp")
        // The poll route's own fields on top of the profile's: its contract path stays the profile's.
        #expect(plan.pollFields.contract?.description == "symbol")
        #expect(plan.metrics == nil)
    }

    static let minimal = """
        name: mine
        websocket:
          url: "ws://{host}:{port}/stream/{symbol}"
        health: "http://{host}:{port}/health"
        trade: {match: {kind: T}}
        fields:
          price: p
          size: q
        """

    @Test("a minimal profile: one route, how a trade is known, its price and size")
    func minimalProfile() throws {
        let profile = try ProfileLoader.parse(Self.minimal, file: "mine.yaml")
        #expect(profile.name == "mine")
        #expect(!profile.matchesByTime)
        #expect(profile.trade?.match.map(\.value) == ["T"])
    }

    /// Each bad profile, and the line and words its one error must hold.
    static let bad: [(String, String)] = [
        (minimal + "\nextra: 1\n", "mine.yaml:9: extra: unknown field"),
        (minimal.replacingOccurrences(of: "price: p", with: "price: a..b"), "fields.price: 'a..b' has an empty key"),
        (minimal.replacingOccurrences(of: "stream/{symbol}", with: "stream/{sym}"), "websocket.url: {sym} is no placeholder"),
        (minimal.replacingOccurrences(of: "stream/{symbol}", with: "stream"), "names no {symbol}: without one, subscribe must say"),
        (minimal.replacingOccurrences(of: "ws://", with: "http://"), "websocket.url: must start with ws://"),
        (minimal.replacingOccurrences(of: "\n  size: q", with: ""), "a trade needs the paths of its price and size"),
        (minimal + "\n  time: t\n", "fields.time: needs its unit"),
        (minimal + "\n  time: {path: t, unit: fortnights}\n", "fields.time.unit: must be one of unix_s, unix_ms, unix_us, iso8601, sc_days"),
        (minimal.replacingOccurrences(of: "health: \"http://{host}:{port}/health\"\n", with: ""), "a profile needs health"),
        (minimal.replacingOccurrences(of: "trade: {match: {kind: T}}", with: "trade: {fields: {price: p}}"), "trade: needs match"),
        ("name: x\nhealth: \"http://{host}:{port}/h\"\n", "names no route"),
        ("name: x\n  - broken: [\n", "not valid YAML"),
    ]

    @Test("every bad profile is refused with its file, line and field", arguments: 0..<bad.count)
    func refusals(_ index: Int) {
        let (text, expected) = Self.bad[index]
        do {
            _ = try ProfileLoader.parse(text, file: "mine.yaml")
            Issue.record("accepted: \(expected)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(error.description.hasPrefix("mine.yaml"), "\(error.description)")
        }
    }

    @Test("a profile that is not there names the ones that are")
    func missing() {
        do {
            _ = try ProfileLoader.load("no-such", searching: [Self.packageRoot + "/profiles"])
            Issue.record("found a profile that does not exist")
        } catch {
            #expect(error.description.contains("no such profile file; profiles: bridgelab, floor, plan"), "\(error.description)")
        }
    }
}
