/// Renders a Sierra Chart file's header and records for people (a table) and for tools (JSON in
/// the same shape as the golden vectors' expected decodings).
public enum FileInspector {
    public enum Kind: String, Sendable {
        case intraday
        case depth
    }

    /// Which format a file is, by its magic, falling back to its extension.
    public static func kind(of bytes: [UInt8], path: String) -> Kind {
        if bytes.starts(with: DepthFormat.magic) { return .depth }
        if bytes.starts(with: IntradayFormat.magic) { return .intraday }
        return path.hasSuffix(".depth") ? .depth : .intraday
    }

    /// The whole report. `limit` keeps the last N records (nil: all).
    public static func render(path: String, json: Bool, limit: Int? = nil) throws(SierraFormatError) -> String {
        let bytes = try FileBytes.readAll(path: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        switch kind(of: bytes, path: path) {
        case .intraday:
            let decoded = try IntradayFormat.decodeFile(bytes, file: path)
            let records = limit.map { Array(decoded.records.suffix($0)) } ?? decoded.records
            let first = decoded.records.count - records.count
            return json
                ? intradayJSON(name: name, decoded: decoded, records: records, first: first)
                : intradayTable(name: name, decoded: decoded, records: records, first: first)
        case .depth:
            let decoded = try DepthFormat.decodeFile(bytes, file: path)
            let records = limit.map { Array(decoded.records.suffix($0)) } ?? decoded.records
            let first = decoded.records.count - records.count
            return json
                ? depthJSON(name: name, decoded: decoded, records: records, first: first)
                : depthTable(name: name, decoded: decoded, records: records, first: first)
        }
    }

    static func number(_ value: Float) -> String {
        value.isFinite ? Double(value).description : "null"
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func intradayJSON(name: String, decoded: DecodedFile<IntradayRecord>, records: [IntradayRecord], first: Int) -> String {
        var out = "{\n \"file\": \(quoted(name)),\n \"format\": \"scid\",\n"
        out +=
            " \"header\": {\"magic\": \"SCID\", \"header_size\": \(IntradayFormat.headerSize), \"record_size\": \(IntradayFormat.recordSize), \"version\": \(IntradayFormat.version)},\n"
        out +=
            " \"record_count\": \(decoded.records.count),\n \"partial_bytes\": \(decoded.partialBytes),\n \"first_index\": \(first),\n \"records\": ["
        for (offset, r) in records.enumerated() {
            out += offset == 0 ? "\n  " : ",\n  "
            out += "{\"index\": \(first + offset), \"sc_us\": \(r.dateTime.microseconds), \"unix_us\": \(r.dateTime.unixMicroseconds), "
            out += "\"open\": \(number(r.open)), \"high\": \(number(r.high)), \"low\": \(number(r.low)), \"close\": \(number(r.close)), "
            out +=
                "\"num_trades\": \(r.numTrades), \"total_volume\": \(r.totalVolume), \"bid_volume\": \(r.bidVolume), \"ask_volume\": \(r.askVolume), "
            out += "\"kind\": \"\(r.kind.rawValue)\"}"
        }
        return out + (records.isEmpty ? "]\n}\n" : "\n ]\n}\n")
    }

    private static func depthJSON(name: String, decoded: DecodedFile<DepthRecord>, records: [DepthRecord], first: Int) -> String {
        var out = "{\n \"file\": \(quoted(name)),\n \"format\": \"depth\",\n"
        out +=
            " \"header\": {\"magic\": \"SCDD\", \"header_size\": \(DepthFormat.headerSize), \"record_size\": \(DepthFormat.recordSize), \"version\": \(DepthFormat.version)},\n"
        out +=
            " \"record_count\": \(decoded.records.count),\n \"partial_bytes\": \(decoded.partialBytes),\n \"first_index\": \(first),\n \"records\": ["
        for (offset, r) in records.enumerated() {
            out += offset == 0 ? "\n  " : ",\n  "
            out += "{\"index\": \(first + offset), \"sc_us\": \(r.dateTime.microseconds), \"unix_us\": \(r.dateTime.unixMicroseconds), "
            out += "\"command\": \(r.command.rawValue), \"command_name\": \"\(r.command)\", \"flags\": \(r.flags), \"num_orders\": \(r.numOrders), "
            out += "\"price\": \(number(r.price)), \"quantity\": \(r.quantity)}"
        }
        return out + (records.isEmpty ? "]\n}\n" : "\n ]\n}\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    private static func intradayTable(name: String, decoded: DecodedFile<IntradayRecord>, records: [IntradayRecord], first: Int) -> String {
        var out = "\(name): SCID v\(IntradayFormat.version), header \(IntradayFormat.headerSize) B, record \(IntradayFormat.recordSize) B, "
        out += "\(decoded.records.count) records" + (decoded.partialBytes > 0 ? ", \(decoded.partialBytes) bytes of a partial record" : "") + "\n"
        out +=
            [
                pad("index", 8), pad("unix_us", 17), pad("kind", 16), pad("open", 14), pad("high", 12), pad("low", 12), pad("close", 12),
                pad("trades", 7), pad("volume", 7), pad("bid_vol", 7), pad("ask_vol", 7),
            ].joined(separator: " ") + "\n"
        for (offset, r) in records.enumerated() {
            let fields = [
                pad(String(first + offset), 8), pad(String(r.dateTime.unixMicroseconds), 17), pad(r.kind.rawValue, 16),
                pad(number(r.open), 14), pad(number(r.high), 12), pad(number(r.low), 12), pad(number(r.close), 12),
                pad(String(r.numTrades), 7), pad(String(r.totalVolume), 7), pad(String(r.bidVolume), 7), pad(String(r.askVolume), 7),
            ]
            out += fields.joined(separator: " ") + "\n"
        }
        return out
    }

    private static func depthTable(name: String, decoded: DecodedFile<DepthRecord>, records: [DepthRecord], first: Int) -> String {
        var out = "\(name): SCDD v\(DepthFormat.version), header \(DepthFormat.headerSize) B, record \(DepthFormat.recordSize) B, "
        out += "\(decoded.records.count) records" + (decoded.partialBytes > 0 ? ", \(decoded.partialBytes) bytes of a partial record" : "") + "\n"
        out +=
            [pad("index", 8), pad("unix_us", 17), pad("command", 12), pad("end", 4), pad("orders", 6), pad("price", 12), pad("quantity", 9)].joined(
                separator: " "
            ) + "\n"
        for (offset, r) in records.enumerated() {
            let fields = [
                pad(String(first + offset), 8), pad(String(r.dateTime.unixMicroseconds), 17), pad(r.command.description, 12),
                pad(r.isEndOfBatch ? "*" : "", 4), pad(String(r.numOrders), 6), pad(number(r.price), 12), pad(String(r.quantity), 9),
            ]
            out += fields.joined(separator: " ") + "\n"
        }
        return out
    }
}
