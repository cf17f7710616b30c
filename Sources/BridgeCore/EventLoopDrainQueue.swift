import NIOConcurrencyHelpers
import NIOCore

/// The WebSocket writers of one event loop that have items waiting. The first writer marked
/// schedules one task on the loop; writers marked before it runs only join the list. So an update
/// for a hundred clients of one loop costs one hop to that loop, not a hundred wake-ups.
public final class EventLoopDrainQueue: @unchecked Sendable {
    public let eventLoop: any EventLoop
    let metrics: BridgeMetrics
    private let lock = NIOLock()
    // Guarded by `lock`.
    private var pending: [WebSocketOutboxWriter] = []
    private var scheduled = false
    // Only touched on `eventLoop`: the list handed back and forth, so its storage is reused.
    private var spare: [WebSocketOutboxWriter] = []

    public init(eventLoop: any EventLoop, metrics: BridgeMetrics) {
        self.eventLoop = eventLoop
        self.metrics = metrics
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
    private let queues = NIOLockedValueBox<[ObjectIdentifier: EventLoopDrainQueue]>([:])

    public init(metrics: BridgeMetrics) {
        self.metrics = metrics
    }

    public func queue(for eventLoop: any EventLoop) -> EventLoopDrainQueue {
        queues.withLockedValue { queues in
            let key = ObjectIdentifier(eventLoop)
            if let queue = queues[key] { return queue }
            let queue = EventLoopDrainQueue(eventLoop: eventLoop, metrics: metrics)
            queues[key] = queue
            return queue
        }
    }
}
