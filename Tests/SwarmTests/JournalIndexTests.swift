import Foundation
import Swarm
import Testing

@Suite("journal index")
struct JournalIndexTests {
    @Test("the writes that carried a range of records, each with how many of them it carried")
    func writesCarryingRange() throws {
        let path = NSTemporaryDirectory() + "bridgelab-journal-\(UUID().uuidString).tsv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lines = [
            "# journal", "100\tscid\tNQZ25-CME\t0\t0\t10", "200\tscid\tNQZ25-CME\t0\t10\t5", "250\tdepth\tNQZ25-CME.2025-12-01\t0\t0\t40",
            "300\tscid\tNQZ25-CME\t0\t15\t20",
        ]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let journal = JournalIndex(path: path)
        journal.refresh()
        #expect(journal.writtenAt(file: "NQZ25-CME", index: 12) == 200)
        #expect(journal.writtenAt(file: "NQZ25-CME", index: 35) == nil)
        // Records 8…17: 2 from the first write, 5 from the second, 3 from the third.
        let writes = try #require(journal.writes(file: "NQZ25-CME", after: 7, through: 17))
        #expect(writes.map(\.count).reduce(0, +) == 10)
        #expect(Set(writes.map { "\($0.at):\($0.count)" }) == ["100:2", "200:5", "300:3"])
        #expect(journal.writes(file: "NQZ25-CME", after: 12, through: 13)?.map(\.count) == [1])
        #expect(journal.writes(file: "NQZ25-CME", after: 13, through: 13)?.isEmpty == true)
        // Not journalled yet: the sample waits.
        #expect(journal.writes(file: "NQZ25-CME", after: 30, through: 40) == nil)
        #expect(journal.writes(file: "ESZ25-CME", after: 0, through: 1) == nil)
    }
}
