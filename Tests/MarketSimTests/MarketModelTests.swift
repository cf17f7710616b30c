import Foundation
import MarketSim
import SierraFormat
import Testing

@Suite("The market moves with the clock, not with the record rate")
struct MarketModelTests {
    /// A simulated day of one instrument at `eventsPerSecond`: the records in order.
    func day(_ root: String, eventsPerSecond: Double, seed: UInt64) -> [IntradayRecord] {
        let instrument = Instrument.named(root)!
        var market = SymbolMarket(instrument: instrument, contract: instrument.frontContract(year: 2025, month: 12))
        var random = SeededRandom(seed: seed)
        var records: [IntradayRecord] = []
        let start: Int64 = 1_765_152_000_000_000
        let spacing = 1e6 / eventsPerSecond
        for event in 0..<Int(86_400 * eventsPerSecond) {
            market.historyStep(at: start + Int64(Double(event) * spacing), random: &random, intraday: &records)
        }
        return records
    }

    /// The day's volatility from `minutes`-minute returns of the quoted mid (the square root of
    /// their summed squares).
    func realizedDailyVolatility(_ records: [IntradayRecord], minutes: Int64) -> Double {
        var lastMid: [Int64: Double] = [:]
        for record in records where record.low > 0 && record.high > record.low {
            lastMid[record.dateTime.unixMicroseconds / (60_000_000 * minutes)] = Double(record.low + record.high) / 2
        }
        let mids = lastMid.sorted { $0.key < $1.key }.map(\.value)
        let squares = zip(mids.dropFirst(), mids).map { Foundation.log($0 / $1) }.map { $0 * $0 }
        return squares.reduce(0, +).squareRoot()
    }

    /// 1-minute returns; VX's from 5 minutes: its minute moves about half a tick, and the tick
    /// grid's rounding of the quote (a variance of a sixth of a tick² per return) would dominate.
    @Test(
        "a day's realized volatility is the instrument's, within ±30 %, at 2 and at 20 events a second",
        arguments: [("ES", 1), ("NQ", 1), ("VX", 5)] as [(String, Int64)]
    )
    func volatility(root: String, minutes: Int64) {
        let wanted = Instrument.named(root)!.dailyVolatility
        for rate in [2.0, 20.0] {
            let realized = realizedDailyVolatility(day(root, eventsPerSecond: rate, seed: 11), minutes: minutes)
            #expect(abs(realized / wanted - 1) <= 0.3, "\(root) at \(rate)/s: \(realized) against \(wanted)")
        }
    }

    @Test("trades bounce between bid and ask: trade-to-trade price changes are negatively autocorrelated")
    func bidAskBounce() {
        let trades = day("ES", eventsPerSecond: 5, seed: 3).filter(\.isTrade).map { Double($0.close) }
        let changes = zip(trades.dropFirst(), trades).map { $0 - $1 }
        let mean = changes.reduce(0, +) / Double(changes.count)
        let variance = changes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
        let lagged = zip(changes.dropFirst(), changes).map { ($0 - mean) * ($1 - mean) }.reduce(0, +)
        let autocorrelation = lagged / variance
        #expect(autocorrelation < -0.2, "lag-1 autocorrelation \(autocorrelation)")
    }
}
