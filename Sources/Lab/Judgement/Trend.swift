import Foundation

/// A least-squares line through (x, y) points, with the 95 % confidence interval of its slope:
/// "memory does not grow" is a claim about a slope, not a look at a chart.
public struct Trend: Sendable, Equatable, Codable {
    public var slope: Double
    public var intercept: Double
    /// Half-width of the slope's 95 % confidence interval.
    public var slopeMargin: Double
    public var points: Int

    public var upper: Double { slope + slopeMargin }
    public var lower: Double { slope - slopeMargin }

    /// nil with fewer than three points or no spread in x.
    public init?(x: [Double], y: [Double]) {
        let n = min(x.count, y.count)
        guard n >= 3 else { return nil }
        let meanX = x.prefix(n).reduce(0, +) / Double(n)
        let meanY = y.prefix(n).reduce(0, +) / Double(n)
        var sxx = 0.0
        var sxy = 0.0
        for i in 0..<n {
            sxx += (x[i] - meanX) * (x[i] - meanX)
            sxy += (x[i] - meanX) * (y[i] - meanY)
        }
        guard sxx > 0 else { return nil }
        slope = sxy / sxx
        intercept = meanY - slope * meanX
        var residuals = 0.0
        for i in 0..<n {
            let e = y[i] - (intercept + slope * x[i])
            residuals += e * e
        }
        let standardError = (residuals / Double(n - 2) / sxx).squareRoot()
        slopeMargin = Self.t975(degreesOfFreedom: n - 2) * standardError
        points = n
    }

    /// Student's t 97.5 % quantile (a table for small samples, 1.96 beyond).
    static func t975(degreesOfFreedom df: Int) -> Double {
        let table: [Double] = [
            12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14, 2.13, 2.12, 2.11, 2.10, 2.09, 2.09,
        ]
        if df >= 1 && df <= table.count { return table[df - 1] }
        if df <= 30 { return 2.05 }
        if df <= 60 { return 2.01 }
        return 1.96
    }
}
