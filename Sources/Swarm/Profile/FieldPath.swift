/// Where a value is in a JSON message: keys and array positions, `last.price`, `trades[0].p`,
/// `data.bids[0][1]`. Parsed once, when the profile is read.
public struct FieldPath: Sendable, Equatable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        case key([UInt8])
        case index(Int)
    }

    public let segments: [Segment]
    public let description: String

    /// Nil (with the reason) for text that is not a path.
    public init(parsing text: String) throws(FieldPathError) {
        var segments: [Segment] = []
        var key: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        func endKey() throws(FieldPathError) {
            guard !key.isEmpty else { throw FieldPathError("'\(text)' has an empty key (two dots, or a dot at an end)") }
            segments.append(.key(key))
            key = []
        }
        guard !bytes.isEmpty else { throw FieldPathError("a field path cannot be empty") }
        var afterIndex = false
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            switch byte {
            case UInt8(ascii: "."):
                if afterIndex { afterIndex = false } else { try endKey() }
                if bytes.isEmpty { throw FieldPathError("'\(text)' ends with a dot") }
            case UInt8(ascii: "["):
                if !key.isEmpty { try endKey() }
                guard let close = bytes.firstIndex(of: UInt8(ascii: "]")), let index = Int(String(decoding: bytes[..<close], as: UTF8.self)),
                    index >= 0
                else { throw FieldPathError("'\(text)': [ must hold a position (0, 1, …) and close with ]") }
                segments.append(.index(index))
                bytes = bytes[bytes.index(after: close)...]
                afterIndex = true
            default:
                if afterIndex { throw FieldPathError("'\(text)': after ] comes . or [") }
                key.append(byte)
            }
        }
        if !key.isEmpty { try endKey() }
        self.segments = segments
        self.description = text
    }
}

public struct FieldPathError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// How a message gives a record's time.
public enum TimeUnit: String, Sendable, CaseIterable {
    /// Unix time in seconds, milliseconds or microseconds (a number, or a number as text).
    case unixSeconds = "unix_s"
    case unixMilliseconds = "unix_ms"
    case unixMicroseconds = "unix_us"
    /// `2025-12-01T14:30:01.612345Z` (an offset or none: UTC).
    case iso8601
    /// Sierra Chart's own: days since 1899-12-30 as a fraction (the SCDateTime double).
    case sierraDays = "sc_days"
}

/// A record's time read from a message: Unix µs, and how precisely the message said it (a time
/// in whole milliseconds names any record of that millisecond).
public struct MessageTime: Sendable, Equatable {
    public var unixMicroseconds: Int64
    public var resolution: Int64
}
