/// WebSocket close codes the bridge uses.
public enum CloseCode {
    /// A normal close: the client asked for it (RFC 6455).
    public static let normal: UInt16 = 1000
    /// Server shutting down, or a client leaving (RFC 6455).
    public static let goingAway: UInt16 = 1001
    /// A close frame with no status in it (RFC 6455; never sent, only reported).
    /// A frame that breaks the protocol (a continuation with nothing to continue, say).
    public static let protocolError: UInt16 = 1002
    public static let noStatus: UInt16 = 1005
    /// The connection ended with no close frame at all (RFC 6455; never sent, only reported).
    public static let abnormal: UInt16 = 1006
    /// Abuse: too many bad or too many messages (RFC 6455 policy violation).
    public static let policyViolation: UInt16 = 1008
    /// A message over the size limit (RFC 6455).
    public static let messageTooBig: UInt16 = 1009
    /// The client fell too far behind on trades; reconnect and resume (private range 4000–4999).
    public static let slowConsumer: UInt16 = 4008
    /// The server is at its connection limit (RFC 6455 "try again later").
    public static let tryAgainLater: UInt16 = 1013
    /// No valid token (the WebSocket counterpart of HTTP 401).
    public static let unauthorized: UInt16 = 4401
    /// `/ws/live_data/{symbol}` named no known symbol (the counterpart of HTTP 404).
    public static let unknownSymbol: UInt16 = 4404
}
