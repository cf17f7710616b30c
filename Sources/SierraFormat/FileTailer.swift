#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a tailer started again from the first record.
public enum RewriteReason: Sendable, Equatable {
    /// The file is now shorter than what had been read.
    case shrank(from: Int, to: Int)
    /// The first record is no longer the one read before: the file was rewritten in place.
    case firstRecordChanged
}

/// Something the tailer noticed about the file, reported rather than guessed around.
public enum TailEvent: Sendable, Equatable {
    /// The file was opened: first time, or again after it vanished or was replaced.
    case opened
    /// The file's contents changed under the reader; record indices restart at 0 and the records
    /// that follow this event replace everything read before.
    case rewritten(RewriteReason)
    /// A partial last record of this many bytes waits for the rest (reported when the amount changes).
    case partialRecord(bytes: Int)
    /// The file no longer exists at its path. What was read stays valid; reading resumes if it returns.
    case missing
    /// The header was refused; nothing is read until the file is rewritten or replaced.
    case invalid(SierraFormatError)
}

/// What one ``FileTailer/poll(_:)`` call saw, in order.
public enum TailItem<Record: Sendable>: Sendable {
    case event(TailEvent)
    /// A whole new record and its index in the file (0 is the first record after the header).
    case record(index: Int, Record)
}

/// The result of ``FileTailer/poll()``: events first, then the new records.
public struct TailBatch<Record: Sendable & Equatable>: Sendable, Equatable {
    public var events: [TailEvent] = []
    /// Index of `records[0]` in the file.
    public var firstIndex: Int = 0
    public var records: [Record] = []
    /// Bytes of a partial record after the last whole one.
    public var pendingBytes: Int = 0
    /// More whole records were on disk than one read takes: poll again.
    public var hasMore = false

    public init() {}
}

/// How a poll ended.
public struct TailProgress: Sendable, Equatable {
    public var pendingBytes: Int
    public var hasMore: Bool
}

/// Reads a Sierra Chart file incrementally: each poll yields only new whole records.
///
/// The offset stays on a record boundary, so a partial last record waits for the rest. Before each
/// read the tailer checks that the path still names the same file, that the file did not shrink and
/// that its first record is unchanged; if any of these fails it reports a ``TailEvent/rewritten(_:)``
/// and starts again from record 0. It never locks the file and never counts change events: callers
/// poll it whenever a watcher wakes them, and as often as they like.
///
/// Not thread-safe: one owner polls it. Memory use is bounded by `maxReadBytes`.
public final class FileTailer<Format: SierraFileFormat> {
    public let path: String
    /// Index of the next record to read: the number of records consumed.
    public private(set) var nextIndex: Int
    /// Size of the file at the last poll, in bytes (0 when missing).
    public private(set) var lastSize: Int = 0
    public let maxReadBytes: Int

    private var fd: Int32 = -1
    private var identity: (device: UInt64, inode: UInt64)?
    private var headerValidated = false
    /// The last header refusal reported, so a refused file is reported once, not on every poll.
    private var reportedInvalid: SierraFormatError?
    private var reportedMissing = false
    private var reportedPending = 0
    private var firstRecord: UnsafeMutableRawBufferPointer
    private var haveFirstRecord = false
    private var buffer: UnsafeMutableRawBufferPointer

    /// - Parameters:
    ///   - startIndex: the first record to yield (records before it are skipped, not decoded).
    ///   - maxReadBytes: upper bound of one read; a larger backlog is returned over several polls.
    public init(path: String, startIndex: Int = 0, maxReadBytes: Int = 1 << 20) {
        self.path = path
        self.nextIndex = max(0, startIndex)
        self.maxReadBytes = max(Format.recordSize, maxReadBytes - maxReadBytes % Format.recordSize)
        self.buffer = .allocate(byteCount: self.maxReadBytes, alignment: 8)
        self.firstRecord = .allocate(byteCount: Format.recordSize, alignment: 8)
    }

    deinit {
        if fd >= 0 { Glibc_close(fd) }
        buffer.deallocate()
        firstRecord.deallocate()
    }

    /// Whether the file is open now.
    public var isOpen: Bool { fd >= 0 }

    /// Polls and collects what it saw.
    public func poll() -> TailBatch<Format.Record> {
        var batch = TailBatch<Format.Record>()
        var sawRecord = false
        let progress = poll { item in
            switch item {
            case .event(let event):
                batch.events.append(event)
                if case .rewritten = event {
                    batch.records.removeAll()
                    sawRecord = false
                }
            case .record(let index, let record):
                if !sawRecord {
                    batch.firstIndex = index
                    sawRecord = true
                }
                batch.records.append(record)
            }
        }
        if !sawRecord { batch.firstIndex = nextIndex }
        batch.pendingBytes = progress.pendingBytes
        batch.hasMore = progress.hasMore
        return batch
    }

