import Foundation
import SierraFormat

/// A fresh folder under the system temporary directory, removed by `cleanup()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "bridgelab-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: path + "/" + name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func append(_ name: String, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/" + name))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
    }
}

/// The golden vectors: the copy kept with the tests, and `../shared/vectors` beside the checkout
/// when it exists (so a change there is noticed).
enum Vectors {
    static let bundled: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors").path
    }()

    static var folders: [String] {
        var result = [bundled]
        let shared = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/vectors").path
        if FileManager.default.fileExists(atPath: shared) { result.append(shared) }
        return result
    }

    static func json(_ folder: String, _ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
}

/// Deterministic test randomness (SplitMix64), so a failing fuzz case can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func tick(_ index: Int, price: Float = 21000, base: Int64 = 3_973_761_000_000_000) -> IntradayRecord {
    IntradayRecord.trade(
        at: SCDateTime(microseconds: base + Int64(index) * 1000),
        price: price + Float(index % 8) * 0.25,
        size: UInt32(1 + index % 5),
        side: index % 2 == 0 ? .bid : .ask,
        bid: price,
        ask: price + 0.25
    )
}
