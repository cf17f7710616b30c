import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket on 127.0.0.1 and a free port, for tests that play the server.
struct LoopbackListener {
    let fd: Int32
    /// Where it listens (for `connect`).
    var address: sockaddr_in
    var port: Int { Int(UInt16(bigEndian: address.sin_port)) }
    static let addressLength = socklen_t(MemoryLayout<sockaddr_in>.size)

    init(backlog: Int32 = 16) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = Self.addressLength
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        listen(fd, backlog)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    }

    /// A client socket connected to it.
    func connectClient() -> Int32 {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = self.address
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, Self.addressLength) } }
        return client
    }
}
