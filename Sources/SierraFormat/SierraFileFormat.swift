/// One of Sierra Chart's fixed-layout file kinds: a fixed header, then fixed-size records.
///
/// Both `.scid` and `.depth` files share this shape, so the whole-file decoder and the tailer are
/// written once over this protocol.
public protocol SierraFileFormat: Sendable {
    associatedtype Record: Sendable, Equatable

    /// A short name for messages ("intraday", "depth").
    static var kindName: String { get }
    static var magic: [UInt8] { get }
    static var headerSize: Int { get }
    static var recordSize: Int { get }
    /// Where, in the header, the declared header size and record size are stored.
    static var headerSizeOffset: Int { get }
    static var recordSizeOffset: Int { get }

    /// The header a writer emits for a new file.
    static func encodeHeader(into bytes: inout [UInt8])
    /// Decodes the record starting at `offset`; `bytes` holds at least `recordSize` bytes there.
    static func decodeRecord(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Record
    static func encodeRecord(_ record: Record, into bytes: inout [UInt8])
}

extension SierraFileFormat {
    /// Checks a header: length, magic, declared sizes. `bytes` may be the whole file or just its start.
    public static func validateHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws(SierraFormatError) {
        let magicText = String(decoding: magic, as: UTF8.self)
        if bytes.count >= magic.count, !zip(bytes.prefix(magic.count), magic).allSatisfy({ $0 == $1 }) {
            throw SierraFormatError(file: file, reason: .badMagic(expected: magicText, actual: Array(bytes.prefix(magic.count))))
        }
        guard bytes.count >= headerSize else {
            throw SierraFormatError(file: file, reason: .truncatedHeader(expected: headerSize, actual: bytes.count))
        }
        let declaredHeader = bytes.loadLE(headerSizeOffset, as: UInt32.self)
        guard declaredHeader == headerSize else {
            throw SierraFormatError(file: file, reason: .badHeaderSize(expected: headerSize, actual: declaredHeader))
        }
        let declaredRecord = bytes.loadLE(recordSizeOffset, as: UInt32.self)
        guard declaredRecord == recordSize else {
            throw SierraFormatError(file: file, reason: .badRecordSize(expected: recordSize, actual: declaredRecord))
        }
    }

    /// A new file's bytes: the header followed by `records`.
    public static func encodeFile(_ records: some Sequence<Record>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + records.underestimatedCount * recordSize)
        encodeHeader(into: &bytes)
        for record in records { encodeRecord(record, into: &bytes) }
        return bytes
    }

    /// Encodes records without a header, as they are appended to a live file.
    public static func encodeRecords(_ records: some Sequence<Record>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.underestimatedCount * recordSize)
        for record in records { encodeRecord(record, into: &bytes) }
        return bytes
    }

    /// Decodes a whole file held in memory. A trailing partial record is not an error: it is what a
    /// reader sees while the writer is mid-flush, and it is reported in `partialBytes`.
    public static func decodeFile(_ bytes: [UInt8], file: String) throws(SierraFormatError) -> DecodedFile<Record> {
        let result: Result<DecodedFile<Record>, SierraFormatError> = bytes.withUnsafeBytes { raw in
            do throws(SierraFormatError) {
                try validateHeader(raw, file: file)
            } catch {
                return .failure(error)
            }
            let body = raw.count - headerSize
            let count = body / recordSize
            var records: [Record] = []
            records.reserveCapacity(count)
            var offset = headerSize
            for _ in 0..<count {
                records.append(decodeRecord(raw, at: offset))
                offset += recordSize
            }
            return .success(DecodedFile(records: records, partialBytes: body - count * recordSize))
        }
        return try result.get()
    }

    /// Reads and decodes a file from disk.
    public static func readFile(atPath path: String) throws(SierraFormatError) -> DecodedFile<Record> {
        let bytes = try FileBytes.readAll(path: path)
        return try decodeFile(bytes, file: path)
    }
}

/// A whole file, decoded.
public struct DecodedFile<Record: Sendable & Equatable>: Sendable, Equatable {
    public var records: [Record]
    /// Bytes after the last whole record (a record still being written).
    public var partialBytes: Int
}
