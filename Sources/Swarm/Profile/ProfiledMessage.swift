import MarketSim
import SierraFormat

/// One update read from a foreign bridge's message through its profile.
public struct ProfiledMessage: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case trade, quote, snapshot, other
    }

    public var kind: Kind
    public var contract: String?
    public var price: Double?
    public var size: Double?
    public var bid: Double?
    public var ask: Double?
    public var time: MessageTime?
    public var seq: Int?
    /// Bytes of the message it came in (a batch's updates share them: the first carries them).
    public var bytes: Int
    /// Paths the kind's fields name that this message did not hold (what `probe` reports).
    public var missing: [String] = []
}

/// Reads messages through one profile: classifies each (the recognisers' paths and values,
/// prepared once) and reads the fields its kind names.
public struct MessageReader: Sendable {
    public let profile: BridgeProfile
    private let recognizers: [(ProfiledMessage.Kind, [(FieldPath, [UInt8])], BridgeProfile.Fields)]
    private let pollFields: BridgeProfile.Fields

    public init(profile: BridgeProfile) {
        self.profile = profile
        var recognizers: [(ProfiledMessage.Kind, [(FieldPath, [UInt8])], BridgeProfile.Fields)] = []
        // Trades first: they are most of the traffic, and the ones that are matched.
        if let trade = profile.trade { recognizers.append((.trade, trade.match.map { ($0.path, Array($0.value.utf8)) }, profile.tradeFields)) }
        if let quote = profile.quote { recognizers.append((.quote, quote.match.map { ($0.path, Array($0.value.utf8)) }, profile.quoteFields)) }
        if let snapshot = profile.snapshot {
            recognizers.append((.snapshot, snapshot.match.map { ($0.path, Array($0.value.utf8)) }, profile.snapshotFields))
        }
        self.recognizers = recognizers
        self.pollFields = profile.pollFields
    }

    /// The updates of one message (several for a batch, none for an empty one).
    public func read(_ text: String) -> [ProfiledMessage] {
        var text = text
        return text.withUTF8 { buffer in
            let reader = JSONFieldReader(buffer)
            let whole = 0..<buffer.count
            let start = reader.skipSpace(0)
            let items: [Range<Int>]
            if start < buffer.count, buffer[start] == UInt8(ascii: "[") {
                items = reader.elements(of: start..<buffer.count)
            } else if let batch = profile.batch, let array = reader.locate(batch) {
                items = reader.elements(of: array)
            } else {
                items = [whole]
            }
            var result: [ProfiledMessage] = []
            result.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                result.append(classify(reader, item, bytes: i == 0 ? buffer.count : 0))
            }
            return result
        }
    }

    /// A poll answer: whatever it is called, it is read for the last trade it carries.
    public func readPoll(_ text: String) -> ProfiledMessage {
        var text = text
        return text.withUTF8 { buffer in
            let reader = JSONFieldReader(buffer)
            return Self.fields(pollFields, reader, 0..<buffer.count, kind: .snapshot, bytes: buffer.count)
        }
    }

    func classify(_ reader: JSONFieldReader, _ item: Range<Int>, bytes: Int) -> ProfiledMessage {
        for (kind, match, fields) in recognizers {
            let matches = match.allSatisfy { path, value in
                reader.locate(path, in: item).map { reader.value(in: $0, equals: value) } ?? false
            }
            if matches { return Self.fields(fields, reader, item, kind: kind, bytes: bytes) }
        }
        return ProfiledMessage(kind: .other, bytes: bytes)
    }

    static func fields(
        _ fields: BridgeProfile.Fields,
        _ reader: JSONFieldReader,
        _ item: Range<Int>,
        kind: ProfiledMessage.Kind,
        bytes: Int
    )
        -> ProfiledMessage
    {
        var message = ProfiledMessage(kind: kind, bytes: bytes)
        func locate(_ path: FieldPath?) -> Range<Int>? {
            guard let path else { return nil }
            let range = reader.locate(path, in: item)
            if range == nil { message.missing.append(path.description) }
            return range
        }
        func number(_ path: FieldPath?) -> Double? { locate(path).flatMap(reader.number(in:)) }
        message.contract = locate(fields.contract).flatMap(reader.text(in:))
        let scale = fields.priceScale ?? 1
        message.price = number(fields.price).map { $0 / scale }
        message.size = number(fields.size)
        message.bid = number(fields.bid).map { $0 / scale }
        message.ask = number(fields.ask).map { $0 / scale }
        message.seq = number(fields.seq).map { Int($0) }
        if let range = locate(fields.time) {
            message.time = time(reader, range, unit: fields.timeUnit ?? .unixMicroseconds)
        }
        return message
    }

    /// A record time in `unit`, to Unix µs with the precision the message gave it.
    static func time(_ reader: JSONFieldReader, _ range: Range<Int>, unit: TimeUnit) -> MessageTime? {
        switch unit {
        case .iso8601:
            guard let text = reader.text(in: range), let micros = ISOTime.parse(text) else { return nil }
            var digits = 0
            if let dot = text.firstIndex(where: { $0 == "." || $0 == "," }) {
                digits = text[text.index(after: dot)...].prefix(while: \.isNumber).count
            }
            let hasSeconds = text.split(separator: ":").count >= 3
            let resolution: Int64 = hasSeconds ? [1_000_000, 100_000, 10_000, 1000, 100, 10, 1][min(digits, 6)] : 60_000_000
            return MessageTime(unixMicroseconds: micros, resolution: resolution)
        case .unixSeconds, .unixMilliseconds, .unixMicroseconds, .sierraDays:
            guard let value = reader.number(in: range) else { return nil }
            let perUnit: Double
            switch unit {
            case .unixSeconds: perUnit = 1e6
            case .unixMilliseconds: perUnit = 1e3
            case .sierraDays: perUnit = 86_400e6
            default: perUnit = 1
            }
            var micros = value * perUnit
            if unit == .sierraDays { micros -= Double(SCDateTime.unixEpochOffsetMicroseconds) }
            guard micros.isFinite, abs(micros) < 9e18 else { return nil }
            // A whole number names its whole unit; a fraction is as precise as a double allows.
            let whole = value == value.rounded()
            let resolution: Int64 = unit == .sierraDays ? 2 : (whole ? Int64(perUnit) : 1)
            return MessageTime(unixMicroseconds: Int64(micros.rounded()), resolution: max(1, resolution))
        }
    }
}
