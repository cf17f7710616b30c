import BridgeWire
import CFloorShims
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// The floor's one thread: an `epoll` loop over the listening socket, the inotify descriptor and
/// the clients. A change is one wake-up, one inotify read, one `pread` of the file that changed,
/// and one `send` of the new trades' and quotes' frames to each client: the least any bridge can do per update.
final class FloorLoop {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private struct Connection {
        var head: [UInt8] = []
        var root: String?
        var frames = ClientFrames()
    }

    private let folder: DataFolder
    private let listener: Int32
    private let epoll: Int32
    private let inotify: Int32
    private var feeds: [String: FloorFeed] = [:]
    private var connections: [Int32: Connection] = [:]
    private var subscribers: [String: [Int32]] = [:]
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    /// The frames of one change, encoded once for every client of the root.
    private var outgoing: [UInt8] = []
    let port: Int

    init(folder: DataFolder, host: String, port: Int) throws(Failure) {
        self.folder = folder
        signal(SIGPIPE, SIG_IGN)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw Failure(description: "--host \(host) is not an IPv4 address") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 512) == 0 else {
            throw Failure(description: "cannot listen on \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard epoll >= 0, inotify >= 0 else { throw Failure(description: "epoll or inotify unavailable: \(String(cString: strerror(errno)))") }
        watch(listener)
        watch(inotify)
    }

    private func watch(_ fd: Int32) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = fd
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
    }

    func run() -> Never {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            // A depth file not there yet is looked for once a second.
            let timeout: Int32 = feeds.values.allSatisfy(\.hasDepth) ? -1 : 1000
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), timeout) }
            if n <= 0 {
                for feed in feeds.values where !feed.hasDepth { feed.open(folder: folder, inotify: inotify) }
                continue
            }
            for event in events[0..<Int(n)] {
                let fd = event.data.fd
                if fd == listener {
                    accept()
                } else if fd == inotify {
                    filesChanged()
                } else {
                    readable(fd)
                }
            }
        }
    }

    private func accept() {
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            guard fd >= 0 else { return }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            connections[fd] = Connection()
            watch(fd)
        }
    }

    private func filesChanged() {
        var watches: Set<Int32> = []
        while true {
            let n = read(inotify, buffer.baseAddress, buffer.count)
            guard n > 0 else { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= n {
                watches.insert(buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self))
                offset += MemoryLayout<inotify_event>.size + Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            }
        }
        for (root, feed) in feeds {
            for wd in watches where feed.owns(watch: wd) {
                outgoing.removeAll(keepingCapacity: true)
                feed.read(watch: wd, buffer: buffer) { update, index, record in self.encode(update, feed, index, record) }
                if !outgoing.isEmpty { send(outgoing, to: root) }
            }
        }
    }

    private func encode(_ update: FloorFeed.Update, _ feed: FloorFeed, _ index: Int, _ record: IntradayRecord) {
        var w = JSONWriter(capacity: 160)
        w.beginObject()
        w.key("type")
        w.string(update == .trade ? "trade" : "quote")
        w.key("contract")
        w.string(feed.contract ?? feed.root)
        w.key("seq")
        w.int(index)
        w.key("t")
        w.int(record.dateTime.unixMicroseconds)
        if update == .trade {
            w.key("price")
            w.price(record.close)
            w.key("size")
            w.int(Int64(record.totalVolume))
        } else {
            w.key("bid")
            w.price(record.bid)
            w.key("ask")
            w.price(record.ask)
        }
        w.endObject()
        ClientFrames.appendFrame(opcode: 0x1, w.bytes, to: &outgoing)
    }

    /// One `send` per client; a client whose socket cannot take it all is closed (the floor keeps
    /// no queue: a bridge's queue is a bridge's cost).
    private func send(_ bytes: [UInt8], to root: String) {
        for fd in subscribers[root] ?? [] where !reply(fd, bytes) { drop(fd) }
    }

    private func readable(_ fd: Int32) {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        guard n > 0 else { return drop(fd) }
        guard var connection = connections[fd] else { return }
        if connection.root != nil {
            for event in connection.frames.take(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
                switch event {
                case .ping(let payload): reply(fd, ClientFrames.frame(opcode: 0xA, payload))
                case .close:
                    reply(fd, ClientFrames.frame(opcode: 0x8, [0x03, 0xE8]))
                    return drop(fd)
                }
            }
            connections[fd] = connection
            return
        }
        connection.head += UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        guard let end = connection.head.firstRange(of: Array("\r\n\r\n".utf8)) else {
            if connection.head.count > 16_384 {
                reply(fd, FloorHTTP.response(431, "request head over 16 KB"))
                return drop(fd)
            }
            connections[fd] = connection
            return
        }
        switch FloorHTTP.answer(Array(connection.head[..<end.lowerBound])) {
        case .close(let bytes):
            reply(fd, bytes)
            drop(fd)
        case .upgrade(let bytes, let symbol):
            let root = ContractSymbol(name: symbol.uppercased()).root
            // The files are opened before the answer: what is written after the client's upgrade
            // completes is sent to it. A root with no file in the folder is refused, so feeds
            // are only ever the folder's own.
            let feed = feeds[root] ?? FloorFeed(root: root)
            if !feed.isOpen { feed.open(folder: folder, inotify: inotify) }
            guard feed.isOpen else {
                reply(fd, FloorHTTP.response(404, "no contract of \(root) in the folder"))
                return drop(fd)
            }
            feeds[root] = feed
            connection.root = root
            connection.head = []
            connections[fd] = connection
            subscribers[root, default: []].append(fd)
            reply(fd, bytes)
        }
    }

    /// One `send` of all of `bytes`; whether the socket took them all.
    @discardableResult
    private func reply(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    private func drop(_ fd: Int32) {
        guard let connection = connections.removeValue(forKey: fd) else { return }
        if let root = connection.root { subscribers[root]?.removeAll { $0 == fd } }
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
        close(fd)
    }
}
