import BridgeTesting
import SierraFormat
import Testing

@Suite("Records, times and names")
struct FormatTests {
    @Test("SCDateTime converts to and from Unix time")
    func dateTime() {
        let t = SCDateTime(unixMicroseconds: 1_764_599_400_000_001)
        #expect(t.microseconds == 3_973_761_000_000_001)
        #expect(t.unixMicroseconds == 1_764_599_400_000_001)
        #expect(t.subMillisecondCounter == 1)
        #expect(t.utcDateString == "2025-12-01")
        #expect(SCDateTime(microseconds: 0).utcDateString == "1899-12-30")
        #expect(SCDateTime(unixMicroseconds: 0).utcDateString == "1970-01-01")
    }

    @Test("legacy doubles are detected by the top byte and rounded to the millisecond")
    func legacyDetection() {
        let days = 45_992.604_166_666_7  // 2025-12-01 14:30:00 UTC, as a double of days
        let bits = days.bitPattern
        #expect(SCDateTime.isLegacyDouble(rawBits: bits))
        #expect(SCDateTime(rawBits: bits).unixMicroseconds == 1_764_599_400_000_000)
        #expect(!SCDateTime.isLegacyDouble(rawBits: UInt64(3_973_761_000_000_000)))
        #expect(SCDateTime.isLegacyDouble(rawBits: (-1.5).bitPattern))
    }

    @Test("encode then decode gives the same record, byte-exact")
    func roundTrip() throws {
        let records = (0..<50).map { tick($0) }
        let bytes = IntradayFormat.encodeFile(records)
        #expect(bytes.count == 56 + 50 * 40)
        #expect(Array(bytes[0..<4]) == Array("SCID".utf8))
        let decoded = try IntradayFormat.decodeFile(bytes, file: "mem")
        #expect(decoded.records == records)
        #expect(IntradayFormat.encodeFile(decoded.records) == bytes)

        let t = SCDateTime(microseconds: 42)
        let depth = [DepthRecord(dateTime: t, command: .addAsk, flags: 1, numOrders: 3, price: 1.5, quantity: 9)]
        let depthBytes = DepthFormat.encodeFile(depth)
        #expect(depthBytes.count == 64 + 24)
        #expect(try DepthFormat.decodeFile(depthBytes, file: "mem").records == depth)
    }

    @Test("the golden files re-encode to the same bytes")
    func goldenReencode() throws {
        for name in ["NQZ25-CME.scid"] {
            let bytes = try FileBytes.readAll(path: Vectors.bundled + "/" + name)
            let decoded = try IntradayFormat.decodeFile(bytes, file: name)
            #expect(IntradayFormat.encodeFile(decoded.records) == bytes)
        }
        let depth = try FileBytes.readAll(path: Vectors.bundled + "/NQZ25-CME.2025-12-01.depth")
        #expect(DepthFormat.encodeFile(try DepthFormat.decodeFile(depth, file: "d").records) == depth)
    }

    @Test("record kinds and trade side")
    func kinds() {
        let t = SCDateTime(microseconds: 1)
        #expect(IntradayRecord.trade(at: t, price: 1, size: 2, side: .bid, bid: 1, ask: 1.25).kind == .trade)
        #expect(IntradayRecord.trade(at: t, price: 1, size: 2, side: .bid, bid: 1, ask: 1.25).tradeSide == .bid)
        #expect(IntradayRecord.quote(at: t, bid: 1, ask: 1.25, last: 1).kind == .quote)
        var fill = IntradayRecord.trade(at: t, price: 1, size: 2, side: .ask, bid: 1, ask: 1.25)
        fill.open = IntradayRecord.firstSubTradeOpen
        #expect(fill.kind == .tradeFirstSub)
        fill.open = IntradayRecord.lastSubTradeOpen
        #expect(fill.kind == .tradeLastSub)
        let bar = IntradayRecord(dateTime: t, open: 5, high: 6, low: 4, close: 5.5, numTrades: 30, totalVolume: 100, bidVolume: 40, askVolume: 60)
        #expect(bar.kind == .bar)
    }

    @Test(
        "contract names from each data service",
        arguments: [
            ("NQZ25-CME", "NQ", "Z", 2025, "CME"),
            ("ESU5.CME", "ES", "U", 2025, "CME"),
            ("ESU22_FUT_CME", "ES", "U", 2022, "CME"),
            ("VXF26-CFE", "VX", "F", 2026, "CFE"),
            ("6EH26-CME", "6E", "H", 2026, "CME"),
        ]
    )
    func contractNames(name: String, root: String, month: String, year: Int, exchange: String) {
        let contract = ContractSymbol(name: name, referenceYear: 2025)
        #expect(contract.root == root)
        #expect(contract.monthCode.map(String.init) == month)
        #expect(contract.year == year)
        #expect(contract.exchange == exchange)
    }

    @Test("names without an expiry keep the whole name as root")
    func contractWithoutExpiry() {
        let stock = ContractSymbol(name: "AAPL")
        #expect(stock.root == "AAPL")
        #expect(stock.year == nil)
        #expect(ContractSymbol(name: "Z5").root == "Z5")
    }

    @Test("a root follows the latest contract that has records (rollover)")
    func rollover() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        try folder.write("NQZ25-CME.scid", IntradayFormat.encodeFile([tick(0)]))
        try folder.write("ESZ25-CME.scid", IntradayFormat.encodeFile([tick(0)]))
        let data = DataFolder(path: folder.path)
        #expect(DataFolder.activeContracts(data.intradayFiles())["NQ"]?.name == "NQZ25-CME")

        // The next contract's file appears, empty at first: no switch yet.
        try folder.write("NQH26-CME.scid", IntradayFormat.encodeFile([]))
        #expect(DataFolder.activeContracts(data.intradayFiles())["NQ"]?.name == "NQZ25-CME")
        // Its first record lands: NQ now means NQH26.
        try folder.append("NQH26-CME.scid", IntradayFormat.encodeRecords([tick(1)]))
        let active = DataFolder.activeContracts(data.intradayFiles())
        #expect(active["NQ"]?.name == "NQH26-CME")
        #expect(active["ES"]?.name == "ESZ25-CME")
    }

    @Test("a root whose files are all empty means its front contract until a record lands")
    func emptyRoot() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        try folder.write("VXH26-CFE.scid", IntradayFormat.encodeFile([]))
        try folder.write("VXZ25-CFE.scid", IntradayFormat.encodeFile([]))
        let data = DataFolder(path: folder.path)
        #expect(DataFolder.activeContracts(data.intradayFiles())["VX"]?.name == "VXZ25-CFE")
        // The first record, in the back contract: that one is meant now.
        try folder.append("VXH26-CFE.scid", IntradayFormat.encodeRecords([tick(1)]))
        #expect(DataFolder.activeContracts(data.intradayFiles())["VX"]?.name == "VXH26-CFE")
    }

    @Test("depth files: names parsed, the newest day chosen")
    func depthFiles() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        for name in ["NQZ25-CME.2025-12-01.depth", "NQZ25-CME.2025-12-02.depth", "ESZ25-CME.2025-12-01.depth", "junk.depth", "x.2025-1-01.depth"] {
            try folder.write("MarketDepthData/" + name, DepthFormat.encodeFile([]))
        }
        let latest = DataFolder(path: folder.path).latestDepthFiles()
        #expect(latest.count == 2)
        #expect(latest["NQZ25-CME"]?.date == "2025-12-02")
        #expect(latest["ESZ25-CME"]?.date == "2025-12-01")
    }
}
