import Foundation

/// TCP sockets on one local port, counted by state from `/proc/net/tcp` and `/proc/net/tcp6`:
/// the bridge's side of every connection (CLOSE_WAIT piling up is a leak; TIME_WAIT is churn).
public struct SocketStates: Sendable, Equatable, Codable {
    /// The kernel's state names, in `/proc/net/tcp`'s numbering (1…11).
    public static let names = [
        "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
    ]

    public var counts: [String: Int] = [:]

    public init(counts: [String: Int] = [:]) { self.counts = counts }

    public subscript(_ state: String) -> Int { counts[state, default: 0] }

    /// 127.0.0.1 as `/proc/net/tcp` writes it (little-endian hex).
    public static let loopbackIPv4 = "0100007F"

    /// Counts the sockets whose local port is `port` (and, if given, whose local address is
    /// `address`, in the table's hex, and whose inode is one of `inodes`) in the tables' text.
    public static func parse(tables: [String], port: Int, address: String? = nil, inodes: Set<String>? = nil) -> SocketStates {
        var result = SocketStates()
        for table in tables {
            for line in table.split(separator: "\n").dropFirst() {
                // "  sl  local_address rem_address   st …": local is HEXADDR:HEXPORT, st is hex.
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 3, let colon = fields[1].lastIndex(of: ":"),
                    let local = Int(fields[1][fields[1].index(after: colon)...], radix: 16), local == port,
                    address == nil || fields[1][..<colon] == address ?? "",
                    inodes == nil || (fields.count > 9 && inodes?.contains(String(fields[9])) == true),
                    let state = Int(fields[3], radix: 16), (1...names.count).contains(state)
                else { continue }
                result.counts[names[state - 1], default: 0] += 1
            }
        }
        return result
    }

    /// The machine's sockets on `port` now.
    public static func read(port: Int, address: String? = nil, inodes: Set<String>? = nil) -> SocketStates {
        parse(tables: ["/proc/net/tcp", "/proc/net/tcp6"].compactMap(ProcReader.read), port: port, address: address, inodes: inodes)
    }

    /// The inodes of the sockets process `pid` holds open (`/proc/PID/fd/N -> socket:[INODE]`).
    public static func inodes(of pid: Int32) -> Set<String> {
        let folder = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var inodes = Set<String>()
        for name in names {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + name),
                target.hasPrefix("socket:["), target.hasSuffix("]")
            else { continue }
            inodes.insert(String(target.dropFirst(8).dropLast()))
        }
        return inodes
    }
}
