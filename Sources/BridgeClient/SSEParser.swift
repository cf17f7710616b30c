import NIOCore

/// Splits an `text/event-stream` body into events, across chunk boundaries.
public struct SSEParser {
    public struct Event: Sendable {
        public var id: String?
        public var event: String?
        public var data: String?
        public var retry: Double?
    }

    private var buffer: [UInt8] = []

    public init() {}

    public mutating func feed(_ chunk: ByteBuffer) -> [Event] {
        buffer += chunk.readableBytesView
        var events: [Event] = []
        while let end = blankLine() {
            let block = String(decoding: buffer[..<end.start], as: UTF8.self)
            buffer.removeSubrange(..<end.end)
            var event = Event()
            var data: [Substring] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") { continue }
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let field = parts[0]
                var value = parts.count > 1 ? parts[1] : ""
                if value.hasPrefix(" ") { value = value.dropFirst() }
                switch field {
                case "id": event.id = String(value)
                case "event": event.event = String(value)
                case "data": data.append(value)
                case "retry": event.retry = Double(value)
                default: break
                }
            }
            if !data.isEmpty { event.data = data.joined(separator: "\n") }
            if event.data != nil || event.retry != nil { events.append(event) }
        }
        return events
    }

    /// The first "\n\n".
    private func blankLine() -> (start: Int, end: Int)? {
        var i = 0
        while i + 1 < buffer.count {
            if buffer[i] == 0x0A, buffer[i + 1] == 0x0A { return (i, i + 2) }
            i += 1
        }
        return nil
    }
}
