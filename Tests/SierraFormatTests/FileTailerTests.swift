import BridgeTesting
import Foundation
import SierraFormat
import Testing

@Suite("FileTailer")
struct FileTailerTests {
    @Test("yields only new whole records; a partial record waits for the rest")
    func partialRecords() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let name = "NQZ25-CME.scid"
        let records = (0..<5).map { tick($0) }
        let bytes = IntradayFormat.encodeFile(records)
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/" + name)

        // Nothing yet: no file.
        #expect(tailer.poll().records.isEmpty)

        // Header and two and a half records.
        let cut = IntradayFormat.headerSize + 2 * IntradayFormat.recordSize + 17
        try folder.write(name, Array(bytes[0..<cut]))
        var batch = tailer.poll()
        #expect(batch.events == [.opened, .partialRecord(bytes: 17)])
        #expect(batch.firstIndex == 0)
        #expect(batch.records == Array(records[0..<2]))
        #expect(batch.pendingBytes == 17)

        // Polling again without new bytes yields nothing and repeats no event.
        batch = tailer.poll()
        #expect(batch.records.isEmpty && batch.events.isEmpty)
        #expect(batch.pendingBytes == 17)

        // The rest arrives.
        try folder.append(name, Array(bytes[cut...]))
        batch = tailer.poll()
        #expect(batch.events.isEmpty)
        #expect(batch.firstIndex == 2)
        #expect(batch.records == Array(records[2...]))
        #expect(batch.pendingBytes == 0)
        #expect(tailer.nextIndex == 5)
    }

    @Test("a header written in pieces is waited for, not refused")
    func headerInPieces() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let bytes = IntradayFormat.encodeFile([tick(0)])
        try folder.write("A.scid", Array(bytes[0..<20]))
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/A.scid")
        #expect(tailer.poll().events == [.opened])
        try folder.append("A.scid", Array(bytes[20...]))
        let batch = tailer.poll()
        #expect(batch.events.isEmpty)
        #expect(batch.records == [tick(0)])
    }

    @Test("a file that shrinks is reported and read again from the start")
    func shrinkRewrite() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let records = (0..<10).map { tick($0) }
        try folder.write("A.scid", IntradayFormat.encodeFile(records))
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/A.scid")
        #expect(tailer.poll().records.count == 10)

        // Recreated shorter (delete and redownload), same first records.
        let shorter = Array(records[0..<4])
        try folder.write("A.scid", IntradayFormat.encodeFile(shorter))
        let batch = tailer.poll()
        let consumed = IntradayFormat.headerSize + 10 * IntradayFormat.recordSize
        let now = IntradayFormat.headerSize + 4 * IntradayFormat.recordSize
        #expect(batch.events.contains(.rewritten(.shrank(from: consumed, to: now))))
        #expect(batch.firstIndex == 0)
        #expect(batch.records == shorter)
    }

    @Test("a file whose first record changed is read again from the start")
    func firstRecordRewrite() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let original = (0..<3).map { tick($0) }
        try folder.write("A.scid", IntradayFormat.encodeFile(original))
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/A.scid")
        #expect(tailer.poll().records == original)

        // Rewritten in place, same inode, longer, with different first record (an import).
        let rewritten = (0..<5).map { tick($0, price: 100) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder.path + "/A.scid"))
        try handle.write(contentsOf: Data(IntradayFormat.encodeFile(rewritten)))
        try handle.close()
        let batch = tailer.poll()
        #expect(batch.events == [.rewritten(.firstRecordChanged)])
        #expect(batch.firstIndex == 0)
        #expect(batch.records == rewritten)
    }

    @Test("a replaced file with the same prefix continues where it was")
    func replacedSamePrefix() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let records = (0..<6).map { tick($0) }
        try folder.write("A.scid", IntradayFormat.encodeFile(records[0..<3]))
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/A.scid")
        #expect(tailer.poll().records.count == 3)
        try FileManager.default.removeItem(atPath: folder.path + "/A.scid")
        #expect(tailer.poll().events == [.missing])
        #expect(tailer.poll().events.isEmpty)
        try folder.write("A.scid", IntradayFormat.encodeFile(records))
        let batch = tailer.poll()
        #expect(batch.events == [.opened])
        #expect(batch.firstIndex == 3)
        #expect(batch.records == Array(records[3...]))
    }

    @Test("an invalid header is reported once, then the tailer waits for a rewrite")
    func invalidHeader() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        var bytes = IntradayFormat.encodeFile([tick(0)])
        bytes[0] = UInt8(ascii: "X")
        try folder.write("A.scid", bytes)
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/A.scid")
        let first = tailer.poll()
        #expect(first.records.isEmpty)
        guard case .invalid(let error) = first.events.last else {
            Issue.record("expected an invalid event, got \(first.events)")
            return
        }
        #expect(error.description.contains("bad magic"))
        #expect(tailer.poll().events.isEmpty)
        // Fixed by a rewrite.
        try folder.write("A.scid", IntradayFormat.encodeFile([tick(0), tick(1)]))
        #expect(tailer.poll().records == [tick(0), tick(1)])
    }

    @Test("a large backlog is returned over several bounded reads")
    func boundedReads() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let records = (0..<1000).map { tick($0) }
        try folder.write("A.scid", IntradayFormat.encodeFile(records))
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/A.scid", maxReadBytes: 4096)
        var all: [IntradayRecord] = []
        var polls = 0
        while true {
            let batch = tailer.poll()
            #expect(batch.firstIndex == all.count)
            all += batch.records
            polls += 1
            if !batch.hasMore { break }
        }
        #expect(all == records)
        #expect(polls == (1000 * 40 + 4095) / 4096)
    }

    @Test("starting past the first record still notices a rewrite")
    func startIndex() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let records = (0..<8).map { tick($0) }
        try folder.write("A.scid", IntradayFormat.encodeFile(records))
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/A.scid", startIndex: 5)
        let batch = tailer.poll()
        #expect(batch.firstIndex == 5)
        #expect(batch.records == Array(records[5...]))
        let other = (0..<9).map { tick($0, price: 50) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder.path + "/A.scid"))
        try handle.write(contentsOf: Data(IntradayFormat.encodeFile(other)))
        try handle.close()
        #expect(tailer.poll().events == [.rewritten(.firstRecordChanged)])
    }

    @Test("depth files tail the same way")
    func depthTail() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let t = SCDateTime(microseconds: 3_973_761_000_000_000)
        let records = [
            DepthRecord(dateTime: t, command: .clearBook),
            DepthRecord(dateTime: t, command: .addBid, numOrders: 1, price: 10, quantity: 5),
            DepthRecord(dateTime: t, command: .addAsk, flags: 1, numOrders: 1, price: 10.25, quantity: 7),
        ]
        let bytes = DepthFormat.encodeFile(records)
        try folder.write("MarketDepthData/X.2025-12-01.depth", Array(bytes.dropLast(5)))
        let tailer = FileTailer<DepthFormat>(path: folder.path + "/MarketDepthData/X.2025-12-01.depth")
        var batch = tailer.poll()
        #expect(batch.records == Array(records[0..<2]))
        #expect(batch.pendingBytes == 19)
        try folder.append("MarketDepthData/X.2025-12-01.depth", Array(bytes.suffix(5)))
        batch = tailer.poll()
        #expect(batch.records == [records[2]])
    }
}
