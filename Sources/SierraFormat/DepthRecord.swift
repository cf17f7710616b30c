/// One 24-byte record of a `.depth` market depth file.
public struct DepthRecord: Sendable, Equatable {
    public var dateTime: SCDateTime
    public var command: DepthCommand
    public var flags: UInt8
    public var numOrders: UInt16
    public var price: Float
    public var quantity: UInt32
    public var reserved: UInt32

    /// Flags bit: this record closes a batch; the book may be published after it.
    public static let endOfBatchFlag: UInt8 = 0x01

    public init(
        dateTime: SCDateTime,
        command: DepthCommand,
        flags: UInt8 = 0,
        numOrders: UInt16 = 0,
        price: Float = 0,
        quantity: UInt32 = 0,
        reserved: UInt32 = 0
    ) {
        self.dateTime = dateTime
        self.command = command
        self.flags = flags
        self.numOrders = numOrders
        self.price = price
        self.quantity = quantity
        self.reserved = reserved
    }

    public var isEndOfBatch: Bool { flags & Self.endOfBatchFlag != 0 }

    /// A whole book as one batch, the way Sierra Chart writes a snapshot: clear, the bids best
    /// first, the asks best first, end of batch on the last record.
    public static func snapshotBatch(bids: [DepthLevel], asks: [DepthLevel], at time: SCDateTime) -> [DepthRecord] {
        var batch = [DepthRecord(dateTime: time, command: .clearBook)]
        batch.reserveCapacity(1 + bids.count + asks.count)
        for level in bids {
            batch.append(DepthRecord(dateTime: time, command: .addBid, numOrders: level.numOrders, price: level.price, quantity: level.quantity))
        }
        for level in asks {
            batch.append(DepthRecord(dateTime: time, command: .addAsk, numOrders: level.numOrders, price: level.price, quantity: level.quantity))
        }
        batch[batch.count - 1].flags |= endOfBatchFlag
        return batch
    }
}

/// A depth command. A struct rather than an enum so that an unknown byte in a file decodes
/// (and is ignored by the book) instead of being unrepresentable.
public struct DepthCommand: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let none = DepthCommand(rawValue: 0)
    public static let clearBook = DepthCommand(rawValue: 1)
    public static let addBid = DepthCommand(rawValue: 2)
    public static let addAsk = DepthCommand(rawValue: 3)
    public static let modifyBid = DepthCommand(rawValue: 4)
    public static let modifyAsk = DepthCommand(rawValue: 5)
    public static let deleteBid = DepthCommand(rawValue: 6)
    public static let deleteAsk = DepthCommand(rawValue: 7)

    public var description: String {
        switch rawValue {
        case 0: return "none"
        case 1: return "clear_book"
        case 2: return "add_bid"
        case 3: return "add_ask"
        case 4: return "modify_bid"
        case 5: return "modify_ask"
        case 6: return "delete_bid"
        case 7: return "delete_ask"
        default: return "unknown(\(rawValue))"
        }
    }
}

/// The `.depth` file: a 64-byte `SCDD` header, then 24-byte ``DepthRecord``s.
public enum DepthFormat: SierraFileFormat {
    public typealias Record = DepthRecord

    public static let kindName = "depth"
    public static let magic: [UInt8] = Array("SCDD".utf8)
    public static let headerSize = 64
    public static let recordSize = 24
    public static let headerSizeOffset = 4
    public static let recordSizeOffset = 8
    public static let version: UInt32 = 1

    public static func encodeHeader(into bytes: inout [UInt8]) {
        bytes.append(contentsOf: magic)
        bytes.appendLE(UInt32(headerSize))
        bytes.appendLE(UInt32(recordSize))
        bytes.appendLE(version)
        bytes.appendZeros(48)
    }

    @inlinable
    public static func decodeRecord(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> DepthRecord {
        DepthRecord(
            dateTime: SCDateTime(rawBits: bytes.loadLE(offset, as: UInt64.self)),
            command: DepthCommand(rawValue: bytes[offset + 8]),
            flags: bytes[offset + 9],
            numOrders: bytes.loadLE(offset + 10, as: UInt16.self),
            price: bytes.loadFloatLE(offset + 12),
            quantity: bytes.loadLE(offset + 16, as: UInt32.self),
            reserved: bytes.loadLE(offset + 20, as: UInt32.self)
        )
    }

    public static func encodeRecord(_ record: DepthRecord, into bytes: inout [UInt8]) {
        bytes.appendLE(record.dateTime.microseconds)
        bytes.append(record.command.rawValue)
        bytes.append(record.flags)
        bytes.appendLE(record.numOrders)
        bytes.appendLE(record.price.bitPattern)
        bytes.appendLE(record.quantity)
        bytes.appendLE(record.reserved)
    }
}