    /// Polls, handing each event and record to `visit` as it is found. Allocates nothing in the
    /// steady state.
    ///
    /// With `checkPath` (the default) the poll also checks that the path still names the file
    /// being read (a replacement) and that the first record is unchanged (a rewrite in place).
    /// Without it, an open file costs one `fstat` of its descriptor and the read itself: a watcher
    /// told of an append need not walk the path; it checks after directory events and now and
    /// then. A file that shrank is noticed either way.
    ///
    /// Pre-specialized for the two formats: a bridge calls it from another module on every change,
    /// where the generic body would look up `TailItem<Record>`'s metadata on each call.
    @discardableResult
    @_specialize(where Format == IntradayFormat)
    @_specialize(where Format == DepthFormat)
    public func poll(checkPath: Bool = true, _ visit: (TailItem<Format.Record>) -> Void) -> TailProgress {
        if checkPath || fd < 0 {
            guard ensureOpenAndCurrent(visit) else { return TailProgress(pendingBytes: 0, hasMore: false) }
        }

        var info = stat()
        guard fstat(fd, &info) == 0 else { return TailProgress(pendingBytes: 0, hasMore: false) }
        let size = Int(info.st_size)
        defer { lastSize = size }

        let consumedEnd = Format.headerSize + nextIndex * Format.recordSize
        if nextIndex > 0, size < consumedEnd {
            restart(.shrank(from: consumedEnd, to: size), visit)
        }
        guard size >= Format.headerSize else {
            headerValidated = false
            return TailProgress(pendingBytes: 0, hasMore: false)
        }

        if !headerValidated {
            guard validateHeader(visit) else { return TailProgress(pendingBytes: 0, hasMore: false) }
        }

        if size >= Format.headerSize + Format.recordSize {
            if haveFirstRecord {
                if checkPath, firstRecordChanged() { restart(.firstRecordChanged, visit) }
            } else if nextIndex > 0 {
                // Started past record 0: remember record 0 so a rewrite is still noticed.
                rememberFirstRecord()
            }
        }

        return readRecords(size: size, visit)
    }

    /// Skips ahead to record `index`: the records before it are never read. For an owner that
    /// found where it wants to start (a session's first record) in a file with history.
    public func skip(to index: Int) {
        nextIndex = max(nextIndex, index)
    }

    /// Closes the file; the next poll opens it again and checks it as after a replacement.
    public func close() {
        if fd >= 0 { Glibc_close(fd) }
        fd = -1
        identity = nil
    }

    // MARK: - Steps

    /// Opens the file if needed and follows the path to a replacement file. Returns false when
    /// there is nothing to read.
    private func ensureOpenAndCurrent(_ visit: (TailItem<Format.Record>) -> Void) -> Bool {
        var pathInfo = stat()
        if stat(path, &pathInfo) != 0 {
            // Gone (or unreadable): keep what was read; resume when it comes back.
            if fd >= 0 || nextIndex > 0, !reportedMissing {
                visit(.event(.missing))
                reportedMissing = true
            }
            close()
            lastSize = 0
            return false
        }
        let pathIdentity = (UInt64(pathInfo.st_dev), UInt64(pathInfo.st_ino))
        if fd >= 0, let identity, identity != pathIdentity {
            close()  // replaced: the next open checks it against what was read
        }
        if fd < 0 {
            let opened = ReadingDescriptor.open(path)
            guard opened >= 0 else { return false }
            fd = opened
            var info = stat()
            if fstat(fd, &info) == 0 {
                identity = (UInt64(info.st_dev), UInt64(info.st_ino))
            }
            reportedMissing = false
            headerValidated = false
            reportedInvalid = nil
            visit(.event(.opened))
        }
        return true
    }

    private func validateHeader(_ visit: (TailItem<Format.Record>) -> Void) -> Bool {
        let got = FileBytes.preadFully(fd, into: buffer, count: Format.headerSize, offset: 0)
        guard got == Format.headerSize else { return false }
        do {
            try Format.validateHeader(UnsafeRawBufferPointer(rebasing: buffer[0..<Format.headerSize]), file: path)
        } catch {
            if reportedInvalid != error { visit(.event(.invalid(error))) }
            reportedInvalid = error
            return false
        }
        reportedInvalid = nil
        headerValidated = true
        return true
    }

    private func firstRecordChanged() -> Bool {
        let got = FileBytes.preadFully(fd, into: buffer, count: Format.recordSize, offset: Format.headerSize)
        guard got == Format.recordSize else { return true }
        return memcmp(buffer.baseAddress!, firstRecord.baseAddress!, Format.recordSize) != 0
    }

    private func rememberFirstRecord() {
        let got = FileBytes.preadFully(fd, into: firstRecord, count: Format.recordSize, offset: Format.headerSize)
        haveFirstRecord = got == Format.recordSize
    }

    private func restart(_ reason: RewriteReason, _ visit: (TailItem<Format.Record>) -> Void) {
        nextIndex = 0
        haveFirstRecord = false
        headerValidated = false
        reportedPending = 0
        visit(.event(.rewritten(reason)))
    }

    private func readRecords(size: Int, _ visit: (TailItem<Format.Record>) -> Void) -> TailProgress {
        let offset = Format.headerSize + nextIndex * Format.recordSize
        let available = max(0, size - offset)
        let wholeBytes = available - available % Format.recordSize
        let wanted = min(wholeBytes, maxReadBytes)
        var got = 0
        if wanted > 0 {
            got = FileBytes.preadFully(fd, into: buffer, count: wanted, offset: offset)
            if got < 0 { got = 0 }
            got -= got % Format.recordSize
        }
        if got > 0 {
            let raw = UnsafeRawBufferPointer(buffer)
            if nextIndex == 0 {
                firstRecord.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<Format.recordSize]))
                haveFirstRecord = true
            }
            var at = 0
            while at < got {
                visit(.record(index: nextIndex, Format.decodeRecord(raw, at: at)))
                nextIndex += 1
                at += Format.recordSize
            }
        }
        let hasMore = got < wholeBytes && got > 0
        let pending = hasMore ? 0 : available - got
        if pending != reportedPending {
            if pending > 0 { visit(.event(.partialRecord(bytes: pending))) }
            reportedPending = pending
        }
        return TailProgress(pendingBytes: pending, hasMore: hasMore)
    }
}

// `close` is shadowed by the method above.
@inline(__always)
private func Glibc_close(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}
