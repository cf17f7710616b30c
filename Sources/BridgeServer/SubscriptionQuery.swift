import BridgeWire
import Hummingbird

/// The subscription options a URL's query may carry — `?channels=trades,bars:1m` and
/// `?max_rate=4` — for the routes that subscribe on connect (`/sse`, `/ws/live_data/{symbol}`),
/// read one way for both.
struct SubscriptionQuery {
    var channels: [MarketChannel]?
    var maxRate: Double?

    /// The options, or the sentence that says which one is wrong.
    static func parse(_ request: Request) -> Result<SubscriptionQuery, ClientRequest.Refusal> {
        let query = request.uri.queryParameters
        var options = SubscriptionQuery()
        if let text = query.get("channels") {
            var channels: [MarketChannel] = []
            for name in text.split(separator: ",") {
                guard let channel = MarketChannel(rawValue: String(name)) else {
                    return .failure(
                        ClientRequest.Refusal(code: .unknownChannel, message: "unknown channel \(name.prefix(32)); channels: \(MarketChannel.names)")
                    )
                }
                channels.append(channel)
            }
            options.channels = channels
        }
        if let text = query.get("max_rate") {
            switch ClientRequest.parseMaxRate(text) {
            case .success(let rate): options.maxRate = rate
            case .failure(let refusal): return .failure(refusal)
            }
        }
        return .success(options)
    }
}
