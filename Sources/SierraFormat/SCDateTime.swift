#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sierra Chart's timestamp: microseconds since 1899-12-30 00:00 UTC.
///
/// The sub-millisecond part of a tick's time is not a clock: it is a 0–999 counter of trades that
/// share the same millisecond. Older files store an IEEE double of days in the same eight bytes;
/// ``init(rawBits:)`` tells the two apart the way Sierra Chart does, by the top byte.
public struct SCDateTime: Sendable, Hashable, Comparable {
    /// Microseconds since 1899-12-30 00:00 UTC.
    public var microseconds: Int64

    /// Microseconds between the Sierra Chart epoch (1899-12-30) and the Unix epoch (1970-01-01).
    public static let unixEpochOffsetMicroseconds: Int64 = 2_209_161_600_000_000
    public static let microsecondsPerDay: Int64 = 86_400_000_000

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    public init(unixMicroseconds: Int64) {
        self.microseconds = unixMicroseconds + Self.unixEpochOffsetMicroseconds
    }

    /// Decodes the eight stored bytes, detecting the legacy double-days form.
    @inlinable
    public init(rawBits: UInt64) {
        if Self.isLegacyDouble(rawBits: rawBits) {
            let days = Double(bitPattern: rawBits)
            // Legacy times carry no more than millisecond precision: round to it.
            let milliseconds = (days * 86_400_000).rounded()
            if milliseconds.isFinite, abs(milliseconds) < 9.2e15 {
                self.microseconds = Int64(milliseconds) * 1000
            } else {
                self.microseconds = 0
            }
        } else {
            self.microseconds = Int64(bitPattern: rawBits)
        }
    }

    /// Sierra Chart's rule: a top byte of 0x3E–0x41 (or 0xBD–0xC1 for negative values) marks a double.
    @inlinable
    public static func isLegacyDouble(rawBits: UInt64) -> Bool {
        let top = UInt8(truncatingIfNeeded: rawBits >> 56)
        return (0x3E...0x41).contains(top) || (0xBD...0xC1).contains(top)
    }

    public var unixMicroseconds: Int64 { microseconds - Self.unixEpochOffsetMicroseconds }

    /// The whole-millisecond part, without the same-millisecond trade counter.
    public var millisecondsSinceEpoch: Int64 { microseconds / 1000 }

    /// The 0–999 same-millisecond counter.
    public var subMillisecondCounter: Int { Int(microseconds % 1000) }

    /// The UTC day of a Unix time: days since 1970-01-01, rounded down (also before 1970).
    public static func unixDay(_ unixMicroseconds: Int64) -> Int64 {
        unixMicroseconds >= 0 ? unixMicroseconds / microsecondsPerDay : (unixMicroseconds + 1) / microsecondsPerDay - 1
    }

    /// The UTC calendar date, as used in depth file names (`YYYY-MM-DD`).
    public var utcDateString: String {
        let (y, m, d) = CivilDate.fromDaysSinceUnixEpoch(Int(Self.unixDay(unixMicroseconds)))
        return CivilDate.format(year: y, month: m, day: d)
    }

    public static func < (lhs: SCDateTime, rhs: SCDateTime) -> Bool { lhs.microseconds < rhs.microseconds }
}

/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms), so date names need no Foundation.
public enum CivilDate {
    public static func fromDaysSinceUnixEpoch(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    public static func daysSinceUnixEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func format(year: Int, month: Int, day: Int) -> String {
        func pad(_ value: Int, _ width: Int) -> String {
            let s = String(value)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}
