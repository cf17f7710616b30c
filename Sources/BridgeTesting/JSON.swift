import Foundation

/// A message as JSON.
public typealias JSON = [String: Any]

public func parseJSON(_ text: String) -> JSON {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? JSON ?? [:]
}

/// A wait that ran out, or what a test waited for that never came.
public struct Timeout: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}
