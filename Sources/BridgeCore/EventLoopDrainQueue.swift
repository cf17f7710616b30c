import BridgeWire
import Clocks
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

/// The WebSocket writers of one event loop that have items waiting. The first writer marked
/// schedules one task on the loop; writers marked before it runs only join the list. So an update
/// for a hundred clients of one loop costs one hop to that loop, not a hundred wake-ups.
///
/// It also keeps the loop's heartbeat: one timer per loop queues one shared `heartbeat` message
/// for every writer on it, and every ``pingEvery`` heartbeats sends every writer a WebSocket ping
/// (closing those whose peer did not answer the last one), instead of sleeping tasks per client.
public final class EventLoopDrainQueue: @unchecked Sendable {
    public let eventLoop: any EventLoop
    let metrics: BridgeMetrics
    let heartbeat: TimeAmount?
    // Only touched on `eventLoop`: the loop's writers, and their heartbeat timer.
    private var writers: [ObjectIdentifier: WebSocketOutboxWriter] = [:]
    private var heartbeatTask: RepeatedTask?
    private var beats = 0
    private let lock = NIOLock()
    // Guarded by `lock`.
    private var pending: [WebSocketOutboxWriter] = []
    private var scheduled = false
    // Only touched on `eventLoop`: the list handed back and forth, so its storage is reused.
    private var spare: [WebSocketOutboxWriter] = []

    /// `heartbeat`: how often every writer on the loop gets a `heartbeat` message (none if nil).
    public init(eventLoop: any EventLoop, metrics: BridgeMetrics, heartbeat: TimeAmount? = nil) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.heartbeat = heartbeat
    }

    /// A writer joined the loop (on the loop).
    func register(_ writer: WebSocketOutboxWriter) {
        writers[ObjectIdentifier(writer)] = writer
        if heartbeatTask == nil, let heartbeat {
            heartbeatTask = eventLoop.scheduleRepeatedTask(initialDelay: heartbeat, delay: heartbeat) { _ in self.beat() }
        }
    }

    /// A writer left (on the loop).
    func unregister(_ writer: WebSocketOutboxWriter) {
        writers[ObjectIdentifier(writer)] = nil
    }

    /// Heartbeats per ping: the heartbeats keep the link busy, so a ping now and then is enough
    /// to find a peer that vanished without a word.
    public static let pingEvery = 4

    /// A WebSocket ping frame with no payload (server frames are unmasked: shared by every client).
    static let pingFrame = ByteBuffer(bytes: [0x89, 0x00])

    /// Writers a heartbeat round serves before the loop turns to its sockets again.
    static let heartbeatSlice = 256

    /// One heartbeat, encoded once, queued for every writer of the loop; a ping round every
    /// ``pingEvery`` beats.
    private func beat() {
        beats += 1
        guard !writers.isEmpty else { return }
        let message = OutboundMessage(json: ServerMessages.simple(.heartbeat, t: WallClock.nowMicroseconds()), type: .heartbeat)
        beatSlice(Array(writers.values), from: 0, message: message, ping: beats % Self.pingEvery == 0)
    }

    /// One slice of a heartbeat round. The rest runs a millisecond later: NIO runs every task that
    /// is due before it polls its sockets again, so a round of ten thousand writes done at once
    /// held back every accept and short request on the loop (a `/health` probe waited for it);
    /// between slices they are served. A writer stopped meanwhile is skipped.
    private func beatSlice(_ round: [WebSocketOutboxWriter], from start: Int, message: OutboundMessage, ping: Bool) {
        let end = min(round.count, start + Self.heartbeatSlice)
        for writer in round[start..<end] {
            writer.outbox.enqueue(message, channel: nil)
            if ping { writer.pingRound(Self.pingFrame) }
        }
        guard end < round.count else { return }
        eventLoop.scheduleTask(in: .milliseconds(1)) { self.beatSlice(round, from: end, message: message, ping: ping) }
    }

    /// Marks a writer as having items waiting; any thread.
    func ready(_ writer: WebSocketOutboxWriter) {
        let schedule = lock.withLock {
            pending.append(writer)
            if scheduled { return false }
            scheduled = true
            return true
        }
        if schedule { eventLoop.execute { self.run() } }
    }

    /// On the loop: drains every marked writer, each with one flush, and counts them once.
    private func run() {
        var batch = spare
        lock.withLock {
            swap(&pending, &batch)
            scheduled = false
        }
        var sent = WebSocketOutboxWriter.Sent()
        for writer in batch { sent.add(writer.drainOnLoop()) }
        batch.removeAll(keepingCapacity: true)
        spare = batch
        sent.record(metrics)
    }
}

/// One ``EventLoopDrainQueue`` per event loop, found once per connection.
public final class EventLoopDrainQueues: Sendable {
    let metrics: BridgeMetrics
    let heartbeat: TimeAmount?
    private let queues = NIOLockedValueBox<[ObjectIdentifier: EventLoopDrainQueue]>([:])

    public init(metrics: BridgeMetrics, heartbeat: TimeAmount? = nil) {
        self.metrics = metrics
        self.heartbeat = heartbeat
    }

    public func queue(for eventLoop: any EventLoop) -> EventLoopDrainQueue {
        queues.withLockedValue { queues in
            let key = ObjectIdentifier(eventLoop)
            if let queue = queues[key] { return queue }
            let queue = EventLoopDrainQueue(eventLoop: eventLoop, metrics: metrics, heartbeat: heartbeat)
            queues[key] = queue
            return queue
        }
    }
}
