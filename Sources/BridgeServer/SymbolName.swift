/// Client-supplied symbol names are checked before anything else looks at them: a symbol is a
/// name from the discovered set, never a path. Names with `/`, `..`, NUL or other control bytes,
/// or over 64 bytes, are refused outright and never reach the filesystem.
enum SymbolName {
    static let maxLength = 64

    static func isAcceptable(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLength, !name.contains("..") else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }
}
