import Foundation

struct TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "bridgelab-sim-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func files(_ subfolder: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + subfolder)) ?? []).sorted()
    }
}

/// 2025-12-01 14:30:00 UTC: fixed so that runs are byte-identical and contract names known.
let fixedStart: Int64 = 1_764_599_400_000_000
