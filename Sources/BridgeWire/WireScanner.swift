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
    /// `heartbeat_s` of a `hello`.
    public private(set) var heartbeat: Double?
    public private(set) var code: Substring = ""
    public private(set) var reason: Substring = ""
    /// Byte ranges of nested objects by key (`last`, `depth`, `symbols`), for the rare callers that
    /// need them.
    public private(set) var nested: [Substring: Substring] = [:]

    public init(_ text: Substring) {
        scan(text)
    }

    public init(_ text: String) {
        scan(text[...])
    }

    private mutating func scan(_ text: Substring) {
        let utf8 = text.utf8
        var i = utf8.startIndex
        func skipSpace() {
            while i < utf8.endIndex, utf8[i] == 0x20 || utf8[i] == 0x0A || utf8[i] == 0x0D || utf8[i] == 0x09 { i = utf8.index(after: i) }
        }
        /// A string's contents (escapes left as they are: keys and our values have none that matter).
        func string() -> Substring? {
            guard i < utf8.endIndex, utf8[i] == UInt8(ascii: "\"") else { return nil }
            i = utf8.index(after: i)
            let start = i
            while i < utf8.endIndex, utf8[i] != UInt8(ascii: "\"") {
                if utf8[i] == UInt8(ascii: "\\") { i = utf8.index(after: i) }
                if i < utf8.endIndex { i = utf8.index(after: i) }
            }
            guard i < utf8.endIndex else { return nil }
            let value = Substring(utf8[start..<i])
            i = utf8.index(after: i)
            return value
        }
        /// Skips a value; returns its text.
        func value() -> Substring? {
            skipSpace()
            guard i < utf8.endIndex else { return nil }
            let start = i
            switch utf8[i] {
            case UInt8(ascii: "\""):
                return string()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                var inString = false
                while i < utf8.endIndex {
                    let c = utf8[i]
                    if inString {
                        if c == UInt8(ascii: "\\") {
                            i = utf8.index(after: i)
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
                            i = utf8.index(after: i)
                            return Substring(utf8[start..<i])
                        }
                    }
                    if i < utf8.endIndex { i = utf8.index(after: i) }
                }
                return nil
            default:
                while i < utf8.endIndex, utf8[i] != UInt8(ascii: ","), utf8[i] != UInt8(ascii: "}") { i = utf8.index(after: i) }
                return Substring(utf8[start..<i])
            }
        }
        skipSpace()
        guard i < utf8.endIndex, utf8[i] == UInt8(ascii: "{") else { return }
        i = utf8.index(after: i)
        while true {
            skipSpace()
            guard let key = string() else { return }
            skipSpace()
            guard i < utf8.endIndex, utf8[i] == UInt8(ascii: ":") else { return }
            i = utf8.index(after: i)
            guard let text = value() else { return }
            assign(key, text)
            skipSpace()
            guard i < utf8.endIndex, utf8[i] == UInt8(ascii: ",") else { return }
            i = utf8.index(after: i)
        }
    }

    private mutating func assign(_ key: Substring, _ text: Substring) {
        switch key {
        case "type": type = text
        case "contract": contract = text
        case "root": root = text
        case "epoch": epoch = text
        case "seq": seq = Int(text)
        case "prev": prev = Int(text)
        case "t": t = Int64(text)
        case "tw": tw = Int64(text)
        case "tq": tq = Int64(text)
        case "price": price = Float(text)
        case "bid": bid = Float(text)
        case "ask": ask = Float(text)
        case "volume": volume = Int64(text)
        case "heartbeat_s": heartbeat = Double(text)
        case "code": code = text
        case "reason": reason = text
        default:
            if let first = text.utf8.first, first == UInt8(ascii: "{") || first == UInt8(ascii: "[") { nested[key] = text }
        }
    }
}
