/// One KPI judged for one arm.
public struct KPIResult: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case pass, fail
        /// The KPI does not apply to this arm (say why in the note).
        case notApplicable = "n/a"
        /// It applies, but nothing measured it: never a silent pass.
        case notMeasured = "not measured"
    }

    public var id: String
    public var title: String
    public var unit: String
    public var direction: KPI.Direction
    public var plan: Double
    public var lab: Double
    public var measured: Double?
    public var status: Status
    /// Against BridgeLab's own tighter target.
    public var labStatus: Status
    public var note: String

    /// "< 100 ms", "≥ 70 %".
    public func target(_ value: Double) -> String {
        "\(direction == .below ? "<" : "≥") \(Format.number(value)) \(unit)"
    }
}

/// How numbers are written in reports: few significant digits, no false precision.
public enum Format {
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return value > 0 ? "∞" : "-" }
        let magnitude = abs(value)
        if magnitude >= 10_000 { return count(value) }
        if magnitude >= 1_000 { return String(format: "%.0f", value) }
        if magnitude >= 100 { return String(format: "%.0f", value) }
        if magnitude >= 10 { return String(format: "%.1f", value) }
        if magnitude >= 1 { return String(format: "%.2f", value) }
        if magnitude == 0 { return "0" }
        return String(format: "%.3g", value)
    }

    /// A whole number with thousands separated: 287,271.
    public static func count(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let digits = String(Int(value.rounded()).magnitude)
        var grouped = ""
        for (index, digit) in digits.reversed().enumerated() {
            if index > 0 && index % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return (value < 0 ? "-" : "") + String(grouped.reversed())
    }
}
