import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// One product root's files as the floor reads them. The `.scid` is read from its last offset,
/// and a short read is taken as the end, so no `fstat` is needed. The `.depth` is read the same way
/// and its bytes dropped: every bridge must read the book's changes, but applying them is a bridge's
/// work, not the machine's. (Not SierraFormat's `FileTailer`: it checks the file with an `fstat`
/// on every poll, which is a bridge's care, not the least a change costs.)
final class FloorFeed {
    let root: String
    private(set) var contract: String?
    private var scid = TailedFile()
    private var depth = TailedFile()
    /// Bytes of a record the last read cut short.
    private var partial: [UInt8] = []
    /// The index of the next whole record in the `.scid` (the reference bridge's `seq`).
    private var nextIndex = 0
    /// The quote of the last record read: a quote message is sent when it changes.
    private var bid: Float = 0
    private var ask: Float = 0

    init(root: String) {
        self.root = root
    }

    var isOpen: Bool { scid.fd >= 0 }
    /// Whether the depth file is open too (it may appear after the `.scid`).
    var hasDepth: Bool { depth.fd >= 0 }

    /// Opens the root's active contract and its latest depth file when they exist, at their current
    /// ends (a client gets what is written after it connects). A watch is added on each.
    func open(folder: DataFolder, inotify: Int32) {
        if scid.fd < 0, let symbol = DataFolder.activeContracts(folder.intradayFiles())[root] {
            if scid.open(folder.intradayPath(contract: symbol.name), inotify: inotify) {
                contract = symbol.name
                nextIndex = max(0, (Int(scid.offset) - IntradayFormat.headerSize) / IntradayFormat.recordSize)
                let aligned = IntradayFormat.headerSize + nextIndex * IntradayFormat.recordSize
                if scid.offset > aligned { scid.offset = off_t(aligned) }
                // The quote the file ends on: the next quote message is a change from it.
                if nextIndex > 0, let last = scid.record(at: off_t(aligned - IntradayFormat.recordSize)) {
                    bid = last.bid
                    ask = last.ask
                }
            }
        }
        if depth.fd < 0, let contract, let file = folder.latestDepthFiles()[contract] {
            _ = depth.open(folder.depthPath + "/" + file.fileName, inotify: inotify)
        }
    }

    func owns(watch: Int32) -> Bool { watch == scid.watch || watch == depth.watch }

    /// What one new record says to a client.
    enum Update {
        case trade
        /// The record changed the best bid or ask.
        case quote
    }

    /// Reads what the file behind `watch` gained; for the `.scid`, calls `update` for each new
    /// trade record and each change of the best bid or ask, with the record's index.
    func read(watch: Int32, buffer: UnsafeMutableRawBufferPointer, update: (Update, Int, IntradayRecord) -> Void) {
        if watch == depth.watch {
            depth.drain(buffer) { _ in }
            return
        }
        guard watch == scid.watch else { return }
        scid.drain(buffer) { bytes in
            var start = 0
            if !partial.isEmpty {
                let needed = IntradayFormat.recordSize - partial.count
                guard bytes.count >= needed else {
                    partial += bytes
                    return
                }
                partial += bytes[0..<needed]
                start = needed
                partial.withUnsafeBytes { record(IntradayFormat.decodeRecord($0, at: 0), update) }
                partial.removeAll(keepingCapacity: true)
            }
            var offset = start
            while offset + IntradayFormat.recordSize <= bytes.count {
                record(IntradayFormat.decodeRecord(bytes, at: offset), update)
                offset += IntradayFormat.recordSize
            }
            if offset < bytes.count { partial += bytes[offset...] }
        }
    }

    private func record(_ record: IntradayRecord, _ update: (Update, Int, IntradayRecord) -> Void) {
        // A trade that moved the quote is followed by the quote, as the reference bridge sends it.
        if record.isTrade { update(.trade, nextIndex, record) }
        if record.bid != bid || record.ask != ask { update(.quote, nextIndex, record) }
        bid = record.bid
        ask = record.ask
        nextIndex += 1
    }
}

/// A file read from an offset with `pread`, and its inotify watch.
struct TailedFile {
    var fd: Int32 = -1
    var offset: off_t = 0
    var watch: Int32 = -1

    mutating func open(_ path: String, inotify: Int32) -> Bool {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else {
            close(fd)
            return false
        }
        self.fd = fd
        offset = end
        watch = inotify_add_watch(inotify, path, UInt32(IN_MODIFY))
        return true
    }

    /// The whole record at `offset`, if it is there.
    func record(at offset: off_t) -> IntradayRecord? {
        withUnsafeTemporaryAllocation(byteCount: IntradayFormat.recordSize, alignment: 8) { raw in
            guard pread(fd, raw.baseAddress, raw.count, offset) == raw.count else { return nil }
            return IntradayFormat.decodeRecord(UnsafeRawBufferPointer(raw), at: 0)
        }
    }

    /// Reads to the end: a read shorter than the buffer is the end (one `pread` per change at
    /// these rates).
    mutating func drain(_ buffer: UnsafeMutableRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard fd >= 0 else { return }
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, offset)
            guard n > 0 else { return }
            offset += off_t(n)
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            if n < buffer.count { return }
        }
    }
}
