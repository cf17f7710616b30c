/// The `.scid` intraday file: a 56-byte `SCID` header, then 40-byte ``IntradayRecord``s.
public enum IntradayFormat: SierraFileFormat {
    public typealias Record = IntradayRecord

    public static let kindName = "intraday"
    public static let magic: [UInt8] = Array("SCID".utf8)
    public static let headerSize = 56
    public static let recordSize = 40
    public static let headerSizeOffset = 4
    public static let recordSizeOffset = 8
    public static let version: UInt16 = 1

    public static func encodeHeader(into bytes: inout [UInt8]) {
        bytes.append(contentsOf: magic)
        bytes.appendLE(UInt32(headerSize))
        bytes.appendLE(UInt32(recordSize))
        bytes.appendLE(version)
        bytes.appendLE(UInt16(0))  // unused
        bytes.appendLE(UInt32(0))  // UTC start index
        bytes.appendZeros(36)  // reserved
    }

    @inlinable
    public static func decodeRecord(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> IntradayRecord {
        IntradayRecord(
            dateTime: SCDateTime(rawBits: bytes.loadLE(offset, as: UInt64.self)),
            open: bytes.loadFloatLE(offset + 8),
            high: bytes.loadFloatLE(offset + 12),
            low: bytes.loadFloatLE(offset + 16),
            close: bytes.loadFloatLE(offset + 20),
            numTrades: bytes.loadLE(offset + 24, as: UInt32.self),
            totalVolume: bytes.loadLE(offset + 28, as: UInt32.self),
            bidVolume: bytes.loadLE(offset + 32, as: UInt32.self),
            askVolume: bytes.loadLE(offset + 36, as: UInt32.self)
        )
    }

    /// Writers emit the int64 timestamp only, never the legacy double.
    public static func encodeRecord(_ record: IntradayRecord, into bytes: inout [UInt8]) {
        // The 40 bytes are laid out in place and appended at once: nine appends of a few bytes
        // each cost more than the record (a history of millions of records is written this way).
        withUnsafeTemporaryAllocation(byteCount: recordSize, alignment: 8) { raw in
            raw.storeBytes(of: record.dateTime.microseconds.littleEndian, toByteOffset: 0, as: Int64.self)
            raw.storeBytes(of: record.open.bitPattern.littleEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: record.high.bitPattern.littleEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: record.low.bitPattern.littleEndian, toByteOffset: 16, as: UInt32.self)
            raw.storeBytes(of: record.close.bitPattern.littleEndian, toByteOffset: 20, as: UInt32.self)
            raw.storeBytes(of: record.numTrades.littleEndian, toByteOffset: 24, as: UInt32.self)
            raw.storeBytes(of: record.totalVolume.littleEndian, toByteOffset: 28, as: UInt32.self)
            raw.storeBytes(of: record.bidVolume.littleEndian, toByteOffset: 32, as: UInt32.self)
            raw.storeBytes(of: record.askVolume.littleEndian, toByteOffset: 36, as: UInt32.self)
            bytes.append(contentsOf: UnsafeRawBufferPointer(raw))
        }
    }
}
