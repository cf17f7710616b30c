import BridgeWire

/// One client's subscription to one symbol (a contract name or a root).
struct Subscription {
    var outbox: ClientOutbox
    var channels: ChannelSet
    /// The client's `max_rate` on state channels, if it asked for one.
    var cap: RateCap?
}

/// Who follows what: subscriptions by the symbol the client named, then by client id, and each
/// client's symbols (so a closed connection is forgotten in one step). A value type: the hub keeps
/// it under its lock, tests drive it without one.
struct SubscriptionTable {
    private(set) var bySymbol: [String: [Int: Subscription]] = [:]
    private var symbolsByClient: [Int: Set<String>] = [:]
    /// (symbol, client) pairs.
    private(set) var count = 0
    /// Pairs whose channels include a bar channel: while there are none, no timer runs for bars.
    private(set) var barCount = 0

    /// The symbols a client follows.
    func symbols(of client: Int) -> Set<String> { symbolsByClient[client] ?? [] }

    /// The subscriptions naming `symbol`, by client id.
    func subscriptions(naming symbol: String) -> [Int: Subscription]? { bySymbol[symbol] }

    func hasSubscribers(_ symbol: String) -> Bool { bySymbol[symbol]?.isEmpty == false }

    func subscription(_ symbol: String, client: Int) -> Subscription? { bySymbol[symbol]?[client] }

    /// Adds `channels` to a client's subscription of `symbol` (made if new); a `cap` given replaces
    /// the one it had.
    mutating func add(_ outbox: ClientOutbox, symbol: String, channels: ChannelSet, cap: RateCap?) {
        let existing = bySymbol[symbol]?[outbox.id]
        var subscription = existing ?? Subscription(outbox: outbox, channels: [], cap: nil)
        if existing == nil {
            count += 1
            symbolsByClient[outbox.id, default: []].insert(symbol)
        }
        let hadBars = !subscription.channels.isDisjoint(with: .bars)
        subscription.channels.formUnion(channels)
        if let cap { subscription.cap = cap }
        if !hadBars, !subscription.channels.isDisjoint(with: .bars) { barCount += 1 }
        bySymbol[symbol, default: [:]][outbox.id] = subscription
    }

    /// Removes channels of a client's subscription of `symbol`; the subscription goes when none is
    /// left. Returns whether the client had one.
    @discardableResult
    mutating func remove(_ channels: ChannelSet, symbol: String, client: Int) -> Bool {
        guard var subscription = bySymbol[symbol]?[client] else { return false }
        let hadBars = !subscription.channels.isDisjoint(with: .bars)
        subscription.channels.subtract(channels)
        if hadBars, subscription.channels.isDisjoint(with: .bars) { barCount -= 1 }
        if subscription.channels.isEmpty {
            bySymbol[symbol]?[client] = nil
            if bySymbol[symbol]?.isEmpty == true { bySymbol[symbol] = nil }
            symbolsByClient[client]?.remove(symbol)
            if symbolsByClient[client]?.isEmpty == true { symbolsByClient[client] = nil }
            count -= 1
        } else {
            bySymbol[symbol]?[client] = subscription
        }
        return true
    }

    /// Forgets a client entirely.
    mutating func drop(_ client: Int) {
        for symbol in symbolsByClient[client] ?? [] { remove(.all, symbol: symbol, client: client) }
        symbolsByClient[client] = nil
    }

    /// The subscribers of a contract: by its name, and by its root while `activeContract` of that
    /// root is this one. A client following both gets one entry with the channels of both.
    func subscribers(contract: String, root: String, rootActive: Bool) -> [Subscription] {
        var result = Array((bySymbol[contract] ?? [:]).values)
        guard rootActive, let byRoot = bySymbol[root] else { return result }
        if result.isEmpty { return Array(byRoot.values) }
        var byClient: [Int: Int] = [:]
        for (index, subscription) in result.enumerated() { byClient[subscription.outbox.id] = index }
        for subscription in byRoot.values {
            if let index = byClient[subscription.outbox.id] {
                result[index].channels.formUnion(subscription.channels)
                if result[index].cap == nil { result[index].cap = subscription.cap }
            } else {
                result.append(subscription)
            }
        }
        return result
    }

    /// Entries in the table: clients with symbols, and (symbol, client) pairs.
    var sizes: (clients: Int, subscriptions: Int) {
        (symbolsByClient.count, bySymbol.values.reduce(0) { $0 + $1.count })
    }
}
