import Foundation
import SierraFormat

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
