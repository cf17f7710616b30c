import Foundation

/// A message from a client (see docs/PROTOCOL.md):
/// `{"op":"subscribe","symbols":["NQ"],"channels":["trades","bars:1m"],"max_rate":4,"resume":{"NQ":{"epoch":"…","seq":41}},"id":"1"}`.
public struct ClientRequest: Sendable, Equatable, Codable {
    public enum Op: String, Sendable, Codable {
        case subscribe
        case unsubscribe
        case ping
    }

    /// Where a client left off for one symbol.
    public struct ResumePoint: Sendable, Equatable, Codable {
        public var epoch: String
        /// The last trade's seq the client holds.
        public var seq: Int
        /// Per bar period (`1m`): the `seq` of the last bar the client holds. A period not listed
        /// resumes after `seq` (right for a client of bars only, whose `seq` is its last bar's).
        public var bars: [String: Int]?

        public init(epoch: String, seq: Int, bars: [String: Int]? = nil) {
            self.epoch = epoch
            self.seq = seq
            self.bars = bars
        }

        /// Where bars of `channel` resume: after the bar whose seq is this.
        public func barSeq(_ channel: MarketChannel) -> Int {
            channel.barPeriodName.flatMap { bars?[$0] } ?? seq
        }
    }

    /// The most a `max_rate` may ask for: above it a cap saves nothing.
    public static let maxRateLimit = 1_000.0

    public var op: Op
    public var symbols: [String]?
    public var channels: [MarketChannel]?
    public var resume: [String: ResumePoint]?
    /// At most this many messages per second per contract on each state channel (quotes, stats,
    /// depth), each the latest state; trades and bars are never capped. Nil: every update.
    public var maxRate: Double?
    public var id: String?

    public init(
        op: Op,
        symbols: [String]? = nil,
        channels: [MarketChannel]? = nil,
        resume: [String: ResumePoint]? = nil,
        maxRate: Double? = nil,
        id: String? = nil
    ) {
        self.op = op
        self.symbols = symbols
        self.channels = channels
        self.resume = resume
        self.maxRate = maxRate
        self.id = id
    }

    /// Reads a `max_rate` given as text (`?max_rate=4`): a positive number up to
    /// ``maxRateLimit``, or a sentence saying what is wrong.
    public static func parseMaxRate(_ text: String) -> Result<Double, Refusal> {
        guard let rate = Double(text), rate.isFinite else {
            return .failure(
                Refusal(code: .badRequest, message: "max_rate must be a number of messages per second, not \"\(text.prefix(40))\"", id: nil)
            )
        }
        return checkMaxRate(rate, id: nil)
    }

    /// Checks a `max_rate` given as a number: above 0 and at most ``maxRateLimit``.
    public static func checkMaxRate(_ rate: Double, id: String? = nil) -> Result<Double, Refusal> {
        guard rate > 0, rate <= maxRateLimit else {
            return .failure(
                Refusal(code: .badRequest, message: "max_rate must be above 0 and at most \(Int(maxRateLimit)) messages per second", id: id)
            )
        }
        return .success(rate)
    }

    /// Why a message was refused: the error code and a sentence for the client.
    public struct Refusal: Error, Sendable, Equatable {
        public var code: ErrorCode
        public var message: String
        public var id: String?

        public init(code: ErrorCode, message: String, id: String? = nil) {
            self.code = code
            self.message = message
            self.id = id
        }
    }

    /// Parses a client message, never trapping on any input.
    public static func parse(_ bytes: some Collection<UInt8>) -> Result<ClientRequest, Refusal> {
        let data = Data(bytes)
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            return .failure(Refusal(code: .badJSON, message: "message is not a JSON object", id: nil))
        }
        let id = dictionary["id"].flatMap { value -> String? in
            if let text = value as? String { return text }
            if let number = value as? NSNumber { return number.stringValue }
            return nil
        }
        guard let opText = dictionary["op"] as? String else {
            return .failure(Refusal(code: .badRequest, message: "missing \"op\" (subscribe, unsubscribe, ping)", id: id))
        }
        guard Op(rawValue: opText) != nil else {
            return .failure(Refusal(code: .unknownOp, message: "unknown op \"\(opText.prefix(40))\" (subscribe, unsubscribe, ping)", id: id))
        }
        if let channels = dictionary["channels"] as? [Any] {
            for channel in channels {
                guard let name = channel as? String, MarketChannel(rawValue: name) != nil else {
                    return .failure(
                        Refusal(
                            code: .unknownChannel,
                            message: "unknown channel \(String(describing: channel).prefix(40)) (\(MarketChannel.names))",
                            id: id
                        )
                    )
                }
            }
        }
        do {
            var request = try JSONDecoder().decode(ClientRequest.self, from: data)
            request.id = id
            if let rate = request.maxRate, case .failure(let refusal) = checkMaxRate(rate, id: id) { return .failure(refusal) }
            return .success(request)
        } catch {
            return .failure(
                Refusal(
                    code: .badRequest,
                    message: "malformed \(opText) request: symbols must be a list of strings, resume a map of {epoch, seq, bars}, max_rate a number",
                    id: id
                )
            )
        }
    }

    enum CodingKeys: String, CodingKey {
        case op, symbols, channels, resume
        case maxRate = "max_rate"
    }
}
