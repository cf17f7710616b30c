import BridgeWire
import Testing

@testable import BridgeCore

@Suite("Subscription table")
struct SubscriptionTableTests {
    @Test("channels add up per client and symbol; removing the last channel forgets the pair")
    func addAndRemove() {
        var table = SubscriptionTable()
        let a = ClientOutbox(id: 1, maxBacklog: 10)
        let b = ClientOutbox(id: 2, maxBacklog: 10)
        table.add(a, symbol: "NQ", channels: [.trades], cap: nil)
        table.add(a, symbol: "NQ", channels: ChannelSet(MarketChannel.bars1m), cap: nil)
        table.add(b, symbol: "NQZ25-CME", channels: [.quotes], cap: RateCap(rate: 2))
        #expect(table.count == 2 && table.barCount == 1)
        #expect(table.subscription("NQ", client: 1)?.channels == [.trades, ChannelSet(MarketChannel.bars1m)])
        table.remove(ChannelSet(MarketChannel.bars1m), symbol: "NQ", client: 1)
        #expect(table.barCount == 0 && table.count == 2)
        table.remove(.trades, symbol: "NQ", client: 1)
        #expect(table.count == 1 && table.symbols(of: 1).isEmpty && !table.hasSubscribers("NQ"))
        table.drop(2)
        #expect(table.count == 0 && table.sizes.clients == 0 && table.sizes.subscriptions == 0)
    }

    @Test("a contract's subscribers: by name, and by root while it is the active contract, merged per client")
    func subscribersByRoot() {
        var table = SubscriptionTable()
        let a = ClientOutbox(id: 1, maxBacklog: 10)
        let b = ClientOutbox(id: 2, maxBacklog: 10)
        table.add(a, symbol: "NQZ25-CME", channels: [.trades], cap: nil)
        table.add(a, symbol: "NQ", channels: [.depth], cap: nil)
        table.add(b, symbol: "NQ", channels: [.quotes], cap: nil)
        let active = table.subscribers(contract: "NQZ25-CME", root: "NQ", rootActive: true)
        #expect(active.count == 2)
        #expect(active.first { $0.outbox.id == 1 }?.channels == [.trades, .depth])
        let expired = table.subscribers(contract: "NQZ25-CME", root: "NQ", rootActive: false)
        #expect(expired.map(\.outbox.id) == [1] && expired[0].channels == [.trades])
    }
}
