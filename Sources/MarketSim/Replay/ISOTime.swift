import SierraFormat

/// ISO-8601 times, UTC unless an offset is given: what a user types for a replay's window and
/// what messages and the journal print. No Foundation, so the simulator stays light.
public enum ISOTime {
    /// `2026-12-01T14:30:05.250Z` (milliseconds only when there are any).
    public static func format(_ unixMicroseconds: Int64) -> String {
        let day = SCDateTime.unixDay(unixMicroseconds)
        let (year, month, date) = CivilDate.fromDaysSinceUnixEpoch(Int(day))
        let inDay = unixMicroseconds - day * SCDateTime.microsecondsPerDay
        let seconds = inDay / 1_000_000
        let millis = (inDay % 1_000_000) / 1000
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = millis == 0 ? "" : "." + String(String(millis + 1000).dropFirst())
        return CivilDate.format(year: year, month: month, day: date)
            + "T\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))\(fraction)Z"
    }

    /// Unix µs of `2026-12-01`, `2026-12-01T14:30`, `2026-12-01T14:30:05.25Z`,
    /// `2026-12-01 14:30:05+01:00`, …; nil if the text is not such a time.
    public static func parse(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        var position = 0
        func number(_ digits: Int) -> Int? {
            guard position + digits <= chars.count else { return nil }
            var value = 0
            for c in chars[position..<(position + digits)] {
                guard (48...57).contains(c) else { return nil }
                value = value * 10 + Int(c - 48)
            }
            position += digits
            return value
        }
        func expect(_ c: Character) -> Bool {
            guard position < chars.count, chars[position] == c.asciiValue else { return false }
            position += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        let days = CivilDate.daysSinceUnixEpoch(year: year, month: month, day: day)
        // A day that does not exist (February 30th) comes back as another date.
        guard CivilDate.fromDaysSinceUnixEpoch(days) == (year, month, day) else { return nil }
        var micros = Int64(days) * SCDateTime.microsecondsPerDay
        guard position < chars.count else { return micros }
        guard expect("T") || expect(" ") || expect("t"), let hour = number(2), expect(":"), let minute = number(2),
            hour < 24, minute < 60
        else { return nil }
        micros += Int64(hour * 3600 + minute * 60) * 1_000_000
        if expect(":") {
            guard let second = number(2), second < 60 else { return nil }
            micros += Int64(second) * 1_000_000
            if expect(".") || expect(",") {
                var scale: Int64 = 100_000
                var any = false
                while position < chars.count, (48...57).contains(chars[position]) {
                    micros += Int64(chars[position] - 48) * scale
                    scale /= 10
                    position += 1
                    any = true
                }
                guard any else { return nil }
            }
        }
        guard position < chars.count else { return micros }
        if expect("Z") || expect("z") { return position == chars.count ? micros : nil }
        let sign: Int64
        if expect("+") { sign = 1 } else if expect("-") { sign = -1 } else { return nil }
        guard let offsetHours = number(2), offsetHours < 24 else { return nil }
        _ = expect(":")
        guard let offsetMinutes = number(2), offsetMinutes < 60, position == chars.count else { return nil }
        return micros - sign * Int64(offsetHours * 3600 + offsetMinutes * 60) * 1_000_000
    }
}
