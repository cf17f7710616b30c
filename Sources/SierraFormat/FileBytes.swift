#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX helpers. The format library stays free of Foundation so it is cheap to link and
/// its hot paths are plain system calls.
public enum FileBytes {
    /// Reads a file from `offset` (default: all of it). The file is opened read-only and never locked.
    public static func readAll(path: String, from offset: Int = 0) throws(SierraFormatError) -> [UInt8] {
        let fd = ReadingDescriptor.open(path)
        guard fd >= 0 else { throw SierraFormatError(file: path, reason: .io(operation: "open", errno: errno)) }
        defer { close(fd) }
        if offset > 0, lseek(fd, off_t(offset), SEEK_SET) < 0 {
            throw SierraFormatError(file: path, reason: .io(operation: "seek", errno: errno))
        }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SierraFormatError(file: path, reason: .io(operation: "read", errno: errno))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// `pread` until `count` bytes are read or the file ends; returns how many were read.
    static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, count: Int, offset: Int) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                return done > 0 ? done : -1
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
