/// How arrivals are spread in time.
public enum ArrivalPattern: String, Sendable, CaseIterable {
    /// Quiet stretches, normal trading and news spikes (a Markov-modulated Poisson process).
    case bursty
    /// A plain Poisson process at the mean rate: a sustained load, measured apart from spikes.
    case steady
}

/// Event arrivals: bursty (a Markov-modulated Poisson process) or steady (Poisson).
///
/// Bursty: the market switches between quiet stretches, normal trading and news spikes; within a regime
/// arrivals are Poisson at the regime's intensity. Multipliers are normalised so that the long-run
/// mean rate equals `meanRate`. Scripted bursts multiply on top.
public struct ArrivalProcess: Sendable {
    public struct Regime: Sendable {
        public var name: String
        public var multiplier: Double
        public var meanDuration: Double
    }

    public static let regimes: [Regime] = [
        Regime(name: "quiet", multiplier: 0.25, meanDuration: 3),
        Regime(name: "normal", multiplier: 1.0, meanDuration: 6),
        Regime(name: "spike", multiplier: 4.0, meanDuration: 1),
    ]

    /// Jump probabilities between regimes (rows: from quiet, normal, spike).
    static let transitions: [[Double]] = [
        [0, 0.9, 0.1],
        [0.75, 0, 0.25],
        [0.3, 0.7, 0],
    ]

    public var meanRate: Double
    public let pattern: ArrivalPattern
    public private(set) var regimeIndex = 1
    private var regimeEnds: Double = 0
    private let normaliser: Double

    public init(meanRate: Double, pattern: ArrivalPattern = .bursty) {
        self.meanRate = meanRate
        self.pattern = pattern
        // Share of time in each regime: visits (the jump chain's stationary distribution, by power
        // iteration) times mean duration. The normaliser makes the time-average multiplier 1.
        var visits = [1.0, 1.0, 1.0]
        for _ in 0..<200 {
            var next = [0.0, 0.0, 0.0]
            for from in 0..<3 {
                for to in 0..<3 { next[to] += visits[from] * Self.transitions[from][to] }
            }
            let sum = next.reduce(0, +)
            visits = next.map { $0 / sum }
        }
        let time = zip(visits, Self.regimes).map { $0 * $1.meanDuration }
        let weighted = zip(time, Self.regimes).map { $0 * $1.multiplier }.reduce(0, +)
        normaliser = time.reduce(0, +) / weighted
    }

    public var regime: Regime { Self.regimes[regimeIndex] }

    /// The time of the next arrival after `time`, given an extra multiplier (scripted bursts).
    public mutating func next(after time: Double, burst: Double, random: inout SeededRandom) -> Double {
        if pattern == .steady {
            return time + random.exponential(rate: max(1e-6, meanRate * burst))
        }
        if time >= regimeEnds {
            // Leave for a different regime; spikes are reached mostly from normal trading.
            let roll = random.unit()
            let row = Self.transitions[regimeIndex]
            regimeIndex = roll < row[0] ? 0 : (roll < row[0] + row[1] ? 1 : 2)
            regimeEnds = time + random.exponential(rate: 1 / regime.meanDuration)
        }
        let rate = max(1e-6, meanRate * regime.multiplier * normaliser * burst)
        return time + random.exponential(rate: rate)
    }
}
