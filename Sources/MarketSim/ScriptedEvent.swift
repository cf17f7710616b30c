/// Something a scenario makes happen at a given time into the run.
public enum ScriptedEvent: Sendable, Equatable {
    /// The arrival rate is multiplied by `multiplier` for `duration` seconds.
    case burst(at: Double, multiplier: Double, duration: Double)
    /// Each matching root (all when nil) rolls to its next contract: the new file appears and the
    /// old one stops growing.
    case rollover(at: Double, root: String?)
    /// Each matching root's current file is recreated shorter, keeping `keepFraction` of its records.
    case rewrite(at: Double, root: String?, keepFraction: Double)
    /// Depth files move to the next trading day's file.
    case newDay(at: Double)

    public var time: Double {
        switch self {
        case .burst(let at, _, _), .rollover(let at, _), .rewrite(let at, _, _), .newDay(let at): return at
        }
    }

    /// Parses the command-line forms: `burst:AT:MULT:SECONDS`, `rollover:AT[:ROOT]`,
    /// `rewrite:AT[:ROOT[:KEEP]]`, `new-day:AT`. Times are seconds from the start.
    public init(parsing text: String) throws(SimulatorError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, parts.count >= 2 else {
            throw .invalidScript("'\(text)': expected NAME:SECONDS[...], e.g. burst:10:5:3 or rollover:20:NQ")
        }
        func number(_ index: Int, _ what: String) throws(SimulatorError) -> Double {
            guard index < parts.count, let value = Double(parts[index]), value.isFinite, value >= 0 else {
                throw .invalidScript("'\(text)': \(what) must be a non-negative number")
            }
            return value
        }
        let at = try number(1, "time")
        let root = parts.count > 2 && !parts[2].isEmpty ? parts[2].uppercased() : nil
        switch name {
        case "burst":
            guard parts.count == 4 else { throw .invalidScript("'\(text)': burst takes burst:AT:MULTIPLIER:SECONDS") }
            let multiplier = try number(2, "multiplier")
            guard multiplier > 0 else { throw .invalidScript("'\(text)': multiplier must be positive") }
            self = .burst(at: at, multiplier: multiplier, duration: try number(3, "duration"))
        case "rollover":
            guard parts.count <= 3 else { throw .invalidScript("'\(text)': rollover takes rollover:AT[:ROOT]") }
            self = .rollover(at: at, root: root)
        case "rewrite":
            guard parts.count <= 4 else { throw .invalidScript("'\(text)': rewrite takes rewrite:AT[:ROOT[:KEEP]]") }
            let keep = parts.count == 4 ? try number(3, "keep fraction") : 0.5
            guard keep <= 1 else { throw .invalidScript("'\(text)': keep fraction must be between 0 and 1") }
            self = .rewrite(at: at, root: root, keepFraction: keep)
        case "new-day":
            guard parts.count == 2 else { throw .invalidScript("'\(text)': new-day takes new-day:AT") }
            self = .newDay(at: at)
        default:
            throw .invalidScript("'\(text)': unknown event '\(name)' (burst, rollover, rewrite, new-day)")
        }
    }
}
