import SierraFormat

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// One line of the simulator's write journal. See `docs/JOURNAL.md`.
public struct JournalEntry: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Records appended to a `.scid` file.
        case scid
        /// Records appended to a `.depth` file.
        case depth
        /// Something happened to a file (`start`, `rollover`, `rewrite`, `new-day`, `stop`).
        case event
    }

    /// Wall-clock time (Unix µs) right after the write returned.
    public var writtenAt: Int64
    public var kind: Kind
    /// File name without extension: `NQZ25-CME` or `NQZ25-CME.2025-12-01`.
    public var file: String
    /// Times the file was recreated before this write (0 until the first rewrite).
    public var generation: Int
    /// For writes: index of the first record written and how many.
    public var firstIndex: Int
    public var count: Int
    /// For events: the event's name and detail.
    public var event: String
    public var detail: String
    /// For a replay's writes: when the write was due (Unix µs); `writtenAt` minus this is the
    /// replay's lag. Nil for the simulator's own writes.
    public var scheduledAt: Int64?

    public init(
        writtenAt: Int64,
        kind: Kind,
        file: String,
        generation: Int,
        firstIndex: Int = 0,
        count: Int = 0,
        event: String = "",
        detail: String = "",
        scheduledAt: Int64? = nil
    ) {
        self.writtenAt = writtenAt
        self.kind = kind
        self.file = file
        self.generation = generation
        self.firstIndex = firstIndex
        self.count = count
        self.event = event
        self.detail = detail
        self.scheduledAt = scheduledAt
    }

    /// The line's text, without the newline.
    public var line: String {
        switch kind {
        case .scid, .depth:
            let write = "\(writtenAt)\t\(kind.rawValue)\t\(file)\t\(generation)\t\(firstIndex)\t\(count)"
            return scheduledAt.map { write + "\t\($0)" } ?? write
        case .event:
            return "\(writtenAt)\tevent\t\(file)\t\(generation)\t\(event)\t\(detail)"
        }
    }

    /// Parses one line; nil for comments, blank or malformed lines.
    public init?(line: Substring) {
        if line.hasPrefix("#") { return nil }
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.count >= 5, let at = Int64(fields[0]), let kind = Kind(rawValue: String(fields[1])), let generation = Int(fields[3]) else {
            return nil
        }
        self.writtenAt = at
        self.kind = kind
        self.file = String(fields[2])
        self.generation = generation
        switch kind {
        case .scid, .depth:
            guard fields.count >= 6, let first = Int(fields[4]), let count = Int(fields[5]) else { return nil }
            self.firstIndex = first
            self.count = count
            self.event = ""
            self.detail = ""
            self.scheduledAt = fields.count >= 7 ? Int64(fields[6]) : nil
        case .event:
            self.firstIndex = 0
            self.count = 0
            self.event = String(fields[4])
            self.detail = fields.count > 5 ? String(fields[5]) : ""
            self.scheduledAt = nil
        }
    }
}

/// The write journal: for every flush, the wall-clock time of the write and the records it carried,
/// so a measurement can take latency from the moment data reached the file.
///
/// Lines are buffered and written when the buffer fills or on ``sync()``: the times in them are
/// taken at each write, so buffering the journal itself costs no accuracy.
public final class WriteJournal {
    public static let defaultFileName = "bridgelab-journal.tsv"
    public static let headerLines = [
        "# bridgelab simulator write journal v1",
        "# write_unix_us\tkind\tfile\tgeneration\tfirst_index\tcount[\tscheduled_unix_us]   (kind scid|depth; scheduled: replays only)",
        "# write_unix_us\tevent\tfile\tgeneration\tname\tdetail   (name start|rollover|rewrite|new-day|loop|stop)",
    ]

    public let path: String
    private var buffer: [UInt8] = []
    private var fd: Int32

    public init(path: String) throws(SimulatorError) {
        self.path = path
        var info = stat()
        let isNew = stat(path, &info) != 0 || info.st_size == 0
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "open journal", errno: errno) }
        if isNew {
            for line in Self.headerLines { buffer.append(contentsOf: Array((line + "\n").utf8)) }
        }
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        try? sync()
        if fd >= 0 { _ = Glibc_close(fd) }
    }

    public func record(_ entry: JournalEntry) throws(SimulatorError) {
        buffer.append(contentsOf: entry.line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { try sync() }
    }

    /// Writes the buffered lines.
    public func sync() throws(SimulatorError) {
        guard !buffer.isEmpty, fd >= 0 else { return }
        try SierraFileWriter<IntradayFormat>.writeAll(fd, buffer[...], path: path)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Reads every entry of a journal file.
    public static func read(path: String) throws(SierraFormatError) -> [JournalEntry] {
        let bytes = try FileBytes.readAll(path: path)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { JournalEntry(line: $0) }
    }
}
