/// Little-endian loads and stores on raw memory. Files are little-endian and packed; these helpers
/// make that explicit and never allocate.
extension UnsafeRawBufferPointer {
    @inlinable
    func loadLE<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
        T(littleEndian: self.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    @inlinable
    func loadFloatLE(_ offset: Int) -> Float {
        Float(bitPattern: loadLE(offset, as: UInt32.self))
    }
}

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { self.append(contentsOf: $0) }
    }

    @inlinable
    mutating func appendZeros(_ count: Int) {
        self.append(contentsOf: repeatElement(0, count: count))
    }
}
