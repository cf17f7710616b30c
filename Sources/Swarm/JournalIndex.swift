import MarketSim
import SierraFormat

/// The simulator's write journal, read incrementally: when was record `i` of a file written?
/// (docs/JOURNAL.md.) Lines are read by offset as the journal grows; a partial last line waits.
public final class JournalIndex: @unchecked Sendable {
    public let path: String
    private var offset = 0
    private var pending: [UInt8] = []
    /// Per file, the writes of its latest generation: (first index, count, written at), by first index.
    private var writes: [String: (generation: Int, list: [(first: Int, count: Int, at: Int64)])] = [:]

    public init(path: String) {
        self.path = path
    }

    /// Reads what was appended since the last call.
    public func refresh() {
        // Only what was appended since the last call: the journal grows for the whole run.
        guard let bytes = try? FileBytes.readAll(path: path, from: offset), !bytes.isEmpty else { return }
        pending += bytes
        offset += bytes.count
        guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { return }
        let text = String(decoding: pending[...lastNewline], as: UTF8.self)
        pending.removeSubrange(...lastNewline)
        for line in text.split(separator: "\n") {
            guard let entry = JournalEntry(line: line), entry.kind == .scid else { continue }
            // A rewrite starts a new generation; readers see only the newest.
            if writes[entry.file]?.generation != entry.generation {
                if let current = writes[entry.file]?.generation, current > entry.generation { continue }
                writes[entry.file] = (entry.generation, [])
            }
            writes[entry.file]?.list.append((entry.firstIndex, entry.count, entry.writtenAt))
        }
    }

    /// When the write carrying record `index` of `file` (latest generation) reached the file.
    public func writtenAt(file: String, index: Int) -> Int64? {
        guard let list = writes[file]?.list, let position = Self.write(containing: index, in: list) else { return nil }
        return list[position].at
    }

    /// The writes that carried records `after + 1 … through` of `file`: how many of those records
    /// each carried, and when it reached the file. Nil until the journal has reached `through`.
    public func writes(file: String, after: Int, through: Int) -> [(count: Int, at: Int64)]? {
        guard through > after else { return [] }
        guard let list = writes[file]?.list, let last = Self.write(containing: through, in: list) else { return nil }
        var result: [(count: Int, at: Int64)] = []
        var position = last
        while position >= 0 {
            let write = list[position]
            let low = max(write.first, after + 1)
            let high = min(write.first + write.count - 1, through)
            if high >= low { result.append((high - low + 1, write.at)) }
            if write.first <= after + 1 { break }
            position -= 1
        }
        return result
    }

    /// The position in `list` of the write holding record `index`.
    static func write(containing index: Int, in list: [(first: Int, count: Int, at: Int64)]) -> Int? {
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].first <= index { low = mid + 1 } else { high = mid }
        }
        guard low > 0, index < list[low - 1].first + list[low - 1].count else { return nil }
        return low - 1
    }
}
