import Clocks
import Foundation
import Logging
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// How the bridge learns that files changed.
public enum WatchMode: Sendable, Equatable {
    /// inotify on the data folder and `MarketDepthData/`, plus a size check every
    /// `safetyPollMilliseconds`, so a missed event costs latency, never data.
    case events(safetyPollMilliseconds: Int)
    /// A size check every `milliseconds`, no events (for folders where events never come).
    case poll(milliseconds: Int)
}

/// Wakes the hub when files change. One dedicated thread blocks in `poll(2)` on an inotify
/// descriptor (or just sleeps, in poll mode) and, when woken, pumps the affected contracts itself:
/// no hop to another thread between detection and fan-out.
///
/// The folders are watched for files that come and go; appends are watched file by file, only
/// on the files the hub reads (and the empty contracts a rollover would start with), so a folder
/// of thousands of files — or a journal written beside them — wakes the bridge only for what its
/// clients need. inotify coalesces events, so an event only says "look": the tailers read by offset.
public final class FileWatcher: @unchecked Sendable {
    public let mode: WatchMode
    private let hub: MarketHub
    private let logger: Logger
    private var inotifyFD: Int32 = -1
    private var watches: [Int32: String] = [:]
    /// Per-file watches: path → watch, and watch → contract.
    private var fileWatches: [String: Int32] = [:]
    private var watchedFiles: [Int32: String] = [:]
    private var watchGeneration = -1
    private var wakePipe: [Int32] = [-1, -1]
    private let stopped = NSCondition()
    private var running = false
    private var finished = false
    private var thread: Thread?

    public init(hub: MarketHub, mode: WatchMode, logger: Logger) {
        self.hub = hub
        self.mode = mode
        self.logger = logger
    }

