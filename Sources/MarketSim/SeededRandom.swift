/// SplitMix64: small, fast and fully determined by its seed, so `--seed 7` reproduces a run.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    public mutating func unit() -> Double {
        Double(next() >> 11 + 1) / Double(UInt64(1) << 53)
    }

    /// Exponentially distributed with the given rate (mean 1/rate).
    public mutating func exponential(rate: Double) -> Double {
        -Foundation_log(unit()) / rate
    }

    /// Pareto-distributed (heavy tail) with minimum `scale` and tail index `alpha`.
    public mutating func pareto(scale: Double, alpha: Double) -> Double {
        scale / Foundation_pow(unit(), 1 / alpha)
    }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        Foundation_sqrt(-2 * Foundation_log(unit())) * Foundation_cos(2 * Double.pi * unit())
    }

    public mutating func chance(_ probability: Double) -> Bool {
        unit() <= probability
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func Foundation_pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
@inline(__always) func Foundation_sqrt(_ x: Double) -> Double { Glibc.sqrt(x) }
@inline(__always) func Foundation_cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) func Foundation_log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func Foundation_pow(_ x: Double, _ y: Double) -> Double { Darwin.pow(x, y) }
@inline(__always) func Foundation_sqrt(_ x: Double) -> Double { Darwin.sqrt(x) }
@inline(__always) func Foundation_cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
