import Crypto
import Foundation

/// The little HTTP the floor speaks: `/health`, and the upgrade of `/ws/live_data/{symbol}`.
enum FloorHTTP {
    enum Answer: Equatable {
        /// Send these bytes and close.
        case close([UInt8])
        /// Send these bytes; the connection is a WebSocket on this symbol from now on.
        case upgrade([UInt8], symbol: String)
    }

    /// The answer to one request head (the bytes up to the blank line).
    static func answer(_ head: [UInt8]) -> Answer {
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count == 3, parts[0] == "GET" else { return .close(response(405, "only GET is served")) }
        let path = parts[1].split(separator: "?").first.map(String.init) ?? ""
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if path == "/health" { return .close(response(200, #"{"status":"ok","bridge":"floor"}"#, json: true)) }
        let prefix = "/ws/live_data/"
        guard path.hasPrefix(prefix), path.count > prefix.count else { return .close(response(404, "no such route")) }
        guard headers["upgrade"]?.lowercased() == "websocket", let key = headers["sec-websocket-key"], !key.isEmpty else {
            return .close(response(426, "a WebSocket upgrade is expected here"))
        }
        let accept = Data(Insecure.SHA1.hash(data: Data((key + webSocketGUID).utf8))).base64EncodedString()
        let reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
        return .upgrade(Array(reply.utf8), symbol: String(path.dropFirst(prefix.count)))
    }

    static let webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    static func response(_ status: Int, _ body: String, json: Bool = false) -> [UInt8] {
        let reason =
            [200: "OK", 404: "Not Found", 405: "Method Not Allowed", 426: "Upgrade Required", 431: "Request Header Fields Too Large"][status]
            ?? "Error"
        let type = json ? "application/json" : "text/plain; charset=utf-8"
        let text = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        return Array(text.utf8)
    }
}

/// A client's frames, read for what the floor answers: a close (echoed) and a ping (ponged).
/// Everything else a client sends is dropped.
struct ClientFrames {
    enum Event: Equatable {
        case ping([UInt8])
        case close
    }

    private var buffer: [UInt8] = []

    /// Takes bytes from the socket; returns what they complete.
    mutating func take(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        buffer += bytes
        var events: [Event] = []
        while buffer.count >= 2 {
            let opcode = buffer[0] & 0x0F
            let masked = buffer[1] & 0x80 != 0
            var length = Int(buffer[1] & 0x7F)
            var offset = 2
            if length == 126 {
                guard buffer.count >= 4 else { break }
                length = Int(buffer[2]) << 8 | Int(buffer[3])
                offset = 4
            } else if length == 127 {
                // No client of the floor sends a frame that large: the connection ends.
                return [.close]
            }
            let maskOffset = offset
            if masked { offset += 4 }
            guard buffer.count >= offset + length else { break }
            var payload = Array(buffer[offset..<(offset + length)])
            if masked { for i in payload.indices { payload[i] ^= buffer[maskOffset + i % 4] } }
            buffer.removeFirst(offset + length)
            switch opcode {
            case 0x8: events.append(.close)
            case 0x9: events.append(.ping(payload))
            default: break
            }
        }
        return events
    }

    /// An unmasked server frame.
    static func frame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        appendFrame(opcode: opcode, payload, to: &bytes)
        return bytes
    }

    /// Appends an unmasked server frame to `bytes` (the frames of one change go out in one buffer).
    static func appendFrame(opcode: UInt8, _ payload: [UInt8], to bytes: inout [UInt8]) {
        bytes.append(0x80 | opcode)
        if payload.count < 126 {
            bytes.append(UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
        }
        bytes += payload
    }
}
