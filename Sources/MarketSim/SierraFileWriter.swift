import Clocks
import SierraFormat

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes one Sierra Chart file the way Sierra Chart does: records are buffered and appended at
/// the end of the file in flushes; a flush may be split across two writes, so that a reader can
/// catch a partial record.
public final class SierraFileWriter<Format: SierraFileFormat> {
    public let path: String
    /// Records on disk (the index the next flushed record will have).
    public private(set) var recordCount: Int
    /// How many times the file was recreated (rewrites); part of the journal's key.
    public private(set) var generation = 0
    private var pending: [UInt8] = []
    private var fd: Int32

    public var pendingRecords: Int { pending.count / Format.recordSize }

    /// Opens `path` for appending. An existing valid file is continued (a trailing partial record is
    /// cut off, as Sierra Chart would overwrite it); anything else is replaced by a new file.
    public init(path: String) throws(SimulatorError) {
        self.path = path
        var existing = 0
        // Only the header and the size are read: a file with weeks of history is continued at once.
        if let reader = try? RecordReader<Format>(opening: path, chunkRecords: 1) {
            existing = reader.count
            if reader.partialBytes > 0 {
                _ = truncate(path, off_t(Format.headerSize + existing * Format.recordSize))
            }
            fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        } else {
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 {
                var header: [UInt8] = []
                Format.encodeHeader(into: &header)
                try Self.writeAll(fd, header[...], path: path)
            }
        }
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        recordCount = existing
    }

    deinit {
        if fd >= 0 { _ = Glibc_close(fd) }
    }

    public func append(_ record: Format.Record) {
        Format.encodeRecord(record, into: &pending)
    }

    public func append(contentsOf records: some Sequence<Format.Record>) {
        for record in records { Format.encodeRecord(record, into: &pending) }
    }

    /// What one flush put on disk.
    public struct Flush: Sendable, Equatable {
        public var firstIndex: Int
        public var count: Int
        /// Wall-clock time (Unix µs) right after the last byte was written.
        public var writtenAt: Int64
        public var split: Bool
    }

    /// Writes the buffered records. With `splitAt`, the bytes are written in two `write` calls,
    /// the first ending `splitAt` bytes in (inside a record), with `gapMicroseconds` between them;
    /// `betweenWrites` runs in that gap (tests use it to read the file mid-flush).
    @discardableResult
    public func flush(splitAt: Int? = nil, gapMicroseconds: Int = 0, betweenWrites: (() -> Void)? = nil) throws(SimulatorError) -> Flush? {
        guard !pending.isEmpty else { return nil }
        let count = pending.count / Format.recordSize
        var split = false
        if let splitAt, splitAt > 0, splitAt < pending.count {
            try Self.writeAll(fd, pending[0..<splitAt], path: path)
            if gapMicroseconds > 0 { usleep(UInt32(gapMicroseconds)) }
            betweenWrites?()
            try Self.writeAll(fd, pending[splitAt...], path: path)
            split = true
        } else {
            try Self.writeAll(fd, pending[...], path: path)
        }
        let written = Flush(firstIndex: recordCount, count: count, writtenAt: WallClock.nowMicroseconds(), split: split)
        recordCount += count
        pending.removeAll(keepingCapacity: true)
        return written
    }

    /// Recreates the file shorter, as after a delete-and-redownload: the file is unlinked and a
    /// new one written with the first `keep` records. Buffered records are flushed first.
    public func rewrite(keepingFirst keep: Int) throws(SimulatorError) {
        try flush()
        let decoded: DecodedFile<Format.Record>
        do {
            decoded = try Format.readFile(atPath: path)
        } catch {
            throw .io(path: path, operation: "read for rewrite", errno: 0)
        }
        _ = Glibc_close(fd)
        unlink(path)
        let kept = Array(decoded.records.prefix(max(0, keep)))
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "recreate", errno: errno) }
        try Self.writeAll(fd, Format.encodeFile(kept)[...], path: path)
        recordCount = kept.count
        generation += 1
    }

    public func close() {
        if fd >= 0 { _ = Glibc_close(fd) }
        fd = -1
    }

    static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, path: String) throws(SimulatorError) {
        var error: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    error = errno
                    return
                }
                done += n
            }
        }
        if error != 0 { throw .io(path: path, operation: "write", errno: error) }
    }
}

@inline(__always)
func Glibc_close(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #else
    Darwin.close(fd)
    #endif
}