    /// Starts the watching thread (after an initial load of the folder).
    public func start() {
        hub.refresh()
        // Non-blocking: the hub pokes it under its lock, and a full pipe already says "wake".
        _ = wakePipe.withUnsafeMutableBufferPointer { pipe($0.baseAddress) }
        for end in wakePipe where end >= 0 {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        if case .events = mode {
            inotifyFD = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if inotifyFD < 0 {
                logger.warning("inotify unavailable; falling back to polling", metadata: ["errno": "\(errno)"])
            }
            addWatches()
            let poke = wakePipe[1]
            hub.onWatchTargetsChange {
                var byte: UInt8 = 0
                _ = write(poke, &byte, 1)
            }
            syncFileWatches()
        }
        running = true
        let thread = Thread { [self] in
            self.loop()
            self.stopped.lock()
            self.finished = true
            self.stopped.broadcast()
            self.stopped.unlock()
        }
        thread.name = "bridge-file-watcher"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// Stops the thread and waits for it.
    public func stop() {
        guard running else { return }
        running = false
        var byte: UInt8 = 1
        _ = write(wakePipe[1], &byte, 1)
        stopped.lock()
        while !finished { stopped.wait() }
        stopped.unlock()
        if inotifyFD >= 0 { close(inotifyFD) }
        close(wakePipe[0])
        close(wakePipe[1])
    }

    private var intervalMilliseconds: Int32 {
        switch mode {
        case .events(let ms): return Int32(max(1, ms))
        case .poll(let ms): return Int32(max(1, ms))
        }
    }

    private func addWatches() {
        guard inotifyFD >= 0 else { return }
        let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)
        for path in [hub.folder.path, hub.folder.depthPath] where !watches.values.contains(path) {
            let wd = inotify_add_watch(inotifyFD, path, mask)
            if wd >= 0 { watches[wd] = path }
        }
    }

    /// Brings the per-file watches in line with the hub's targets; returns the contracts that got
    /// a new watch (read once now: an append before the watch existed woke nobody).
    @discardableResult
    private func syncFileWatches(force: Bool = false) -> Set<String> {
        guard inotifyFD >= 0, force || hub.watchTargetsChanged(since: watchGeneration) else { return [] }
        let (generation, targets) = hub.watchTargets()
        watchGeneration = generation
        var added = Set<String>()
        let mask = UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB)
        for (path, contract) in targets {
            // Adding again is cheap and follows a file replaced under the same name (a new inode).
            let wd = inotify_add_watch(inotifyFD, path, mask)
            guard wd >= 0 else { continue }
            if fileWatches[path] != wd {
                if let old = fileWatches[path] { watchedFiles[old] = nil }
                added.insert(contract)
            }
            fileWatches[path] = wd
            watchedFiles[wd] = contract
        }
        for (path, wd) in fileWatches where targets[path] == nil {
            inotify_rm_watch(inotifyFD, wd)
            fileWatches[path] = nil
            watchedFiles[wd] = nil
        }
        return added
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var fds = [
            pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0),
            pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0),
        ]
        var lastFullCheck = WallClock.monotonicNanoseconds()
        var fullChecks = 0
        // The hub's next timer (a rate cap's tick, a quiet market's bar), from the last pass.
        var deadline: UInt64?
        while running {
            let count = inotifyFD >= 0 ? 2 : 1
            let ready = poll(&fds, nfds_t(count), timeout(lastFullCheck: lastFullCheck, deadline: deadline))
            let woke = WallClock.monotonicNanoseconds()
            guard running else { break }
            if ready > 0, fds[0].revents & Int16(POLLIN) != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while drain.withUnsafeMutableBytes({ read(wakePipe[0], $0.baseAddress, $0.count) }) > 0 {}
            }
            if ready > 0, count == 2, fds[1].revents & Int16(POLLIN) != 0 {
                let (contracts, touched, needsRefresh) = readEvents(&buffer)
                hub.metrics.fileEvent("inotify")
                if needsRefresh {
                    addWatches()
                    hub.refresh()
                    syncFileWatches(force: true)
                }
                if !touched.isEmpty { hub.touched(touched) }
                // An append: the tailed files are read through their descriptors, no path walked.
                if !contracts.isEmpty { hub.pump(contracts, detectedAt: woke, checkPaths: false) }
            }
            let added = syncFileWatches()
            if !added.isEmpty { hub.pump(added, detectedAt: woke, checkPaths: false) }
            // The safety check (or, in poll mode, the only check): every interval, whatever happened.
            // It costs per tailed file (an fstat each). Every fourth time the paths and first
            // records are checked too, and the folders' modification times say whether a file came
            // or went; the whole folder, which may hold thousands of files, is listed only then
            // (and every few minutes in any case).
            if woke &- lastFullCheck >= UInt64(intervalMilliseconds) * 1_000_000 {
                lastFullCheck = woke
                fullChecks += 1
                hub.metrics.fileEvent(inotifyFD >= 0 ? "safety_poll" : "poll")
                if fullChecks % Self.checksPerListing == 0 {
                    addWatches()
                    hub.refresh()
                    syncFileWatches(force: true)
                } else if fullChecks % 4 == 0 {
                    addWatches()
                    hub.recheck()
                    hub.pump(nil, detectedAt: woke, checkPaths: true)
                    syncFileWatches(force: true)
                } else {
                    hub.pump(nil, detectedAt: woke, checkPaths: false)
                }
            }
            // Held rate-capped updates and quiet markets' bars: due on the clock, not on a file.
            // Last in the pass, so what this pass's pumps held or opened is counted in the deadline.
            deadline = hub.fireTimers()
        }
    }

    /// How long to sleep in `poll(2)`: until the next safety check or the hub's next deadline.
    private func timeout(lastFullCheck: UInt64, deadline: UInt64?) -> Int32 {
        let now = WallClock.monotonicNanoseconds()
        var wake = lastFullCheck &+ UInt64(intervalMilliseconds) * 1_000_000
        if let deadline { wake = min(wake, deadline) }
        guard wake > now else { return 0 }
        // Rounded up: waking early would find nothing due and sleep again for 0 ms.
        return Int32(min(Int64(intervalMilliseconds), Int64((wake - now + 999_999) / 1_000_000)))
    }

    /// Safety checks between two listings of the folder whatever its times say (at the default
    /// 250 ms, five minutes).
    static let checksPerListing = 1_200

    /// Drains the inotify descriptor; returns the tailed contracts whose files changed, the other
    /// files that changed, and whether something appeared or vanished (so the folder must be
    /// listed again).
    private func readEvents(_ buffer: inout [UInt8]) -> (Set<String>, Set<String>, Bool) {
        var contracts = Set<String>()
        var touched = Set<String>()
        var refresh = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(inotifyFD, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            buffer.withUnsafeBytes { raw in
                var offset = 0
                let headerSize = MemoryLayout<inotify_event>.size
                while offset + headerSize <= n {
                    let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    let nameBytes = raw[(offset + headerSize)..<min(n, offset + headerSize + length)]
                    let name = String(decoding: nameBytes.prefix(while: { $0 != 0 }), as: UTF8.self)
                    offset += headerSize + length
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        refresh = true
                        continue
                    }
                    if mask & UInt32(IN_IGNORED) != 0 {
                        // The file's watch ended (it was deleted or replaced): watch its successor.
                        if let path = fileWatches.first(where: { $0.value == wd })?.key { fileWatches[path] = nil }
                        watchedFiles[wd] = nil
                        watchGeneration = -1
                        continue
                    }
                    if let contract = watchedFiles[wd] {
                        // An empty contract's file (a rollover's first records) or a tailed one.
                        if hub.isTailed(contract) {
                            contracts.insert(contract)
                        } else {
                            touched.insert(contract + DataFolder.intradayExtension)
                        }
                    }
                    if mask & UInt32(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) != 0 {
                        if name.hasSuffix(DataFolder.intradayExtension) || name.hasSuffix(DataFolder.depthExtension)
                            || name == DataFolder.depthSubfolder
                        {
                            refresh = true
                        }
                    }
                }
            }
        }
        return (contracts, touched, refresh)
    }
}
