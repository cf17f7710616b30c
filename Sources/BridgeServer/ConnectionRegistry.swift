import BridgeCore
import BridgeWire
import NIOConcurrencyHelpers
import NIOCore

/// The live streaming connections: enforces the connection limit and can close them all (with a
/// "going away" code) when the bridge shuts down.
final class ConnectionRegistry: Sendable {
    private struct State {
        var nextID = 1
        var open: [Int: (outbox: ClientOutbox, transport: String)] = [:]
        /// Open connections by transport, kept as they open and close: `/health` reads them
        /// often, and counting a thousand connections each time is not free.
        var byTransport: [String: Int] = [:]
        var reserved = 0
        var shuttingDown = false
        var closed = 0
    }

    let maxConnections: Int
    let backlog: Int
    let metrics: BridgeMetrics
    private let state = NIOLockedValueBox(State())
    private let upgradeObserver = NIOLockedValueBox<(@Sendable (any Channel, AnyObject) -> Void)?>(nil)

    /// Calls `observer` with the channel and the connection handler of every upgraded WebSocket
    /// connection, refused ones included (tests hold them weakly to check that a closed connection
    /// is released).
    func observeUpgrades(_ observer: @escaping @Sendable (_ channel: any Channel, _ connection: AnyObject) -> Void) {
        upgradeObserver.withLockedValue { $0 = observer }
    }

    func upgraded(_ channel: any Channel, connection: AnyObject) {
        upgradeObserver.withLockedValue { $0 }?(channel, connection)
    }

    init(maxConnections: Int, backlog: Int, metrics: BridgeMetrics) {
        self.maxConnections = maxConnections
        self.backlog = backlog
        self.metrics = metrics
    }

    /// Reserves a connection slot; false when the limit is reached or the bridge is stopping.
    func reserve() -> Bool {
        state.withLockedValue { s in
            guard !s.shuttingDown, s.open.count + s.reserved < maxConnections else { return false }
            s.reserved += 1
            return true
        }
    }

    /// Turns a reservation into an open connection with its outbox.
    func open(transport: String) -> ClientOutbox {
        let outbox: ClientOutbox = state.withLockedValue { s in
            s.reserved = max(0, s.reserved - 1)
            let outbox = ClientOutbox(id: s.nextID, maxBacklog: backlog)
            s.nextID += 1
            s.open[outbox.id] = (outbox, transport)
            s.byTransport[transport, default: 0] += 1
            if s.shuttingDown { outbox.close(code: CloseCode.goingAway, reason: "bridge shutting down") }
            return outbox
        }
        metrics.connectionOpened(transport)
        return outbox
    }

    func release(_ outbox: ClientOutbox, reason: String) {
        outbox.detach()
        let transport = state.withLockedValue { s -> String? in
            guard let transport = s.open.removeValue(forKey: outbox.id)?.transport else { return nil }
            s.byTransport[transport, default: 1] -= 1
            s.closed += 1
            return transport
        }
        if let transport { metrics.connectionClosed(transport, reason: reason) }
    }

    func cancelReservation() {
        state.withLockedValue { $0.reserved = max(0, $0.reserved - 1) }
    }

    /// Queues `message` for every open connection of `transport` (the SSE heartbeat).
    func enqueueForAll(transport: String, _ message: OutboundMessage) {
        let outboxes = state.withLockedValue { s in s.open.values.filter { $0.transport == transport }.map(\.outbox) }
        for outbox in outboxes { outbox.enqueue(message, channel: nil) }
    }

    /// Open connections, with their outboxes (for tests that check what a closed one leaves).
    var openOutboxes: [ClientOutbox] {
        state.withLockedValue { s in s.open.values.map(\.outbox) }
    }

    /// Connections closed since the start.
    var closedCount: Int { state.withLockedValue { $0.closed } }

    /// Connection slots reserved and not yet opened or given back.
    var reservations: Int { state.withLockedValue { $0.reserved } }

    var counts: [String: Int] {
        state.withLockedValue { s in s.byTransport.filter { $0.value > 0 } }
    }

    /// Waits (polling, at shutdown only) until no connection of `transport` is open, or `timeout`.
    func waitUntilClosed(transport: String, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while (counts[transport] ?? 0) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Closes every connection with `code` and refuses new ones.
    func closeAll(code: UInt16, reason: String) {
        let all = state.withLockedValue { s -> [ClientOutbox] in
            s.shuttingDown = true
            return s.open.values.map(\.outbox)
        }
        for outbox in all { outbox.close(code: code, reason: reason) }
    }
}
