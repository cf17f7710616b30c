#if canImport(Glibc)
import Glibc
#endif
/// Reads the top-level fields of one bridge message without building a JSON tree: a load
/// generator decodes hundreds of thousands of messages a second on two cores, and Foundation's
/// parser costs ~10 µs each. Nested values (a snapshot's `last` and `depth`) are skipped whole.
/// Anything malformed ends the scan; fields seen until then are kept.
public struct WireScanner {
    public private(set) var type: Substring = ""
    public private(set) var contract: Substring = ""
    public private(set) var root: Substring = ""
    public private(set) var epoch: Substring = ""
    public private(set) var seq: Int?
    public private(set) var prev: Int?
    public private(set) var t: Int64?
    /// With `--trace-timestamps`: when the bridge woke for this update and when it queued it (Unix µs).
    public private(set) var tw: Int64?
    public private(set) var tq: Int64?
    public private(set) var price: Float?
    public private(set) var bid: Float?
    public private(set) var ask: Float?
    public private(set) var volume: Int64?
    /// A bar's period (`period_s`) and trade count.
    public private(set) var periodSeconds: Int?
    public private(set) var trades: Int64?
    /// `heartbeat_s` of a `hello`.
    public private(set) var heartbeat: Double?
    public private(set) var code: Substring = ""
    public private(set) var reason: Substring = ""
    /// Byte ranges of nested objects by key (`last`, `depth`, `symbols`), for the rare callers that
    /// need them.
    public private(set) var nested: [Substring: Substring] = [:]

    /// The message type, as a value (cheaper to switch on than ``type``).
    public private(set) var kind: MessageKind = .other

    /// A message's type as read (``MessageType/other`` for one this version does not know).
    public typealias MessageKind = MessageType

    public init(_ text: Substring) {
        scan(text)
    }

    public init(_ text: String) {
        scan(text[...])
    }

