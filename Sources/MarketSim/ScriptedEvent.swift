/// Something a scenario makes happen at a given time into the run. Parsed once from its text
/// form (`burst:10:5:3`), which is also how it is written: in a saved `scenario.json` and on the
/// simulator's command line (`--event`).
public enum ScriptedEvent: Sendable, Equatable, Codable, CustomStringConvertible {
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

    /// The same event `seconds` later (timed from another start).
    public func shifted(by seconds: Double) -> ScriptedEvent {
        switch self {
        case .burst(let at, let multiplier, let duration): return .burst(at: at + seconds, multiplier: multiplier, duration: duration)
        case .rollover(let at, let root): return .rollover(at: at + seconds, root: root)
        case .rewrite(let at, let root, let keep): return .rewrite(at: at + seconds, root: root, keepFraction: keep)
        case .newDay(let at): return .newDay(at: at + seconds)
        }
    }

    /// The text form, which parses back to this event.
    public var description: String {
        func plain(_ value: Double) -> String { value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value) }
        switch self {
        case .burst(let at, let multiplier, let duration): return "burst:\(plain(at)):\(plain(multiplier)):\(plain(duration))"
        case .rollover(let at, let root): return "rollover:\(plain(at))" + (root.map { ":\($0)" } ?? "")
        case .rewrite(let at, let root, let keep): return "rewrite:\(plain(at)):\(root ?? ""):\(plain(keep))"
        case .newDay(let at): return "new-day:\(plain(at))"
        }
    }

    public init(from decoder: any Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
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
