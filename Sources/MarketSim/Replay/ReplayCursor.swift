import SierraFormat

/// Reads one source file's window in order, a chunk at a time, so a replay of a large capture
/// holds one chunk per file. A `prelude` (a depth file's book as it stood at the window's start)
/// comes before the file's own records, at the first record's time.
final class ReplayCursor<Format: SierraFileFormat> {
    let file: ReplayPlan.File
    private let reader: RecordReader<Format>
    private let time: (Format.Record) -> Int64
    private let prelude: [Format.Record]
    private var preludeLeft: ArraySlice<Format.Record>
    private var chunk: [Format.Record] = []
    private var position = 0
    private var nextIndex: Int

    init(file: ReplayPlan.File, prelude: [Format.Record] = [], time: @escaping (Format.Record) -> Int64) throws(SimulatorError) {
        do {
            reader = try RecordReader<Format>(opening: file.path, chunkRecords: 4096)
        } catch {
            throw .replay(error.description)
        }
        self.file = file
        self.time = time
        self.prelude = prelude
        self.preludeLeft = prelude[...]
        self.nextIndex = file.records.lowerBound
        fill()
    }

    /// The next record, or nil at the window's end.
    var head: Format.Record? {
        if let first = preludeLeft.first { return first }
        return position < chunk.count ? chunk[position] : nil
    }

    /// The next record's own time (Unix µs); prelude records take the window's first record's.
    var headTime: Int64? {
        if !preludeLeft.isEmpty { return chunk.first.map(time) }
        return position < chunk.count ? time(chunk[position]) : nil
    }

    func advance() {
        if !preludeLeft.isEmpty {
            preludeLeft.removeFirst()
            return
        }
        position += 1
        if position == chunk.count { fill() }
    }

    /// Back to the window's start (a loop).
    func restart() {
        preludeLeft = prelude[...]
        nextIndex = file.records.lowerBound
        chunk.removeAll(keepingCapacity: true)
        fill()
    }

    private func fill() {
        chunk.removeAll(keepingCapacity: true)
        position = 0
        let upper = min(file.records.upperBound, nextIndex + reader.chunkRecords)
        guard nextIndex < upper else { return }
        reader.forEach(in: nextIndex..<upper) { _, record in
            chunk.append(record)
            return true
        }
        nextIndex += chunk.count
        if chunk.isEmpty { nextIndex = file.records.upperBound }
    }

    /// The depth book at index `end` of a depth file, as one snapshot batch (clear, bids, asks,
    /// end of batch): what Sierra Chart writes when it connects mid-day.
    static func depthSnapshot(path: String, before end: Int) -> [DepthRecord] {
        guard end > 0, let reader = RecordReader<DepthFormat>(path: path, chunkRecords: 16_384) else { return [] }
        var builder = DepthBookBuilder()
        reader.forEach(in: 0..<end) { _, record in
            _ = builder.apply(record)
            return true
        }
        // Time 0 marks the prelude; the replay stamps it with the first record's due time.
        return DepthRecord.snapshotBatch(bids: builder.bids, asks: builder.asks, at: SCDateTime(microseconds: 0))
    }
}