    private mutating func scan(_ text: Substring) {
        // Scanned as contiguous UTF-8 through a pointer (a native string always is); fields are
        // offsets until the end, when the few string fields become substrings of `text`.
        let scanned: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in scan(bytes, text) }
        if scanned == nil {
            let copy = String(text)
            copy.utf8.withContiguousStorageIfAvailable { bytes in scan(bytes, copy[...]) }
        }
    }

    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ text: Substring) {
        let end = bytes.count
        var i = 0
        func substring(_ range: Range<Int>) -> Substring {
            let utf8 = text.utf8
            let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
            let upper = utf8.index(lower, offsetBy: range.count)
            return Substring(utf8[lower..<upper])
        }
        func skipSpace() {
            while i < end, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }
        /// A string's contents (escapes left as they are: keys and our values have none that matter).
        func string() -> Range<Int>? {
            guard i < end, bytes[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            let start = i
            while i < end, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                if i < end { i += 1 }
            }
            guard i < end else { return nil }
            defer { i += 1 }
            return start..<i
        }
        /// Skips a value; returns its bytes (a string's without its quotes).
        func value() -> Range<Int>? {
            skipSpace()
            guard i < end else { return nil }
            let start = i
            switch bytes[i] {
            case UInt8(ascii: "\""):
                return string()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                var inString = false
                while i < end {
                    let c = bytes[i]
                    if inString {
                        if c == UInt8(ascii: "\\") {
                            i += 1
                        } else if c == UInt8(ascii: "\"") {
                            inString = false
                        }
                    } else if c == UInt8(ascii: "\"") {
                        inString = true
                    } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                        depth += 1
                    } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                        depth -= 1
                        if depth == 0 {
                            i += 1
                            return start..<i
                        }
                    }
                    if i < end { i += 1 }
                }
                return nil
            default:
                while i < end, bytes[i] != UInt8(ascii: ","), bytes[i] != UInt8(ascii: "}") { i += 1 }
                return start..<i
            }
        }
        func integer(_ range: Range<Int>) -> Int64? {
            var j = range.lowerBound
            let negative = j < range.upperBound && bytes[j] == UInt8(ascii: "-")
            if negative { j += 1 }
            guard j < range.upperBound, range.count <= 19 else { return nil }
            var result: Int64 = 0
            while j < range.upperBound {
                let digit = bytes[j] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                result = result * 10 + Int64(digit)
                j += 1
            }
            return negative ? -result : result
        }
        /// Plain decimals (what the bridge writes) directly; anything else through the standard parser.
        func number(_ range: Range<Int>) -> Double? {
            var j = range.lowerBound
            let negative = j < range.upperBound && bytes[j] == UInt8(ascii: "-")
            if negative { j += 1 }
            var mantissa: Int64 = 0
            var digits = 0
            var scale = 0
            var seenPoint = false
            while j < range.upperBound {
                let c = bytes[j]
                if c == UInt8(ascii: "."), !seenPoint {
                    seenPoint = true
                } else if c &- UInt8(ascii: "0") < 10, digits < 15 {
                    mantissa = mantissa * 10 + Int64(c &- UInt8(ascii: "0"))
                    digits += 1
                    if seenPoint { scale += 1 }
                } else {
                    return Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
                }
                j += 1
            }
            guard digits > 0 else { return nil }
            let value = Double(mantissa) / Self.powersOfTen[scale]
            return negative ? -value : value
        }
        func key(_ range: Range<Int>, is name: StaticString) -> Bool {
            guard range.count == name.utf8CodeUnitCount else { return false }
            return memcmp(bytes.baseAddress! + range.lowerBound, name.utf8Start, range.count) == 0
        }

        skipSpace()
        guard i < end, bytes[i] == UInt8(ascii: "{") else { return }
        i += 1
        while true {
            skipSpace()
            guard let name = string() else { return }
            skipSpace()
            guard i < end, bytes[i] == UInt8(ascii: ":") else { return }
            i += 1
            guard let field = value() else { return }
            switch name.count {
            case 1:
                if key(name, is: "t") { t = integer(field) }
            case 2:
                if key(name, is: "tw") {
                    tw = integer(field)
                } else if key(name, is: "tq") {
                    tq = integer(field)
                }
            case 3:
                if key(name, is: "seq") {
                    seq = integer(field).map(Int.init)
                } else if key(name, is: "bid") {
                    bid = number(field).map(Float.init)
                } else if key(name, is: "ask") {
                    ask = number(field).map(Float.init)
                } else {
                    other(name, field)
                }
            case 4:
                if key(name, is: "type") {
                    type = substring(field)
                    kind = MessageType(rawValue: String(decoding: UnsafeBufferPointer(rebasing: bytes[field]), as: UTF8.self)) ?? .other
                } else if key(name, is: "prev") {
                    prev = integer(field).map(Int.init)
                } else if key(name, is: "root") {
                    root = substring(field)
                } else if key(name, is: "code") {
                    code = substring(field)
                } else {
                    other(name, field)
                }
            case 5:
                if key(name, is: "price") {
                    price = number(field).map(Float.init)
                } else if key(name, is: "epoch") {
                    epoch = substring(field)
                } else {
                    other(name, field)
                }
            default:
                if key(name, is: "contract") {
                    contract = substring(field)
                } else if key(name, is: "volume") {
                    volume = integer(field)
                } else if key(name, is: "heartbeat_s") {
                    heartbeat = number(field)
                } else if key(name, is: "reason") {
                    reason = substring(field)
                } else if key(name, is: "period_s") {
                    periodSeconds = integer(field).map(Int.init)
                } else if key(name, is: "trades") {
                    trades = integer(field)
                } else {
                    other(name, field)
                }
            }
            skipSpace()
            guard i < end, bytes[i] == UInt8(ascii: ",") else { return }
            i += 1
        }

        /// Nested objects and arrays, kept by key.
        func other(_ name: Range<Int>, _ field: Range<Int>) {
            guard field.lowerBound < end, bytes[field.lowerBound] == UInt8(ascii: "{") || bytes[field.lowerBound] == UInt8(ascii: "[") else { return }
            nested[substring(name)] = substring(field)
        }
    }

    private static let powersOfTen: [Double] = (0...15).map { pow(10, Double($0)) }
}
