import Foundation

/// A message from a client (see docs/PROTOCOL.md):
/// `{"op":"subscribe","symbols":["NQ"],"channels":["trades"],"resume":{"NQ":{"epoch":"…","seq":41}},"id":"1"}`.
public struct ClientRequest: Sendable, Equatable, Codable {
    public enum Op: String, Sendable, Codable {
        case subscribe
        case unsubscribe
        case ping
    }

    /// Where a client left off for one symbol.
    public struct ResumePoint: Sendable, Equatable, Codable {
        public var epoch: String
        public var seq: Int

        public init(epoch: String, seq: Int) {
            self.epoch = epoch
            self.seq = seq
        }
    }

    public var op: Op
    public var symbols: [String]?
    public var channels: [MarketChannel]?
    public var resume: [String: ResumePoint]?
    public var id: String?

    public init(op: Op, symbols: [String]? = nil, channels: [MarketChannel]? = nil, resume: [String: ResumePoint]? = nil, id: String? = nil) {
        self.op = op
        self.symbols = symbols
        self.channels = channels
        self.resume = resume
        self.id = id
    }

    /// Why a message was refused: the error code and a sentence for the client.
    public struct Refusal: Error, Sendable, Equatable {
        public var code: ErrorCode
        public var message: String
        public var id: String?
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
                            message: "unknown channel \(String(describing: channel).prefix(40)) (trades, quotes, depth, stats)",
                            id: id
                        )
                    )
                }
            }
        }
        do {
            var request = try JSONDecoder().decode(ClientRequest.self, from: data)
            request.id = id
            return .success(request)
        } catch {
            return .failure(
                Refusal(
                    code: .badRequest,
                    message: "malformed \(opText) request: symbols must be a list of strings, resume a map of {epoch, seq}",
                    id: id
                )
            )
        }
    }

    enum CodingKeys: String, CodingKey {
        case op, symbols, channels, resume
    }
}
