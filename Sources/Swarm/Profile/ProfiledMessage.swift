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
/// prepared once) and reads the fields its kind names. A class shared by every client, so a
/// message costs no copy (and no retain) of the profile's paths.
public final class MessageReader: Sendable {
    public let profile: BridgeProfile
    private let recognizers: [PreparedRecognizer]
    private let pollFields: BridgeProfile.Fields

    /// A recogniser with its values as bytes, and the fields of its kind.
    final class PreparedRecognizer: Sendable {
        let kind: ProfiledMessage.Kind
        let match: [(path: FieldPath, value: [UInt8])]
        let fields: BridgeProfile.Fields
        init(_ kind: ProfiledMessage.Kind, _ recognizer: BridgeProfile.Recognizer, _ fields: BridgeProfile.Fields) {
            self.kind = kind
            self.match = recognizer.match.map { ($0.path, Array($0.value.utf8)) }
            self.fields = fields
        }
    }

    public init(profile: BridgeProfile) {
        self.profile = profile
        var recognizers: [PreparedRecognizer] = []
        // Trades first: they are most of the traffic, and the ones that are matched.
        if let trade = profile.trade { recognizers.append(PreparedRecognizer(.trade, trade, profile.tradeFields)) }
        if let quote = profile.quote { recognizers.append(PreparedRecognizer(.quote, quote, profile.quoteFields)) }
        if let snapshot = profile.snapshot { recognizers.append(PreparedRecognizer(.snapshot, snapshot, profile.snapshotFields)) }
        self.recognizers = recognizers
        self.pollFields = profile.pollFields
    }

    /// The updates of one message (several for a batch, none for an empty one), every field read.
    public func read(_ text: String) -> [ProfiledMessage] {
        var text = text
        var result: [ProfiledMessage] = []
        text.withUTF8 { buffer in read(buffer, full: true) { result.append($0) } }
        return result
    }

    /// Visits the updates of one message in place. Without `full` only what the swarm uses is
    /// read: a trade's contract, price, size, time and seq, and no field of any other kind.
    public func read(_ buffer: UnsafeBufferPointer<UInt8>, full: Bool = false, _ visit: (ProfiledMessage) -> Void) {
        let reader = JSONFieldReader(buffer)
        let start = reader.skipSpace(0)
        if start < buffer.count, buffer[start] == UInt8(ascii: "[") {
            for (i, item) in reader.elements(of: start..<buffer.count).enumerated() {
                visit(classify(reader, item, bytes: i == 0 ? buffer.count : 0, full: full))
            }
        } else if let batch = profile.batch, let array = reader.locate(batch) {
            for (i, item) in reader.elements(of: array).enumerated() {
                visit(classify(reader, item, bytes: i == 0 ? buffer.count : 0, full: full))
            }
        } else {
            visit(classify(reader, 0..<buffer.count, bytes: buffer.count, full: full))
        }
    }

    /// A poll answer: whatever it is called, it is read for the last trade it carries.
    public func readPoll(_ text: String) -> ProfiledMessage {
        var text = text
        return text.withUTF8 { buffer in
            let reader = JSONFieldReader(buffer)
            // Its last trade only (a quote's paths need not be in it), each missing path noted.
            return Self.fields(pollFields, reader, 0..<buffer.count, kind: .snapshot, bytes: buffer.count, full: false, noting: true)
        }
    }

    func classify(_ reader: JSONFieldReader, _ item: Range<Int>, bytes: Int, full: Bool) -> ProfiledMessage {
        for recognizer in recognizers {
            var matches = true
            for index in recognizer.match.indices {
                guard let range = reader.locate(recognizer.match[index].path, in: item),
                    reader.value(in: range, equals: recognizer.match[index].value)
                else {
                    matches = false
                    break
                }
            }
            guard matches else { continue }
            guard full || recognizer.kind == .trade else { return ProfiledMessage(kind: recognizer.kind, bytes: bytes) }
            return Self.fields(recognizer.fields, reader, item, kind: recognizer.kind, bytes: bytes, full: full)
        }
        return ProfiledMessage(kind: .other, bytes: bytes)
    }

    static func fields(
        _ fields: BridgeProfile.Fields,
        _ reader: JSONFieldReader,
        _ item: Range<Int>,
        kind: ProfiledMessage.Kind,
        bytes: Int,
        full: Bool = true,
        noting: Bool? = nil
    ) -> ProfiledMessage {
        let noting = noting ?? full
        var message = ProfiledMessage(kind: kind, bytes: bytes)
        func locate(_ path: FieldPath?) -> Range<Int>? {
            guard let path else { return nil }
            let range = reader.locate(path, in: item)
            if range == nil, noting { message.missing.append(path.description) }
            return range
        }
        func number(_ path: FieldPath?) -> Double? { locate(path).flatMap(reader.number(in:)) }
        message.contract = locate(fields.contract).flatMap(reader.text(in:))
        let scale = fields.priceScale ?? 1
        message.price = number(fields.price).map { $0 / scale }
        message.size = number(fields.size)
        if full {
            message.bid = number(fields.bid).map { $0 / scale }
            message.ask = number(fields.ask).map { $0 / scale }
        }
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
            // The precision from the bytes (no Character walk per message): colons say whether
            // it has seconds, the digits after a decimal mark how finely.
            var colons = 0
            var digits = 0
            var inFraction = false
            for byte in reader.bytes[range] {
                if inFraction {
                    guard (48...57).contains(byte) else { break }
                    digits += 1
                } else if byte == UInt8(ascii: ":") {
                    colons += 1
                } else if colons >= 2, byte == UInt8(ascii: ".") || byte == UInt8(ascii: ",") {
                    inFraction = true
                }
            }
            let hasSeconds = colons >= 2
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
