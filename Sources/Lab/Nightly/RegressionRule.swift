/// When a figure counts as a regression: worse than the reference (the pinned baseline, else the
/// median of the last good runs on the same machine) by more than both the run-to-run noise seen so
/// far and a minimum relative change, so that a noisy VM does not cry wolf.
public struct RegressionRule: Sendable, Codable, Equatable {
    /// How many earlier runs the median is taken over.
    public var window = 10
    /// Fewer runs than this (and no baseline): no verdict yet.
    public var minimumRuns = 3
    /// Changes under this fraction of the reference are never flagged.
    public var minimumRelative = 0.10
    /// Nor changes within this many robust standard deviations (1.4826 × MAD) of the history.
    public var noiseFactor = 3.0

    public init() {}

    public enum Verdict: Sendable, Equatable {
        case notEnoughHistory(runs: Int)
        case steady(reference: Double, threshold: Double)
        case regression(reference: Double, threshold: Double)
        case improvement(reference: Double, threshold: Double)

        public var isRegression: Bool { if case .regression = self { return true } else { return false } }
    }

    /// `history` is newest first; `baseline` the pinned run's value, if any.
    public func judge(_ value: Double, better: String, history: [Double], baseline: Double? = nil) -> Verdict {
        let recent = Array(history.prefix(window))
        guard baseline != nil || recent.count >= minimumRuns else { return .notEnoughHistory(runs: recent.count) }
        let reference = baseline ?? Self.median(recent)
        let noise = recent.count >= 2 ? 1.4826 * Self.median(recent.map { abs($0 - Self.median(recent)) }) : 0
        let threshold = max(noiseFactor * noise, minimumRelative * abs(reference))
        let change = value - reference
        let worse = better == "higher" ? -change : change
        if worse > threshold { return .regression(reference: reference, threshold: threshold) }
        if -worse > threshold { return .improvement(reference: reference, threshold: threshold) }
        return .steady(reference: reference, threshold: threshold)
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 0 ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }
}
