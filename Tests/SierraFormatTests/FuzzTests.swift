import BridgeTesting
import MarketSim
import SierraFormat
import Testing

/// Seeded random-bytes property tests: nothing in the codec crashes on any byte sequence, and
/// what it decodes is consistent with what it was given.
@Suite("Fuzz: arbitrary bytes never crash the codecs")
struct FuzzTests {
    @Test("random and mutated files decode or are refused, never crash", arguments: [UInt64(1), 2, 3, 4])
    func randomFiles(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let valid = IntradayFormat.encodeFile((0..<20).map { tick($0) })
        let validDepth = DepthFormat.encodeFile((0..<20).map(Self.depthRecord))
        for iteration in 0..<2500 {
            let bytes: [UInt8]
            switch iteration % 3 {
            case 0:
                bytes = (0..<Int.random(in: 0..<400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:
                var mutated = iteration % 2 == 0 ? valid : validDepth
                for _ in 0..<Int.random(in: 1..<8, using: &rng) {
                    mutated[Int.random(in: 0..<mutated.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                bytes = Array(mutated.prefix(Int.random(in: 0...mutated.count, using: &rng)))
            default:
                var header = iteration % 2 == 0 ? Array(valid.prefix(56)) : Array(validDepth.prefix(64))
                header += (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                bytes = header
            }
            check(IntradayFormat.self, bytes)
            check(DepthFormat.self, bytes)
        }
    }

    private static func depthRecord(_ i: Int) -> DepthRecord {
        let command = DepthCommand(rawValue: UInt8(i % 9))
        return DepthRecord(dateTime: SCDateTime(microseconds: Int64(i)), command: command, flags: UInt8(i % 2), price: Float(i), quantity: UInt32(i))
    }

    private func check<F: SierraFileFormat>(_ format: F.Type, _ bytes: [UInt8]) {
        do {
            let decoded = try F.decodeFile(bytes, file: "fuzz")
            #expect(decoded.records.count * F.recordSize + decoded.partialBytes + F.headerSize == bytes.count)
        } catch {
            #expect(error.file == "fuzz")
        }
    }

    @Test("random depth commands keep both sides sorted and free of zero quantities")
    func randomBooks() {
        var rng = SeededRandom(seed: 99)
        var builder = DepthBookBuilder(maxLevels: 10)
        for _ in 0..<20_000 {
            let record = DepthRecord(
                dateTime: SCDateTime(microseconds: 1),
                command: DepthCommand(rawValue: UInt8.random(in: 0...9, using: &rng)),
                flags: UInt8.random(in: 0...3, using: &rng),
                price: Float(Int.random(in: 0..<40, using: &rng)) * 0.25,
                quantity: UInt32.random(in: 0...3, using: &rng)
            )
            if let book = builder.apply(record) {
                #expect(book.bids.count <= 10 && book.asks.count <= 10)
                #expect(zip(book.bids, book.bids.dropFirst()).allSatisfy { $0.price > $1.price })
                #expect(zip(book.asks, book.asks.dropFirst()).allSatisfy { $0.price < $1.price })
                #expect(book.bids.allSatisfy { $0.quantity > 0 } && book.asks.allSatisfy { $0.quantity > 0 })
            }
        }
    }

    @Test("random names never crash the name parsers")
    func randomNames() {
        var rng = SeededRandom(seed: 5)
        let alphabet = Array("NQESZH0123456789-._/ \u{0}é.depth.scid")
        for _ in 0..<5000 {
            let name = String((0..<Int.random(in: 0..<24, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let contract = ContractSymbol(name: name)
            #expect(contract.name == name)
            if let month = contract.month { #expect((1...12).contains(month)) }
            _ = DataFolder.parseDepthFileName(name)
        }
    }

    @Test("a tailer over a file of random bytes never crashes")
    func randomTail() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        var rng = SeededRandom(seed: 11)
        let tailer = FileTailer<IntradayFormat>(path: folder.path + "/F.scid")
        let valid = IntradayFormat.encodeFile((0..<10).map { tick($0) })
        for round in 0..<300 {
            var bytes = round % 4 == 0 ? (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } : valid
            if round % 4 == 1 { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
            try folder.write("F.scid", bytes)
            let batch = tailer.poll()
            #expect(batch.records.count * 40 <= bytes.count)
        }
    }
}
