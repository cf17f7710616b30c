#if canImport(Glibc)
import Glibc
#endif

/// Reads a few values out of a JSON message without building it: finds the bytes of the value at
/// a ``FieldPath`` by skipping everything else. A profile client reads five or six fields of
/// each message this way, with no dictionary, no boxed value and no allocation but the contract's
/// name (a `JSONSerialization` of the same message makes dozens).
///
/// Not a validator: a malformed message gives nil for what cannot be found, never a crash.
public struct JSONFieldReader {
    public let bytes: UnsafeBufferPointer<UInt8>

    public init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The range of the value at `path` (a string's includes its quotes), or nil.
    public func locate(_ path: FieldPath, in whole: Range<Int>? = nil) -> Range<Int>? {
        var position = skipSpace(whole?.lowerBound ?? 0)
        let end = whole?.upperBound ?? bytes.count
        for segment in path.segments {
            guard position < end else { return nil }
            switch segment {
            case .key(let key):
                guard bytes[position] == UInt8(ascii: "{") else { return nil }
                guard let found = member(key, inObjectAt: position, end: end) else { return nil }
                position = found
            case .index(let wanted):
                guard bytes[position] == UInt8(ascii: "[") else { return nil }
                guard let found = element(wanted, inArrayAt: position, end: end) else { return nil }
                position = found
            }
        }
        guard position < end, let valueEnd = skipValue(position, end: end) else { return nil }
        return position..<valueEnd
    }

    /// The ranges of an array's elements (a batch of updates).
    public func elements(of range: Range<Int>) -> [Range<Int>] {
        guard !range.isEmpty, bytes[range.lowerBound] == UInt8(ascii: "[") else { return [] }
        var result: [Range<Int>] = []
        var position = skipSpace(range.lowerBound + 1)
        while position < range.upperBound, bytes[position] != UInt8(ascii: "]") {
            guard let end = skipValue(position, end: range.upperBound) else { return result }
            result.append(position..<end)
            position = skipSpace(end)
            if position < range.upperBound, bytes[position] == UInt8(ascii: ",") { position = skipSpace(position + 1) }
        }
        return result
    }

    /// Whether the value in `range` reads as `text`: a string's contents, or a number's, a
    /// boolean's or null's literal.
    public func value(in range: Range<Int>, equals text: [UInt8]) -> Bool {
        var range = range
        if range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\"") { range = (range.lowerBound + 1)..<(range.upperBound - 1) }
        guard range.count == text.count else { return false }
        var i = 0
        for position in range {
            guard bytes[position] == text[i] else { return false }
            i += 1
        }
        return true
    }

    /// The number in `range` (or in a string there: `"21005.25"`).
    public func number(in range: Range<Int>) -> Double? {
        var range = range
        if range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\"") { range = (range.lowerBound + 1)..<(range.upperBound - 1) }
        guard !range.isEmpty, range.count < 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> Double? in
            var i = 0
            for position in range {
                buffer[i] = CChar(bitPattern: bytes[position])
                i += 1
            }
            buffer[i] = 0
            var stop: UnsafeMutablePointer<CChar>?
            let value = strtod(buffer.baseAddress!, &stop)
            guard let stop, stop == buffer.baseAddress! + i, value.isFinite else { return nil }
            return value
        }
    }

    /// The text of the string in `range` (escapes resolved), or a number's literal.
    public func text(in range: Range<Int>) -> String? {
        guard !range.isEmpty else { return nil }
        guard bytes[range.lowerBound] == UInt8(ascii: "\"") else {
            let first = bytes[range.lowerBound]
            guard first == UInt8(ascii: "-") || (48...57).contains(first) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
        let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        guard bytes[inner].contains(UInt8(ascii: "\\")) else {
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[inner]), as: UTF8.self)
        }
        var result: [UInt8] = []
        var position = inner.lowerBound
        while position < inner.upperBound {
            let byte = bytes[position]
            position += 1
            guard byte == UInt8(ascii: "\\"), position < inner.upperBound else {
                result.append(byte)
                continue
            }
            let escaped = bytes[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "n"): result.append(10)
            case UInt8(ascii: "t"): result.append(9)
            case UInt8(ascii: "r"): result.append(13)
            case UInt8(ascii: "b"): result.append(8)
            case UInt8(ascii: "f"): result.append(12)
            case UInt8(ascii: "u"):
                guard position + 4 <= inner.upperBound,
                    let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[position..<(position + 4)]), as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { return nil }
                result += Array(String(Character(scalar)).utf8)
                position += 4
            default: result.append(escaped)
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    // MARK: - Scanning

    func skipSpace(_ start: Int) -> Int {
        var position = start
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return position
            }
        }
        return position
    }

    /// The position of `key`'s value in the object at `start`.
    func member(_ key: [UInt8], inObjectAt start: Int, end: Int) -> Int? {
        var position = skipSpace(start + 1)
        while position < end {
            if bytes[position] == UInt8(ascii: "}") { return nil }
            guard bytes[position] == UInt8(ascii: "\""), let keyEnd = skipString(position, end: end) else { return nil }
            let matches = value(in: position..<keyEnd, equals: key)
            position = skipSpace(keyEnd)
            guard position < end, bytes[position] == UInt8(ascii: ":") else { return nil }
            position = skipSpace(position + 1)
            if matches { return position }
            guard let valueEnd = skipValue(position, end: end) else { return nil }
            position = skipSpace(valueEnd)
            guard position < end else { return nil }
            if bytes[position] == UInt8(ascii: ",") { position = skipSpace(position + 1) }
        }
        return nil
    }

    /// The position of element `wanted` of the array at `start`.
    func element(_ wanted: Int, inArrayAt start: Int, end: Int) -> Int? {
        var position = skipSpace(start + 1)
        var index = 0
        while position < end, bytes[position] != UInt8(ascii: "]") {
            if index == wanted { return position }
            guard let valueEnd = skipValue(position, end: end) else { return nil }
            position = skipSpace(valueEnd)
            guard position < end else { return nil }
            if bytes[position] == UInt8(ascii: ",") { position = skipSpace(position + 1) }
            index += 1
        }
        return nil
    }

    /// The end of the string whose opening quote is at `start`.
    func skipString(_ start: Int, end: Int) -> Int? {
        var position = start + 1
        while position < end {
            switch bytes[position] {
            case UInt8(ascii: "\\"): position += 2
            case UInt8(ascii: "\""): return position + 1
            default: position += 1
            }
        }
        return nil
    }

    /// The end of the value at `start`.
    func skipValue(_ start: Int, end: Int) -> Int? {
        guard start < end else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return skipString(start, end: end)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var position = start
            while position < end {
                switch bytes[position] {
                case UInt8(ascii: "\""):
                    guard let after = skipString(position, end: end) else { return nil }
                    position = after
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return position + 1 }
                default: break
                }
                position += 1
            }
            return nil
        default:
            var position = start
            while position < end {
                switch bytes[position] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                    return position > start ? position : nil
                default: position += 1
                }
            }
            return position > start ? position : nil
        }
    }
}
