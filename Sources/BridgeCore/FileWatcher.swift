import Clocks
import Foundation
import Logging
import NIOCore
import NIOPosix
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

/// Wakes the hub when files change. The inotify descriptor is watched by an event loop of the
/// server's own group (a NIO pipe channel): when it is readable, that loop reads the events and
/// pumps the affected contracts itself — the change is noticed, read, applied and encoded on one
/// thread, and the clients of that loop get their bytes with no hop at all (the others with one,
/// as before). The safety checks and the hub's timers are the same loop's scheduled tasks. No
/// thread of its own, no wake-up pipe.
///
/// The folders are watched for files that come and go; appends are watched file by file, only
/// on the files the hub reads (and the empty contracts a rollover would start with), so a folder
/// of thousands of files — or a journal written beside them — wakes the bridge only for what its
/// clients need. inotify coalesces events, so an event only says "look": the tailers read by offset.
public final class FileWatcher: @unchecked Sendable {
    public let mode: WatchMode
    /// Where the watching runs (everything below is touched only on it once started).
    public let eventLoop: any EventLoop
    private let hub: MarketHub
    private let logger: Logger
    private var inotifyFD: Int32 = -1
    private var channel: (any Channel)?
    private var watches: [Int32: String] = [:]
    /// Per-file watches: path → watch, and watch → contract.
    private var fileWatches: [String: Int32] = [:]
    private var watchedFiles: [Int32: String] = [:]
    private var watchGeneration = -1
    private var running = false
    /// What the events read since the last pass said (gathered over one readable wake-up).
    private var pending = PendingEvents()
    private var lastFullCheck: UInt64 = 0
    private var fullChecks = 0
    /// The hub's next timer (a rate cap's tick, a quiet market's bar), from the last pass.
    private var hubDeadline: UInt64?
    private var timer: Scheduled<Void>?
    private var timerAt: UInt64 = .max

    struct PendingEvents {
        var contracts = Set<String>()
        var touched = Set<String>()
        var refresh = false
        var any = false
    }

    /// `eventLoop`: one of the server's loops (its clients then get updates without a hop).
    public init(hub: MarketHub, mode: WatchMode, logger: Logger, eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.hub = hub
        self.mode = mode
        self.logger = logger
        self.eventLoop = eventLoop
    }

    /// Starts watching. The hub's folder is listed already (``MarketHub/refresh()``, by its owner,
    /// before the server answers): a second listing here would only repeat it.
    public func start() async throws {
        if case .events = mode {
            inotifyFD = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if inotifyFD < 0 {
                logger.warning("inotify unavailable; falling back to polling", metadata: ["errno": "\(errno)"])
            }
        }
        // Set up before the loop sees any of it; from here on, only the loop touches the state.
        addWatches()
        syncFileWatches()
        running = true
        lastFullCheck = WallClock.monotonicNanoseconds()
        if inotifyFD >= 0 {
            do {
                channel = try await NIOPipeBootstrap(group: eventLoop)
                    // One read takes whole events; a buffer smaller than an event is refused (EINVAL).
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 1024))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(InotifyReader(watcher: self)) }
                    }
                    .takingOwnershipOfDescriptor(input: inotifyFD).get()
            } catch {
                close(inotifyFD)
                inotifyFD = -1
                logger.warning("inotify descriptor not watchable by the event loop; falling back to polling", metadata: ["error": "\(error)"])
            }
        }
        let watched = inotifyFD >= 0
        try await eventLoop.submit {
            if watched {
                // A change of targets (a client subscribed or left) is a pass on the loop.
                self.hub.onWatchTargetsChange { [eventLoop = self.eventLoop] in eventLoop.execute { self.pass() } }
            }
            self.arm()
        }.get()
    }

    /// Stops watching: no pass runs after it returns.
    public func stop() async {
        let channel = try? await eventLoop.submit { () -> (any Channel)? in
            self.running = false
            self.timer?.cancel()
            self.timer = nil
            return self.channel
        }.get()
        try? await channel?.close()
    }

    private var intervalMilliseconds: Int {
        switch mode {
        case .events(let ms): return max(1, ms)
        case .poll(let ms): return max(1, ms)
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

    /// The channel closed the inotify descriptor (on the loop): its number may be reused by another
    /// file from now on, so no watch is added to it again; the safety checks go on alone.
    func descriptorClosed() {
        inotifyFD = -1
    }

    /// The events of one read of the descriptor (on the loop): gathered until the read is complete.
    func received(_ bytes: ByteBuffer) {
        pending.any = true
        parse(bytes)
    }

    /// One pass (on the loop): the events read since the last one, new watches, the safety check
    /// when due, and the hub's timers; then the next wake-up is set.
    func pass() {
        guard running else { return }
        let woke = WallClock.monotonicNanoseconds()
        if pending.any {
            let events = pending
            pending = PendingEvents()
            hub.metrics.fileEvent("inotify")
            if events.refresh {
                addWatches()
                hub.refresh()
                syncFileWatches(force: true)
            }
            if !events.touched.isEmpty { hub.touched(events.touched) }
            // An append: the tailed files are read through their descriptors, no path walked.
            if !events.contracts.isEmpty { hub.pump(events.contracts, detectedAt: woke, checkPaths: false) }
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
        hubDeadline = hub.fireTimers()
        arm()
    }

    /// Sets the loop's timer for the next safety check or the hub's next deadline, whichever
    /// comes first (a timer already set for earlier stays).
    private func arm() {
        guard running else { return }
        var wake = lastFullCheck &+ UInt64(intervalMilliseconds) * 1_000_000
        if let hubDeadline { wake = min(wake, hubDeadline) }
        if timer != nil, timerAt <= wake { return }
        timer?.cancel()
        let now = WallClock.monotonicNanoseconds()
        timerAt = wake
        timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(wake > now ? wake - now : 0))) {
            self.timer = nil
            self.timerAt = .max
            self.pass()
        }
    }

    /// Safety checks between two listings of the folder whatever its times say (at the default
    /// 250 ms, five minutes).
    static let checksPerListing = 1_200

    /// Reads one buffer of inotify events into ``pending``: the tailed contracts whose files
    /// changed, the other files that changed, and whether something appeared or vanished (so the
    /// folder must be listed again).
    private func parse(_ bytes: ByteBuffer) {
        let n = bytes.readableBytes
        bytes.withUnsafeReadableBytes { raw in
            var offset = 0
            let headerSize = MemoryLayout<inotify_event>.size
            while offset + headerSize <= n {
                let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameBytes = raw[(offset + headerSize)..<min(n, offset + headerSize + length)]
                offset += headerSize + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    pending.refresh = true
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
                        pending.contracts.insert(contract)
                    } else {
                        pending.touched.insert(contract + DataFolder.intradayExtension)
                    }
                }
                if mask & UInt32(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) != 0 {
                    let name = String(decoding: nameBytes.prefix(while: { $0 != 0 }), as: UTF8.self)
                    if name.hasSuffix(DataFolder.intradayExtension) || name.hasSuffix(DataFolder.depthExtension) || name == DataFolder.depthSubfolder
                    {
                        pending.refresh = true
                    }
                }
            }
        }
    }
}

/// The inotify descriptor's reads, handed to the watcher; one pass per readable wake-up.
final class InotifyReader: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let watcher: FileWatcher

    init(watcher: FileWatcher) {
        self.watcher = watcher
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        watcher.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        watcher.pass()
    }

    func channelInactive(context: ChannelHandlerContext) {
        watcher.descriptorClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The safety checks go on: a lost descriptor costs latency, never data.
        context.close(promise: nil)
    }
}
