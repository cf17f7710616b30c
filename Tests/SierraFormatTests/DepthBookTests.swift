import SierraFormat
import Testing

@Suite("DepthBookBuilder")
struct DepthBookTests {
    let t = SCDateTime(microseconds: 1000)

    @Test("nothing is published mid-batch")
    func batchRule() {
        var builder = DepthBookBuilder()
        #expect(builder.apply(DepthRecord(dateTime: t, command: .clearBook)) == nil)
        #expect(builder.apply(DepthRecord(dateTime: t, command: .addBid, price: 10, quantity: 1)) == nil)
        #expect(builder.inBatch)
        let book = builder.apply(DepthRecord(dateTime: t, command: .addAsk, flags: 1, price: 11, quantity: 2))
        #expect(book?.bids == [DepthLevel(price: 10, quantity: 1, numOrders: 0)])
        #expect(book?.asks == [DepthLevel(price: 11, quantity: 2, numOrders: 0)])
        #expect(!builder.inBatch)
    }

    @Test("levels are keyed by price and kept sorted, best first")
    func ordering() {
        var builder = DepthBookBuilder(maxLevels: 3)
        for price: Float in [10, 12, 11, 9, 13] {
            _ = builder.apply(DepthRecord(dateTime: t, command: .addBid, price: price, quantity: 1))
            _ = builder.apply(DepthRecord(dateTime: t, command: .addAsk, price: price + 10, quantity: 1))
        }
        _ = builder.apply(DepthRecord(dateTime: t, command: .modifyBid, price: 12, quantity: 7))
        _ = builder.apply(DepthRecord(dateTime: t, command: .deleteAsk, price: 19))
        let book = builder.apply(DepthRecord(dateTime: t, command: .none, flags: 1))
        #expect(book?.bids.map(\.price) == [13, 12, 11])
        #expect(book?.bids[1].quantity == 7)
        #expect(book?.asks.map(\.price) == [20, 21, 22])
        #expect(builder.bids.count == 5)
    }

    @Test("modify to zero deletes; delete of a missing level and unknown commands change nothing")
    func edgeCases() {
        var builder = DepthBookBuilder()
        _ = builder.apply(DepthRecord(dateTime: t, command: .addBid, price: 10, quantity: 4))
        _ = builder.apply(DepthRecord(dateTime: t, command: .modifyBid, price: 10, quantity: 0))
        _ = builder.apply(DepthRecord(dateTime: t, command: .deleteAsk, price: 99))
        _ = builder.apply(DepthRecord(dateTime: t, command: DepthCommand(rawValue: 200), price: 5, quantity: 5))
        _ = builder.apply(DepthRecord(dateTime: t, command: .addAsk, price: .nan, quantity: 5))
        let book = builder.apply(DepthRecord(dateTime: t, command: .none, flags: 1))
        #expect(book?.bids.isEmpty == true)
        #expect(book?.asks.isEmpty == true)
    }
}
