#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Descriptors the bridge reads Sierra Chart's files through.
enum ReadingDescriptor {
    /// Opens a file to read with `O_NOATIME` where the kernel allows it (the file's owner): every
    /// read of a file just appended to would otherwise update its access time — an inode written
    /// back, hundreds of times a second, for nothing.
    static func open(_ path: String) -> Int32 {
        let flags = O_RDONLY | O_CLOEXEC
        #if os(Linux)
        // O_NOATIME is a GNU extension the C module does not export: 01000000 on Linux.
        let quiet = systemOpen(path, flags | 0o1_000_000)
        if quiet >= 0 || errno != EPERM { return quiet }
        #endif
        return systemOpen(path, flags)
    }
}

/// `open(2)`, under a name the enum's own `open` does not hide.
private func systemOpen(_ path: String, _ flags: Int32) -> Int32 {
    open(path, flags)
}
