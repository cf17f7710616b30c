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
        guard let list = writes[file]?.list, !list.isEmpty else { return nil }
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].first <= index { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let write = list[low - 1]
        return index < write.first + write.count ? write.at : nil
    }
}
