import Foundation

/// A fresh folder under the system temporary directory, removed by `cleanup()`.
public struct TemporaryFolder: Sendable {
    public let path: String

    public init(prefix: String = "bridgelab-test-") throws {
        path = NSTemporaryDirectory() + prefix + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `bytes` to `name` (a path inside the folder; its folders are made).
    public func write(_ name: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: path + "/" + name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Appends `bytes` to the existing file `name`.
    public func append(_ name: String, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/" + name))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
    }

    /// The names in `subfolder` (e.g. "/history"), sorted.
    public func files(_ subfolder: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + subfolder)) ?? []).sorted()
    }
}
