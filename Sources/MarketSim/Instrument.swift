import SierraFormat

/// What the simulator knows of a product root: tick size, a realistic price level, the exchange
/// suffix Sierra Chart's feed uses, and its listing cycle.
public struct Instrument: Sendable, Equatable {
    public enum Cycle: Sendable, Equatable {
        /// March, June, September, December (H M U Z).
        case quarterly
        /// Every month.
        case monthly
    }

    public var root: String
    public var exchange: String
    public var tickSize: Double
    /// Where the random walk starts.
    public var startPrice: Double
    /// Median trade size, in contracts.
    public var typicalSize: Double
    public var cycle: Cycle
    /// Significant decimals of a price (for display).
    public var decimals: Int

    /// The roots the simulator can write. Values are realistic for late 2025.
    public static let known: [Instrument] = [
        Instrument(root: "NQ", exchange: "CME", tickSize: 0.25, startPrice: 21_000, typicalSize: 1, cycle: .quarterly, decimals: 2),
        Instrument(root: "ES", exchange: "CME", tickSize: 0.25, startPrice: 6_000, typicalSize: 2, cycle: .quarterly, decimals: 2),
        Instrument(root: "YM", exchange: "CBOT", tickSize: 1, startPrice: 44_000, typicalSize: 1, cycle: .quarterly, decimals: 0),
        Instrument(root: "RTY", exchange: "CME", tickSize: 0.1, startPrice: 2_400, typicalSize: 1, cycle: .quarterly, decimals: 1),
        Instrument(root: "VX", exchange: "CFE", tickSize: 0.05, startPrice: 17.5, typicalSize: 3, cycle: .monthly, decimals: 2),
        Instrument(root: "CL", exchange: "NYMEX", tickSize: 0.01, startPrice: 70, typicalSize: 2, cycle: .monthly, decimals: 2),
        Instrument(root: "GC", exchange: "COMEX", tickSize: 0.1, startPrice: 2_650, typicalSize: 1, cycle: .monthly, decimals: 1),
        // More of what a trader's Data folder holds: treasuries, currencies, micros, metals,
        // energies and grains (the grains' and metals' real listing months are simplified to
        // monthly). Their rates and volatility are the defaults below.
        Instrument(root: "ZB", exchange: "CBOT", tickSize: 0.03125, startPrice: 117, typicalSize: 2, cycle: .quarterly, decimals: 5),
        Instrument(root: "ZN", exchange: "CBOT", tickSize: 0.015625, startPrice: 111, typicalSize: 5, cycle: .quarterly, decimals: 6),
        Instrument(root: "ZF", exchange: "CBOT", tickSize: 0.0078125, startPrice: 108, typicalSize: 5, cycle: .quarterly, decimals: 7),
        Instrument(root: "6E", exchange: "CME", tickSize: 0.00005, startPrice: 1.05, typicalSize: 2, cycle: .quarterly, decimals: 5),
        Instrument(root: "6J", exchange: "CME", tickSize: 0.000_000_5, startPrice: 0.0067, typicalSize: 2, cycle: .quarterly, decimals: 7),
        Instrument(root: "6B", exchange: "CME", tickSize: 0.0001, startPrice: 1.27, typicalSize: 2, cycle: .quarterly, decimals: 4),
        Instrument(root: "MES", exchange: "CME", tickSize: 0.25, startPrice: 6_000, typicalSize: 3, cycle: .quarterly, decimals: 2),
        Instrument(root: "MNQ", exchange: "CME", tickSize: 0.25, startPrice: 21_000, typicalSize: 3, cycle: .quarterly, decimals: 2),
        Instrument(root: "SI", exchange: "COMEX", tickSize: 0.005, startPrice: 31, typicalSize: 1, cycle: .monthly, decimals: 3),
        Instrument(root: "HG", exchange: "COMEX", tickSize: 0.0005, startPrice: 4.3, typicalSize: 1, cycle: .monthly, decimals: 4),
        Instrument(root: "PL", exchange: "NYMEX", tickSize: 0.1, startPrice: 950, typicalSize: 1, cycle: .monthly, decimals: 1),
        Instrument(root: "NG", exchange: "NYMEX", tickSize: 0.001, startPrice: 3.2, typicalSize: 2, cycle: .monthly, decimals: 3),
        Instrument(root: "HO", exchange: "NYMEX", tickSize: 0.0001, startPrice: 2.3, typicalSize: 1, cycle: .monthly, decimals: 4),
        Instrument(root: "RB", exchange: "NYMEX", tickSize: 0.0001, startPrice: 2.1, typicalSize: 1, cycle: .monthly, decimals: 4),
        Instrument(root: "ZC", exchange: "CBOT", tickSize: 0.25, startPrice: 430, typicalSize: 3, cycle: .monthly, decimals: 2),
        Instrument(root: "ZS", exchange: "CBOT", tickSize: 0.25, startPrice: 1_000, typicalSize: 2, cycle: .monthly, decimals: 2),
        Instrument(root: "ZW", exchange: "CBOT", tickSize: 0.25, startPrice: 550, typicalSize: 2, cycle: .monthly, decimals: 2),
    ]

    /// `.scid` records a front-month contract writes on a full trading day (trades and quote
    /// updates; late-2025 orders of magnitude): what a day of history holds.
    public var recordsPerDay: Double {
        switch root {
        case "ES": return 600_000
        case "NQ": return 500_000
        case "CL": return 300_000
        case "GC": return 150_000
        case "YM", "RTY": return 100_000
        case "VX": return 30_000
        default: return 100_000
        }
    }

    /// Standard deviation of a day's return (a day is 86,400 s of the clock): the price's variance
    /// per second is this squared over 86,400, whatever the record rate.
    public var dailyVolatility: Double {
        switch root {
        case "ES", "YM", "GC": return 0.010
        case "NQ": return 0.013
        case "RTY": return 0.015
        case "CL": return 0.020
        case "VX": return 0.050
        default: return 0.010
        }
    }

    public static func named(_ root: String) -> Instrument? {
        known.first { $0.root == root.uppercased() }
    }

    /// Price of a tick index, as the f32 the file stores.
    public func price(ticks: Int) -> Float {
        Float(Double(ticks) * tickSize)
    }

    public func ticks(for price: Double) -> Int {
        Int((price / tickSize).rounded())
    }

    /// The front contract trading on a date: the first listed month not before the date's month.
    /// (Exact expiry days do not matter to a simulation; roll dates are scripted.)
    public func frontContract(year: Int, month: Int) -> ContractSymbol {
        var y = year
        var m = month
        if cycle == .quarterly {
            m = ((month + 2) / 3) * 3
            if m > 12 {
                m = 3
                y += 1
            }
        }
        return contract(year: y, month: m)
    }

    /// The contract listed after `contract` in this cycle.
    public func nextContract(after contract: ContractSymbol) -> ContractSymbol {
        var y = contract.year ?? 2025
        var m = (contract.month ?? 12) + (cycle == .quarterly ? 3 : 1)
        if m > 12 {
            m -= 12
            y += 1
        }
        return self.contract(year: y, month: m)
    }

    public func contract(year: Int, month: Int) -> ContractSymbol {
        let code = ContractSymbol.monthCodes[month - 1]
        let yy = year % 100
        let name = root + String(code) + (yy < 10 ? "0" : "") + String(yy) + "-" + exchange
        return ContractSymbol(name: name, referenceYear: year)
    }
}
