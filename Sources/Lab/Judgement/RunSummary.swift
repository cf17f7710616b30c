/// A run's verdict and key figures: `summary.json` (schema `bridgelab.run.summary/1`,
/// docs/SCENARIOS.md). Every number a report shows is here, or in the raw files beside it.
public struct RunSummary: Sendable, Codable, Equatable {
    public static let schema = "bridgelab.run.summary/1"

    public struct Arm: Sendable, Codable, Equatable {
        public var name: String
        public var mode: String
        public var role: Scenario.Role
        public var status: ArmRecord.Status
        public var error: String?
        public var clients: Int
        public var kinds: [String: Double]
        /// pass, fail or error (harness), not-run.
        public var verdict: String
        public var kpis: [KPIResult]
        public var figures: ArmFigures
        public var warnings: [String]
        /// Whether, when and why the bridge failed, with the evidence sampled around it.
        public var failure: FailureAnalysis?
    }

    /// One candidate arm against one baseline arm: how many times fewer requests, less CPU, …
    public struct Comparison: Sendable, Codable, Equatable {
        public var arm: String
        public var baseline: String
        /// Baseline ÷ arm: how many times more the baseline needed (nil where either is missing).
        public var requestsFactor: Double?
        public var cpuFactor: Double?
        public var latencyFactor: Double?
        public var stalenessFactor: Double?
        public var sentence: String
    }

    public struct ScaleResult: Sendable, Codable, Equatable {
        /// The last step whose KPIs held, by client count (nil: not even the first).
        public var kneeClients: Int?
        public var kneeArm: String?
        /// The first failing step and what broke it.
        public var brokenAt: Int?
        public var brokenBy: [String]
    }

    public var schema = Self.schema
    public var scenario: Scenario
    public var scenarioFile: String
    public var startedUTC: String
    public var finishedUTC: String
    public var partial: Bool
    public var partialReason: String?
    public var environment: RunEnvironment
    /// 0 every candidate KPI passed, 1 one failed, 2 harness error, 130 interrupted.
    public var exitCode: Int32
    public var verdict: String
    public var arms: [Arm]
    public var comparisons: [Comparison]
    public var scale: ScaleResult?
    public var warnings: [String]
}
