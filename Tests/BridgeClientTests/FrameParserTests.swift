import NIOCore
import NIOWebSocket
import Testing

@testable import BridgeClient

@Suite("LoopWebSocket frame reader")
struct FrameParserTests {
    typealias Reader = LoopWebSocket.FrameHandler

    func frame(_ text: String, fin: Bool = true, opcode: UInt8 = 0x1, mask: [UInt8]? = nil) -> [UInt8] {
        let payload = Array(text.utf8)
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if payload.count < 126 {
            bytes.append(maskBit | UInt8(payload.count))
        } else {
            bytes.append(maskBit | 126)
            bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        if let mask {
            bytes += mask
            bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        } else {
            bytes += payload
        }
        return bytes
    }

    func text(_ parsed: Reader.Parsed) -> String? {
        guard case .frame(_, let opcode, let payload) = parsed, opcode == .text else { return nil }
        return String(buffer: payload)
    }

    @Test("whole frames, one after another, short and 16-bit lengths, masked or not")
    func wholeFrames() {
        let long = String(repeating: "y", count: 300)
        var bytes = ByteBuffer(bytes: frame("{\"a\":1}") + frame(long) + frame("masked", mask: [1, 2, 3, 4]))
        #expect(text(Reader.frame(from: &bytes)) == "{\"a\":1}")
        #expect(text(Reader.frame(from: &bytes)) == long)
        #expect(text(Reader.frame(from: &bytes)) == "masked")
        #expect(bytes.readableBytes == 0)
    }

    @Test("a frame split anywhere is incomplete until its last byte, and nothing is consumed meanwhile")
    func splitFrames() {
        let whole = frame(String(repeating: "z", count: 200))
        for cut in 1..<whole.count {
            var head = ByteBuffer(bytes: whole[..<cut])
            guard case .incomplete = Reader.frame(from: &head) else {
                Issue.record("cut at \(cut) parsed")
                return
            }
            #expect(head.readableBytes == cut)
            head.writeBytes(whole[cut...])
            #expect(text(Reader.frame(from: &head))?.count == 200)
        }
    }

    @Test("reserved bits, unknown opcodes and absurd lengths are refused")
    func invalid() {
        for bad: [UInt8] in [[0xC1, 0x00], [0x83, 0x00], [0x81, 0x7F, 0x7F, 0, 0, 0, 0, 0, 0, 0]] {
            var bytes = ByteBuffer(bytes: bad)
            guard case .invalid = Reader.frame(from: &bytes) else {
                Issue.record("\(bad) accepted")
                continue
            }
        }
    }
}
