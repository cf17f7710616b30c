/// Error codes of `error` messages and close reasons.
public enum ErrorCode: String, Sendable, CaseIterable {
    case badJSON = "bad_json"
    case badRequest = "bad_request"
    case unknownOp = "unknown_op"
    case unknownSymbol = "unknown_symbol"
    case unknownChannel = "unknown_channel"
    case tooManySubscriptions = "too_many_subscriptions"
    case rateLimited = "rate_limited"
    case messageTooLarge = "message_too_large"
    case slowConsumer = "slow_consumer"
}
