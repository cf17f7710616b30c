import BridgeClient
import BridgeWire
import Testing

/// The client's bookkeeping on messages alone, no socket: the protocol's own examples
/// (docs/PROTOCOL.md) applied one by one.
@Suite("ClientSession: what the bridge's messages tell a client")
struct ClientSessionTests {
    static let subscribed =
        #"{"type":"subscribed","id":"1","symbols":{"NQ":"NQZ25-CME"},"channels":["trades","quotes","stats","bars:1m"]}"#
    static let snapshot =
        #"{"type":"snapshot","contract":"NQZ25-CME","root":"NQ","epoch":"e1","seq":152,"t":1764599401609000,"#
        + #""last":{"seq":151,"t":1764599401545000,"price":21005.5,"size":1,"side":"ask"},"#
        + #""bid":21005.5,"ask":21005.75,"volume":242,"trades":114,"#
        + #""bars":{"1m":[{"t":1764599340000000,"open":21000,"seq":120},{"t":1764599400000000,"open":21001,"seq":140}]}}"#

    static func trade(_ seq: Int, prev: Int, price: Double = 21005.75) -> String {
        #"{"type":"trade","contract":"NQZ25-CME","seq":\#(seq),"prev":\#(prev),"t":1764599401612000,"price":\#(price),"size":3,"side":"ask"}"#
    }

    func applied(_ texts: [String], to session: inout ClientSession, at time: Int64 = 1_000) -> [ContractTracker.TradeVerdict?] {
        texts.map { session.apply(WireScanner($0), text: $0[...], receivedAt: time) }
    }

    @Test("a snapshot and the trades after it: the view, the position, each trade's verdict, a gap the moment it shows")
    func snapshotAndTrades() {
        var session = ClientSession()
        let verdicts = applied(
            [
                Self.subscribed, Self.snapshot, Self.trade(153, prev: 151), Self.trade(160, prev: 158), Self.trade(160, prev: 158),
                Self.trade(155, prev: 153),
            ],
            to: &session
        )
        #expect(verdicts == [nil, nil, .inOrder, .afterGap, .duplicate, .outOfOrder])
        let tracker = session.trackers["NQZ25-CME"]
        #expect(tracker?.epoch == "e1")
        #expect(tracker?.position == 160)
        #expect(tracker?.trades == 2)
        #expect(tracker?.gaps == 1)
        #expect(tracker?.duplicates == 1)
        #expect(tracker?.outOfOrder == 1)
        let view = session.view(of: "NQ")
        #expect(view?.bid == 21005.5)
        #expect(view?.ask == 21005.75)
        #expect(view?.last == 21005.75, "the last trade in order moved it")
        #expect(view?.volume == 242)
        #expect(session.statistics.messages == 6)
        #expect(
            session.statistics.bytes == [Self.subscribed, Self.snapshot].map(\.utf8.count).reduce(0, +) + 4 * Self.trade(153, prev: 151).utf8.count
        )
    }

    @Test("the next subscribe resumes each followed symbol from its position and its bars from the last one held")
    func resumePoints() throws {
        var session = ClientSession()
        #expect(session.subscribeRequest(symbols: ["NQ"], channels: [.trades]).resume == nil, "nothing followed yet: no resume point")
        let bar = #"{"type":"bar","contract":"NQZ25-CME","period_s":60,"t":1764599460000000,"open":21005,"close":21006,"seq":158}"#
        _ = applied([Self.subscribed, Self.snapshot, Self.trade(153, prev: 151), bar], to: &session)
        let request = session.subscribeRequest(symbols: ["NQ", "ES"], channels: [.trades, MarketChannel(barPeriodSeconds: 60)!], maxRate: 4)
        let point = try #require(request.resume?["NQ"])
        #expect(point.epoch == "e1")
        #expect(point.seq == 153)
        #expect(point.bars == ["1m": 158])
        #expect(request.resume?["ES"] == nil, "ES was never followed")
        #expect(request.maxRate == 4)
    }

    @Test("a rollover moves the root to the new contract; hello's heartbeat, resumes, refusals and errors are counted")
    func controlMessages() {
        var session = ClientSession()
        _ = applied(
            [
                #"{"type":"hello","protocol":1,"heartbeat_s":5.0}"#, Self.subscribed,
                #"{"type":"rollover","root":"NQ","from":"NQZ25-CME","to":"NQH26-CME"}"#,
                #"{"type":"resumed","contract":"NQH26-CME","from":1,"to":4,"replayed":3}"#,
                #"{"type":"not_recovered","contract":"NQH26-CME","reason":"epoch_changed"}"#,
                #"{"type":"error","code":"bad_request","message":"max_rate must be a number"}"#,
            ],
            to: &session
        )
        #expect(session.heartbeatSeconds == 5)
        #expect(session.resolved["NQ"] == "NQH26-CME")
        #expect(session.statistics.resumesRecovered == 1)
        #expect(session.statistics.resumesNotRecovered == 1)
        #expect(session.statistics.errors == ["bad_request": 1])
    }

    @Test("a poll's answer replaces the view whole and names the symbol's contract")
    func pollAnswer() {
        var session = ClientSession()
        session.applyPoll(symbol: "NQ", snapshot: WireScanner(Self.snapshot), receivedAt: 42)
        #expect(session.resolved["NQ"] == "NQZ25-CME")
        #expect(session.view(of: "NQ")?.updatedAt == 42)
        #expect(session.view(of: "NQ")?.seq == 152)
        #expect(session.trackers.isEmpty, "a poll says nothing about which trades were seen")
    }
}
