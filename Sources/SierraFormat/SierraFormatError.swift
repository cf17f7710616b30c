/// Why a Sierra Chart file was refused. Every case names the file, so a log line is enough to act on.
public struct SierraFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The file is shorter than its fixed header.
        case truncatedHeader(expected: Int, actual: Int)
        /// The first four bytes are not the kind's magic.
        case badMagic(expected: String, actual: [UInt8])
        /// The header declares a header size other than the one this kind has.
        case badHeaderSize(expected: Int, actual: UInt32)
        /// The header declares a record size other than the one this kind has.
        case badRecordSize(expected: Int, actual: UInt32)
        /// A read or open failed.
        case io(operation: String, errno: Int32)
    }

    public var file: String
    public var reason: Reason

    public init(file: String, reason: Reason) {
        self.file = file
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .truncatedHeader(let expected, let actual):
            return "\(file): truncated header: \(actual) bytes, a header needs \(expected)"
        case .badMagic(let expected, let actual):
            let shown = actual.map { byte in (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16) }.joined()
            return "\(file): bad magic: expected \"\(expected)\", found \"\(shown)\""
        case .badHeaderSize(let expected, let actual):
            return "\(file): bad header size: expected \(expected), header says \(actual)"
        case .badRecordSize(let expected, let actual):
            return "\(file): bad record size: expected \(expected), header says \(actual)"
        case .io(let operation, let errno):
            return "\(file): \(operation) failed (errno \(errno))"
        }
    }
}
