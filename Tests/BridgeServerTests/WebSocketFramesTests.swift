import BridgeTesting
import BridgeWire
import Foundation
import Testing

@testable import BridgeServer

/// The WebSocket protocol as the bridge's own connection handler speaks it, read at the byte level
/// from a raw socket: what a client library hides (fragments, pings, close payloads).
extension BridgeSuites {
    @Suite("WebSocket frames: fragments, pings, protocol errors, plain requests on the routes")
    struct WebSocketFramesTests {
        /// A client frame: masked, as RFC 6455 requires of clients.
        static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
            var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
            if payload.count < 126 {
                bytes.append(0x80 | UInt8(payload.count))
            } else {
                bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
            }
            let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
            bytes += mask
            bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
            return bytes
        }

        /// The next server frame: opcode and payload (server frames are not masked).
        static func next(_ socket: RawHTTP) throws -> (opcode: UInt8, payload: [UInt8]) {
            let head = try socket.bytes(2)
            var length = Int(head[1] & 0x7F)
            if length == 126 {
                let extended = try socket.bytes(2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                let extended = try socket.bytes(8)
                length = extended.reduce(0) { $0 << 8 | Int($1) }
            }
            return (head[0] & 0x0F, length > 0 ? try socket.bytes(length) : [])
        }

        /// Frames until one with `opcode` (text frames before it are skipped).
        static func until(_ opcode: UInt8, _ socket: RawHTTP) throws -> [UInt8] {
            while true {
                let frame = try next(socket)
                if frame.opcode == opcode { return frame.payload }
            }
        }

        /// An upgraded raw connection to `path`, past the 101 and the hello.
        static func upgraded(_ bridge: TestBridge, _ path: String = "/ws") throws -> RawHTTP {
            let socket = try RawHTTP(port: bridge.port)
            socket.requestUpgrade(path)
            let head = try socket.head()
            #expect(head.status == 101)
            let hello = try next(socket)
            #expect(hello.opcode == 0x1)
            #expect(String(decoding: hello.payload, as: UTF8.self).contains(#""type":"hello""#))
            return socket
        }

        static func closeCode(_ payload: [UInt8]) -> Int? {
            payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
        }

        @Test("a ping is answered with its payload; a message in fragments is one request; the client's close is echoed")
        func pingsFragmentsAndClose() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let socket = try Self.upgraded(bridge)
                socket.send(bytes: Self.frame(0x9, Array("are you there".utf8)))
                #expect(try Self.until(0xA, socket) == Array("are you there".utf8))
                // `{"op":"ping","id":"frag"}` in three frames: text, continuation, continuation.
                let message = Array(#"{"op":"ping","id":"frag"}"#.utf8)
                socket.send(bytes: Self.frame(0x1, Array(message[0..<5]), fin: false))
                socket.send(bytes: Self.frame(0x0, Array(message[5..<12]), fin: false))
                socket.send(bytes: Self.frame(0x0, Array(message[12...])))
                var pong = ""
                while !pong.contains(#""type":"pong""#) { pong = String(decoding: try Self.until(0x1, socket), as: UTF8.self) }
                #expect(pong.contains(#""id":"frag""#))
                socket.send(bytes: Self.frame(0x8, [0x03, 0xE8]))
                #expect(Self.closeCode(try Self.until(0x8, socket)) == Int(CloseCode.normal))
                #expect(socket.ends(within: 5))
                let deadline = Date().addingTimeInterval(10)
                while !bridge.app.registry.counts.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(bridge.app.registry.counts.isEmpty)
            }
        }

        @Test("a client gone without a close frame (its side of the socket shut) is closed and released at once")
        func vanishedClient() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            // A long heartbeat: the release must come from the end of input, not a ping round.
            try await withBridge(settings(folder.path) { $0.heartbeatSeconds = 600 }) { bridge in
                let socket = try Self.upgraded(bridge)
                #expect(bridge.app.registry.counts == ["ws": 1])
                shutdown(socket.fd, Int32(SHUT_WR))
                #expect(socket.ends(within: 10), "the bridge closes its side too")
                let deadline = Date().addingTimeInterval(10)
                while !bridge.app.registry.counts.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(bridge.app.registry.counts.isEmpty)
            }
        }

        @Test("fragments over the message limit close with 1009; a continuation with nothing to continue closes with 1002")
        func refusedFragments() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.maxInboundMessageBytes = 1024 }) { bridge in
                let big = try Self.upgraded(bridge)
                // Each frame is within the limit; together they are not.
                for index in 0..<3 { big.send(bytes: Self.frame(index == 0 ? 0x1 : 0x0, [UInt8](repeating: 0x20, count: 500), fin: false)) }
                let bigClose = try Self.until(0x8, big)
                #expect(Self.closeCode(bigClose) == Int(CloseCode.messageTooBig), "\(String(decoding: bigClose.dropFirst(2), as: UTF8.self))")

                let stray = try Self.upgraded(bridge)
                stray.send(bytes: Self.frame(0x0, Array("{}".utf8)))
                #expect(Self.closeCode(try Self.until(0x8, stray)) == Int(CloseCode.protocolError))
            }
        }

        @Test("a plain GET on a WebSocket route is told 426 Upgrade Required; an upgrade elsewhere is refused with 400")
        func plainRequests() async throws {
            let folder = try SimulatedFolder()
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                for path in ["/ws", "/ws/live_data/NQ"] {
                    let plain = try RawHTTP(port: bridge.port)
                    plain.request(path)
                    let head = try plain.head()
                    #expect(head.status == 426, "\(path)")
                    #expect(head.headers["upgrade"]?.lowercased() == "websocket")
                }
                let elsewhere = try RawHTTP(port: bridge.port)
                elsewhere.requestUpgrade("/api/symbols")
                #expect(try elsewhere.head().status == 400)
            }
        }
    }
}
