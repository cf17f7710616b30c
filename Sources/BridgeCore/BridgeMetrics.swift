import CoreMetrics

/// The bridge's metrics, made through one `MetricsFactory` (the server passes a Prometheus
/// factory over its own registry, so several bridges in one test process stay apart).
public final class BridgeMetrics: Sendable {
    public let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
        recordsRead = Counter(label: "bridge_records_read_total", factory: factory)
        detectToSend = CoreMetrics.Timer(label: "bridge_detect_to_send_seconds", factory: factory)
        queuedToWritten = CoreMetrics.Timer(label: "bridge_queued_to_written_seconds", factory: factory)
        subscriptions = Gauge(label: "bridge_subscriptions", factory: factory)
        tailedContracts = Gauge(label: "bridge_tailed_contracts", factory: factory)
        conflated = Counter(label: "bridge_queue_conflated_total", factory: factory)
        // Resolved once: the send path counts every batch, and looking a counter up by its
        // labels each time costs more than the count.
        var sentCounters: [String: (messages: Counter, bytes: Counter)] = [:]
        for transport in ["ws", "sse"] {
            sentCounters[transport] = (
                Counter(label: "bridge_messages_sent_total", dimensions: [("transport", transport)], factory: factory),
                Counter(label: "bridge_bytes_sent_total", dimensions: [("transport", transport)], factory: factory)
            )
        }
        self.sentCounters = sentCounters
        fileEventCounters = Dictionary(
            uniqueKeysWithValues: Self.fileEventSources.map {
                ($0, Counter(label: "bridge_file_events_total", dimensions: [("source", $0)], factory: factory))
            }
        )
    }

    /// What wakes the watcher: an inotify event, the safety check, or (poll mode) the only check.
    static let fileEventSources = ["inotify", "safety_poll", "poll"]
    /// Resolved once: the watcher counts every wake-up, hundreds a second.
    private let fileEventCounters: [String: Counter]

    private let sentCounters: [String: (messages: Counter, bytes: Counter)]
    /// The same activity, for the bridge's own dashboard.
    public let activity = BridgeActivity()

    /// Records read from `.scid` files.
    public let recordsRead: Counter
    /// From the watcher's wake-up to the update being queued for every subscriber.
    public let detectToSend: CoreMetrics.Timer
    /// From a message being queued for a WebSocket client to its frame being handed to the socket
    /// (one observation per write: the oldest message in it).
    public let queuedToWritten: CoreMetrics.Timer
    public let subscriptions: Gauge
    /// Contracts whose files are open now (the others of the folder cost no descriptor).
    public let tailedContracts: Gauge
    /// State updates replaced by a newer full value in a slow client's queue.
    public let conflated: Counter

    public func fileEvent(_ source: String) {
        if let counter = fileEventCounters[source] {
            counter.increment()
        } else {
            Counter(label: "bridge_file_events_total", dimensions: [("source", source)], factory: factory).increment()
        }
    }

    public func connectionOpened(_ transport: String) {
        Counter(label: "bridge_connections_total", dimensions: [("transport", transport)], factory: factory).increment()
        Meter(label: "bridge_connections", dimensions: [("transport", transport)], factory: factory).increment()
    }

    public func connectionClosed(_ transport: String, reason: String) {
        Meter(label: "bridge_connections", dimensions: [("transport", transport)], factory: factory).decrement()
        Counter(label: "bridge_disconnects_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    public func connectionRefused(transport: String, reason: String) {
        Counter(label: "bridge_connections_refused_total", dimensions: [("transport", transport), ("reason", reason)], factory: factory).increment()
    }

    public func sent(_ transport: String, messages: Int, bytes: Int) {
        activity.sent(messages: messages)
        if let counters = sentCounters[transport] {
            counters.messages.increment(by: messages)
            counters.bytes.increment(by: bytes)
        } else {
            Counter(label: "bridge_messages_sent_total", dimensions: [("transport", transport)], factory: factory).increment(by: messages)
            Counter(label: "bridge_bytes_sent_total", dimensions: [("transport", transport)], factory: factory).increment(by: bytes)
        }
    }

    public func resume(_ result: String) {
        Counter(label: "bridge_resumes_total", dimensions: [("result", result)], factory: factory).increment()
    }

    public func httpRequest(route: String, status: Int) {
        Counter(label: "bridge_http_requests_total", dimensions: [("route", route), ("status", String(status))], factory: factory).increment()
    }

    public func queueDrop(_ reason: String) {
        Counter(label: "bridge_queue_drops_total", dimensions: [("reason", reason)], factory: factory).increment()
    }
}
