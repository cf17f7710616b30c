import BridgeCore
import BridgeWire
import Foundation
import MarketSim
import SierraFormat
import Testing

@Suite("BridgeWire encoding")
struct JSONWriterTests {
    func render(_ body: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter()
        body(&w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test(
        "prices print as the shortest decimal that reads back as the same Float",
        arguments: [
            (Float(21002.25), "21002.25"), (17.55, "17.55"), (0.05, "0.05"), (-3.5, "-3.5"), (0, "0"), (44000, "44000"),
            (1.05005, "1.05005"), (0.00005, "0.00005"), (-0.25, "-0.25"), (2650.1, "2650.1"),
        ]
    )
    func prices(value: Float, text: String) {
        #expect(render { $0.price(value) } == text)
        #expect(Float(text) == value)
    }

    @Test("one list of message types: the encoder writes each name, the scanner reads it back as that type")
    func messageTypes() {
        for type in MessageType.allCases {
            #expect(MessageType(rawValue: "\(type.name)") == type)
        }
        for type in [MessageType.heartbeat, .pong] {
            let bytes = ServerMessages.simple(type, t: 1)
            #expect(WireScanner(String(decoding: bytes, as: UTF8.self)).kind == type)
        }
        let state = MarketState(contract: "NQZ25-CME", root: "NQ", epoch: "0")
        #expect(WireScanner(String(decoding: ServerMessages.snapshot(state), as: UTF8.self)).kind == .snapshot)
        let acknowledged = ServerMessages.subscription(.unsubscribed, id: nil, resolved: [:], channels: [.trades])
        #expect(WireScanner(String(decoding: acknowledged, as: UTF8.self)).kind == .unsubscribed)
        #expect(WireScanner(#"{"type":"from_the_future"}"#).kind == .other)
    }

    @Test("random prices round-trip exactly")
    func randomPrices() {
        var generator = SeededRandom(seed: 1)
        for _ in 0..<20_000 {
            let value =
                Float(Int.random(in: -4_000_000...4_000_000, using: &generator))
                * [0.25, 0.05, 0.01, 0.1, 0.00005, 1][Int.random(in: 0..<6, using: &generator)]
            let text = render { $0.price(value) }
            #expect(Float(text) == value, "\(value) -> \(text)")
        }
        #expect(render { $0.price(.nan) } == "null")
        #expect(render { $0.price(IntradayRecord.firstSubTradeOpen) }.contains("e+37"))
    }

    @Test("every message is valid JSON, and strings are escaped")
    func validJSON() throws {
        let source = ServerMessages.Source(contract: "NQ\"Z25\\-CME\n", root: "NQ", epoch: "e")
        let record = IntradayRecord.trade(at: SCDateTime(unixMicroseconds: 1), price: 1.25, size: 3, side: .bid, bid: 1.25, ask: 1.5)
        var state = MarketState(contract: "X", root: "X", epoch: "0")
        state.apply(record, seq: 0)
        let messages: [[UInt8]] = [
            ServerMessages.trade(source, seq: 4, prev: -1, record: record),
            ServerMessages.quote(source, seq: 1, t: 2, bid: 1, ask: nil, full: false),
            ServerMessages.stats(source, state: state, change: StateChange(), full: true),
            ServerMessages.depth(
                source,
                seq: 3,
                file: "2025-12-01",
                bids: [DepthLevel(price: 1, quantity: 2, numOrders: 3)],
                asks: [],
                full: false
            ),
            ServerMessages.snapshot(state),
            ServerMessages.hello(heartbeatSeconds: 15, contracts: ["A"], roots: ["A": "A"]),
            ServerMessages.error(code: .badJSON, message: "bad \"quote\"\u{1}", id: "7"),
            ServerMessages.rollover(root: "NQ", from: nil, to: "NQH26-CME"),
            ServerMessages.notRecovered(source, reason: "epoch_changed", requestedEpoch: "x", requestedSeq: 9),
        ]
        for bytes in messages {
            let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
            #expect(object?["type"] is String, "\(String(decoding: bytes, as: UTF8.self))")
        }
        let trade = try JSONSerialization.jsonObject(with: Data(messages[0])) as! [String: Any]
        #expect(trade["contract"] as? String == "NQ\"Z25\\-CME\n")
        #expect(trade["side"] as? String == "bid")
        let quote = try JSONSerialization.jsonObject(with: Data(messages[1])) as! [String: Any]
        #expect(quote["ask"] == nil && quote["bid"] as? Int == 1)
    }

    @Test("client requests parse, and bad ones are refused with the right code, never a crash")
    func clientRequests() {
        guard
            case .success(let request) = ClientRequest.parse(
                Array(#"{"op":"subscribe","symbols":["NQ"],"channels":["trades"],"resume":{"NQ":{"epoch":"e","seq":5}},"id":3}"#.utf8)
            )
        else {
            Issue.record("valid request refused")
            return
        }
        #expect(request.op == .subscribe && request.symbols == ["NQ"] && request.channels == [.trades] && request.id == "3")
        #expect(request.resume?["NQ"] == ClientRequest.ResumePoint(epoch: "e", seq: 5))
        var generator = SeededRandom(seed: 2)
        for _ in 0..<3_000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if case .success = ClientRequest.parse(bytes) { Issue.record("random bytes accepted: \(bytes)") }
        }
    }
}

@Suite("WireScanner")
struct WireScannerTests {
    @Test("reads the top-level fields of every message the bridge sends")
    func scansMessages() {
        let source = ServerMessages.Source(contract: "NQZ25-CME", root: "NQ", epoch: "abc")
        let record = IntradayRecord.trade(
            at: SCDateTime(unixMicroseconds: 1_764_599_400_000_007),
            price: 21_002.25,
            size: 3,
            side: .ask,
            bid: 21_002,
            ask: 21_002.25
        )
        let trade = WireScanner(String(decoding: ServerMessages.trade(source, seq: 41, prev: 39, record: record), as: UTF8.self))
        #expect(trade.type == "trade" && trade.contract == "NQZ25-CME")
        // Updates leave root and epoch to the snapshot before them.
        #expect(trade.root.isEmpty && trade.epoch.isEmpty)
        #expect(trade.seq == 41 && trade.prev == 39 && trade.t == 1_764_599_400_000_007)
        #expect(trade.price == 21_002.25 && trade.bid == 21_002 && trade.ask == 21_002.25)

        var state = MarketState(contract: "NQZ25-CME", root: "NQ", epoch: "abc")
        state.apply(record, seq: 41)
        state.bids = [DepthLevel(price: 1, quantity: 2, numOrders: 3)]
        let snapshot = WireScanner(String(decoding: ServerMessages.snapshot(state), as: UTF8.self))
        #expect(snapshot.type == "snapshot" && snapshot.seq == 41 && snapshot.volume == 3 && snapshot.bid == 21_002)
        #expect(snapshot.nested["last"]?.contains("\"seq\":41") == true)
        #expect(snapshot.nested["depth"]?.hasPrefix("{") == true)

        let refusal = WireScanner(
            String(decoding: ServerMessages.notRecovered(source, reason: "epoch_changed", requestedEpoch: "x", requestedSeq: 2), as: UTF8.self)
        )
        #expect(refusal.type == "not_recovered" && refusal.reason == "epoch_changed")
    }

    @Test("prices read back exactly as the bridge wrote them; a message inside a batch reads the same")
    func pricesAndBatches() {
        var generator = SeededRandom(seed: 3)
        let source = ServerMessages.Source(contract: "ESZ25-CME", root: "ES", epoch: "e")
        for seq in 0..<20_000 {
            let price = Float(Int.random(in: -4_000_000...4_000_000, using: &generator)) * [0.25, 0.05, 0.01, 0.1, 0.00005, 1][seq % 6]
            let record = IntradayRecord.trade(
                at: SCDateTime(unixMicroseconds: 1_764_599_400_000_000),
                price: price,
                size: 1,
                side: .bid,
                bid: price,
                ask: price
            )
            let text = String(decoding: ServerMessages.trade(source, seq: seq, prev: seq - 1, record: record), as: UTF8.self)
            let trade = WireScanner(text)
            #expect(trade.price == price && trade.bid == price, "\(text)")
            #expect(trade.kind == .trade && trade.seq == seq)
        }
        let batch = "{\"type\":\"heartbeat\",\"t\":5}\n{\"type\":\"quote\",\"contract\":\"NQZ25-CME\",\"seq\":-1,\"bid\":-0.5}"
        let lines = batch.split(separator: "\n")
        let quote = WireScanner(lines[1])
        #expect(quote.kind == .quote && quote.type == "quote" && quote.contract == "NQZ25-CME" && quote.seq == -1 && quote.bid == -0.5)
        #expect(WireScanner(lines[0]).kind == .heartbeat && WireScanner(lines[0]).t == 5)
        #expect(WireScanner("{\"type\":\"gossip\",\"price\":1e3}").kind == .other)
        #expect(WireScanner("{\"type\":\"gossip\",\"price\":1e3}").price == 1000)
    }

    @Test("garbage never crashes it")
    func garbage() {
        var generator = SeededRandom(seed: 4)
        let alphabet = Array("{}[]\",:\\ 0123456789abtype".utf8)
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0..<80, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            _ = WireScanner(String(decoding: bytes, as: UTF8.self))
        }
        #expect(WireScanner("{\"type\":\"x\",\"seq\":").type == "x")
    }
}
