#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random access to a Sierra Chart file's records by index, with `pread`: what a tailer does not
/// do. A bridge that starts on weeks of history finds the current session by binary search on
/// time (records are in time order) and reads a resume's trades back from their positions, so it
/// never reads, parses or holds the whole file.
///
/// Reads at most `chunkRecords` records at a time; memory use is that buffer. Not thread-safe.
public final class RecordReader<Format: SierraFileFormat> {
    public let path: String
    public let chunkRecords: Int
    private let fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer

    /// Opens `path`; nil if it cannot be opened or its header is not a valid one.
    public convenience init?(path: String, chunkRecords: Int = 4096) {
        try? self.init(opening: path, chunkRecords: chunkRecords)
    }

    /// Opens `path`, or says why not: it cannot be opened, or its header is not this kind's.
    public init(opening path: String, chunkRecords: Int = 4096) throws(SierraFormatError) {
        let fd = ReadingDescriptor.open(path)
        guard fd >= 0 else { throw SierraFormatError(file: path, reason: .io(operation: "open", errno: errno)) }
        // The header is checked before anything is kept, so a refused file leaves nothing open.
        var header = [UInt8](repeating: 0, count: Format.headerSize)
        let got = header.withUnsafeMutableBytes { FileBytes.preadFully(fd, into: $0, count: Format.headerSize, offset: 0) }
        let refusal = header.withUnsafeBytes { raw -> SierraFormatError? in
            do throws(SierraFormatError) {
                try Format.validateHeader(UnsafeRawBufferPointer(rebasing: raw[0..<max(0, got)]), file: path)
                return nil
            } catch {
                return error
            }
        }
        if let refusal {
            _ = closeDescriptor(fd)
            throw refusal
        }
        self.path = path
        self.chunkRecords = max(1, chunkRecords)
        self.fd = fd
        buffer = .allocate(byteCount: self.chunkRecords * Format.recordSize, alignment: 8)
    }

    /// Bytes after the last whole record: a flush caught half way.
    public var partialBytes: Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return max(0, Int(info.st_size) - Format.headerSize) % Format.recordSize
    }

    deinit {
        buffer.deallocate()
        _ = closeDescriptor(fd)
    }

    /// Whole records in the file now.
    public var count: Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return max(0, (Int(info.st_size) - Format.headerSize) / Format.recordSize)
    }

    /// The record at `index`, or nil past the end (or on a read error).
    public func record(at index: Int) -> Format.Record? {
        guard index >= 0 else { return nil }
        let got = FileBytes.preadFully(fd, into: buffer, count: Format.recordSize, offset: Format.headerSize + index * Format.recordSize)
        guard got == Format.recordSize else { return nil }
        return Format.decodeRecord(UnsafeRawBufferPointer(buffer), at: 0)
    }

    /// Visits the records in `range` in order, a chunk at a time, until `visit` returns false.
    /// Returns false if the file ended or a read failed before the range did.
    @discardableResult
    public func forEach(in range: Range<Int>, _ visit: (Int, Format.Record) -> Bool) -> Bool {
        var index = max(0, range.lowerBound)
        while index < range.upperBound {
            let wanted = min(chunkRecords, range.upperBound - index)
            let got = FileBytes.preadFully(fd, into: buffer, count: wanted * Format.recordSize, offset: Format.headerSize + index * Format.recordSize)
            let records = max(0, got) / Format.recordSize
            guard records > 0 else { return false }
            let raw = UnsafeRawBufferPointer(buffer)
            for position in 0..<records {
                if !visit(index + position, Format.decodeRecord(raw, at: position * Format.recordSize)) { return true }
            }
            index += records
            if records < wanted { return false }
        }
        return true
    }

    /// Visits the records before `end` backwards, nearest first, until `visit` returns false or
    /// `limit` records were visited.
    public func forEachBackwards(before end: Int, limit: Int = .max, _ visit: (Int, Format.Record) -> Bool) {
        var upper = min(end, count)
        let floor = max(0, upper - limit)
        while upper > floor {
            let lower = max(floor, upper - chunkRecords)
            let wanted = upper - lower
            let got = FileBytes.preadFully(fd, into: buffer, count: wanted * Format.recordSize, offset: Format.headerSize + lower * Format.recordSize)
            guard got == wanted * Format.recordSize else { return }
            let raw = UnsafeRawBufferPointer(buffer)
            for position in (0..<wanted).reversed() where !visit(lower + position, Format.decodeRecord(raw, at: position * Format.recordSize)) {
                return
            }
            upper = lower
        }
    }

    /// The first index in `0..<count` for which `isAtOrAfter` holds, given that it holds for a
    /// suffix of the file (records in time order); `count` when it holds for none.
    public func firstIndex(count: Int, where isAtOrAfter: (Format.Record) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            guard let record = record(at: mid) else { return low }
            if isAtOrAfter(record) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

@inline(__always)
private func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
