import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking socket work on a thread of its own, off the Swift concurrency pool (and off
/// Dispatch's, which may run only a core's worth of blocked work at once).
public func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// A TCP socket connected to 127.0.0.1:`port` (a blocking connect). `prepare` sets options that
/// must come before the connect (a receive buffer size).
public func connectLoopback(port: Int, prepare: (Int32) -> Void = { _ in }) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    prepare(fd)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        let error = errno
        close(fd)
        throw Timeout(description: "connect to 127.0.0.1:\(port) failed: errno \(error)")
    }
    return fd
}

/// Minimal HTTP over a raw socket: what a test needs to see statuses, headers and streamed bodies
/// exactly as they go over the wire.
public final class RawHTTP: @unchecked Sendable {
    public let fd: Int32
    private var buffer: [UInt8] = []

    public init(port: Int, receiveBuffer: Int? = nil) throws {
        fd = try connectLoopback(port: port) { fd in
            guard var size = receiveBuffer.map(Int32.init) else { return }
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    public func send(_ text: String) {
        send(bytes: Array(text.utf8))
    }

    public func send(bytes: [UInt8]) {
        var bytes = bytes
        _ = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public func request(_ path: String, headers: [String: String] = [:], close: Bool = true) {
        var text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if close { text += "Connection: close\r\n" }
        send(text + "\r\n")
    }

    /// A WebSocket upgrade request's headers (with RFC 6455's sample key).
    public static let webSocketUpgrade = [
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
    ]

    /// Asks for a WebSocket upgrade of `path`, keeping the connection open.
    public func requestUpgrade(_ path: String) {
        request(path, headers: Self.webSocketUpgrade, close: false)
    }

    public enum Fill { case data, end, timeout }

    /// One `recv` (which waits at most 100 ms).
    private func fill() -> Fill {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffer += chunk[0..<n]
            return .data
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? .timeout : .end
    }

    /// Reads the status line and headers.
    public func head(timeout: Double = 5) throws -> (status: Int, headers: [String: String]) {
        let deadline = Date().addingTimeInterval(timeout)
        let separator = Array("\r\n\r\n".utf8)
        while true {
            if let range = buffer.firstRange(of: separator) {
                let text = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<range.upperBound)
                let lines = text.components(separatedBy: "\r\n")
                let status = Int(lines[0].split(separator: " ")[1]) ?? 0
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    if let colon = line.firstIndex(of: ":") {
                        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                }
                return (status, headers)
            }
            guard Date() < deadline, fill() != .end else { throw Timeout(description: "no HTTP response head") }
        }
    }

    /// Exactly `count` more bytes.
    public func bytes(_ count: Int, timeout: Double = 5) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        while buffer.count < count {
            guard Date() < deadline, fill() != .end else { throw Timeout(description: "\(buffer.count) of \(count) bytes") }
        }
        defer { buffer.removeSubrange(..<count) }
        return Array(buffer[..<count])
    }

    /// Whether the peer closes its side (end of stream) within `seconds`; bytes read meanwhile are
    /// kept.
    public func ends(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if fill() == .end { return true }
        }
        return false
    }

    /// The rest of a `Connection: close` response (chunked or not), decoded.
    public func body(headers: [String: String], timeout: Double = 10) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, fill() != .end {}
        if headers["transfer-encoding"] == "chunked" { return String(decoding: dechunk(), as: UTF8.self) }
        return String(decoding: buffer, as: UTF8.self)
    }

    private var dechunked: [UInt8] = []

    /// Decodes whatever complete chunks are buffered.
    private func dechunk() -> [UInt8] {
        let crlf = Array("\r\n".utf8)
        while let line = buffer.firstRange(of: crlf) {
            let sizeText = String(decoding: buffer[..<line.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { break }
            let start = line.upperBound
            guard buffer.count >= start + size + 2 else { break }
            dechunked += buffer[start..<(start + size)]
            buffer.removeSubrange(..<(start + size + 2))
            if size == 0 { break }
        }
        return dechunked
    }

    /// The next SSE event from a chunked event stream (fields by name; comments as ":" ).
    public func nextEvent(timeout: Double = 5) throws -> [String: String] {
        let deadline = Date().addingTimeInterval(timeout)
        let separator = Array("\n\n".utf8)
        while Date() < deadline {
            _ = dechunk()
            if let range = dechunked.firstRange(of: separator) {
                let text = String(decoding: dechunked[..<range.lowerBound], as: UTF8.self)
                dechunked.removeSubrange(..<range.upperBound)
                var fields: [String: String] = [:]
                for line in text.split(separator: "\n") {
                    if line.hasPrefix(":") {
                        fields[":"] = String(line)
                    } else if let colon = line.firstIndex(of: ":") {
                        fields[String(line[..<colon])] = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
                    }
                }
                return fields
            }
            if fill() == .end { throw Timeout(description: "SSE stream ended") }
        }
        throw Timeout(description: "no SSE event within \(timeout) s")
    }

    /// Every event that arrives within `seconds`.
    public func events(for seconds: Double) -> [[String: String]] {
        let deadline = Date().addingTimeInterval(seconds)
        var events: [[String: String]] = []
        while let event = try? nextEvent(timeout: max(0, deadline.timeIntervalSinceNow)) { events.append(event) }
        return events
    }

    /// GET on a thread of its own (never block the concurrency pool the bridge under test needs).
    public static func fetch(
        port: Int,
        _ path: String,
        headers: [String: String] = [:]
    ) async throws -> (status: Int, headers: [String: String], body: String) {
        try await blocking { try get(port: port, path, headers: headers) }
    }

    /// GET and read the whole response.
    public static func get(
        port: Int,
        _ path: String,
        headers: [String: String] = [:]
    ) throws -> (status: Int, headers: [String: String], body: String) {
        let connection = try RawHTTP(port: port)
        connection.request(path, headers: headers)
        let (status, responseHeaders) = try connection.head()
        return (status, responseHeaders, connection.body(headers: responseHeaders))
    }
}

/// A port nothing listens on now (bound and released).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
