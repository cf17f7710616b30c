import NIOCore

/// The wire form of a server's WebSocket text frame (RFC 6455 §5.2): final, unmasked, so one
/// frame's bytes are the same for every client and can be built once per message.
public enum WebSocketTextFrame {
    /// Header bytes for a payload of `length` bytes.
    public static func headerSize(_ length: Int) -> Int {
        length < 126 ? 2 : length <= 0xFFFF ? 4 : 10
    }

    /// Writes the header of a final text frame with a `length`-byte payload.
    public static func writeHeader(into buffer: inout ByteBuffer, length: Int) {
        buffer.writeInteger(UInt8(0x81))  // FIN, opcode 1 (text)
        if length < 126 {
            buffer.writeInteger(UInt8(length))
        } else if length <= 0xFFFF {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }
}
