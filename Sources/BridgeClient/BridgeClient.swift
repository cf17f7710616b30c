import BridgeWire
import Clocks
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket
import SierraFormat

/// The bridge's client, as a library a trader's program (and `loadgen`) embeds.
///
/// It subscribes over WebSocket, applies snapshots and deltas to a local view per contract, and
/// checks every trade's `prev` against the last one seen (gaps, duplicates, reordering). When the
/// connection drops it reconnects with exponential backoff and jitter — the first retry fast — and
/// resumes from where it was, so nothing is lost; if the bridge cannot recover, it takes the fresh
/// snapshot. After repeated refusals it polls `/api/live_data` over HTTP, and goes back to the
/// WebSocket as soon as it can. `latest(_:)` answers from the local view while it is fresh.
public final class BridgeClient: Sendable {
    public let configuration: BridgeClientConfiguration
    /// Updates for the application (with the `.updates` transport): bounded, never dropped.
    public let updates: BoundedQueue<ReceivedMessage>
    private let logger: Logger
    let onMessage: (@Sendable (ReceivedMessage) -> Void)?

    struct State {
        /// What the messages said: positions, views, symbols, bars, counts.
        var session = ClientSession()
        /// Closes the open WebSocket (nil while there is none).
        var closer: (@Sendable (UInt16, String) -> Void)?
        var stopped = false
        var polling = false
        var disconnectedAt: Int64?
        /// When anything was last heard.
        var lastHeard: UInt64 = 0
        /// Which connection attempt is current: an abandoned attempt must not touch the next one.
        var attempt = 0
    }

    let state = NIOLockedValueBox(State())

    public init(configuration: BridgeClientConfiguration, logger: Logger, onMessage: (@Sendable (ReceivedMessage) -> Void)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.onMessage = onMessage
        self.updates = BoundedQueue(limit: configuration.queueLimit)
    }

    public var statistics: ClientStatistics { state.withLockedValue { $0.session.statistics } }
    public var trackers: [String: ContractTracker] { state.withLockedValue { $0.session.trackers } }
    /// Everything the bridge's messages said so far.
    public var session: ClientSession { state.withLockedValue { $0.session } }
    public var isPolling: Bool { state.withLockedValue { $0.polling } }

    /// The contract's latest state if it is younger than the cache TTL (a hit), else nil (a miss).
    public func latest(_ symbol: String) -> ContractView? {
        let now = WallClock.nowMicroseconds()
        let ttl = Int64(configuration.cacheTTL * 1e6)
        return state.withLockedValue { s in
            if let view = s.session.view(of: symbol), now - view.updatedAt <= ttl {
                s.session.statistics.cacheHits += 1
                return view
            }
            s.session.statistics.cacheMisses += 1
            return nil
        }
    }

    /// Stops the client; ``run()`` returns soon after.
    public func stop() {
        let closer = state.withLockedValue { s -> (@Sendable (UInt16, String) -> Void)? in
            s.stopped = true
            return s.closer
        }
        closer?(1000, "client stopping")
    }

    var stopped: Bool { state.withLockedValue { $0.stopped } || Task.isCancelled }

    /// Connects and keeps connected until stopped or cancelled.
    public func run() async {
        var refusals = 0
        var attempt = 0
        while !stopped {
            // Only a bridge that answers but refuses the WebSocket is worth polling; when nothing
            // answers at all, retrying the WebSocket (with backoff) is all there is to do.
            if refusals >= configuration.fallbackAfterFailures {
                await poll(for: configuration.webSocketRetryInterval)
                if stopped { break }
            }
            let started = WallClock.monotonicNanoseconds()
            let outcome = await connectOnce()
            if stopped { break }
            let lasted = Double(WallClock.monotonicNanoseconds() - started) / 1e9
            switch outcome {
            case .accepted:
                refusals = 0
                if lasted > 1 { attempt = 0 }
            case .refused:
                refusals += 1
            case .unreachable:
                break
            }
            try? await Task.sleep(for: .milliseconds(Int64(backoff(attempt) * 1000)))
            attempt += 1
        }
        updates.finish()
    }

    /// The delay before reconnect attempt `attempt`: doubling from the initial backoff, capped,
    /// with jitter that only shortens it (so a crowd spreads out, and the cap stays a cap: after
    /// an outage the client is back within `maxBackoff` of the bridge).
    public func backoff(_ attempt: Int) -> Double {
        let base = min(configuration.maxBackoff, configuration.initialBackoff * pow(2, Double(min(attempt, 30))))
        return max(0, base * (1 - configuration.jitter * Double.random(in: 0...1)))
    }

    enum ConnectOutcome {
        /// Connected (however it ended).
        case accepted
        /// The bridge answered but refused the WebSocket (close 1013/4401/4404, a failed upgrade).
        case refused
        /// Nothing answered.
        case unreachable
    }

    /// One connection's life, supervised: abandoned if it is not up within `connectTimeout` (an
    /// upgrade lost on a dead link is never answered), or once it has been silent for
    /// `missedHeartbeats` heartbeat periods (a dead bridge never finishes a close handshake either).
    private func connectOnce() async -> ConnectOutcome {
        let id = state.withLockedValue { s -> Int in
            s.attempt += 1
            s.lastHeard = 0
            return s.attempt
        }
        let attempt = Task { await self.connectAttempt(id) }
        let started = WallClock.monotonicNanoseconds()
        return await withCheckedContinuation { continuation in
            let resumed = NIOLockedValueBox(false)
            let watchdog = NIOLockedValueBox<Task<Void, Never>?>(nil)
            let finish: @Sendable (ConnectOutcome) -> Void = { outcome in
                let first = resumed.withLockedValue { done -> Bool in
                    defer { done = true }
                    return !done
                }
                guard first else { return }
                watchdog.withLockedValue { $0 }?.cancel()
                continuation.resume(returning: outcome)
            }
            Task { finish(await attempt.value) }
            // Once the connection is up, the watchdog sleeps until the next moment its silence
            // limit could be crossed (the last message heard plus the heartbeats it may miss), not
            // on a short fixed tick: ten thousand idle clients of one loadgen then wake a few hundred times a
            // second in all instead of a hundred thousand. It is cancelled when the attempt ends.
            let task = Task {
                // Once up, a connection that ends is the attempt's to report, not a connect timeout.
                var wasUp = false
                while !resumed.withLockedValue({ $0 }), !Task.isCancelled {
                    let now = WallClock.monotonicNanoseconds()
                    let (up, lastHeard, period) = self.state.withLockedValue {
                        ($0.closer != nil && $0.lastHeard > started, $0.lastHeard, $0.session.heartbeatSeconds)
                    }
                    if up { wasUp = true }
                    let silenceLimit = UInt64(max(0, period * self.configuration.missedHeartbeats) * 1e9)
                    let connectLimit = UInt64(max(0, self.configuration.connectTimeout) * 1e9)
                    let abandon: (String, ConnectOutcome)?
                    if !up, !wasUp, now &- started > connectLimit {
                        abandon = ("connect_timeout", .unreachable)
                    } else if up, lastHeard < now, now - lastHeard > silenceLimit {
                        // (`lastHeard` may be later than `now`, read before it: a message just came.)
                        abandon = ("heartbeat_timeout", .accepted)
                    } else {
                        abandon = nil
                    }
                    guard let (error, outcome) = abandon else {
                        // Not up yet (or down again): looked at every 100 ms, a short phase.
                        let deadline = up ? max(lastHeard, now) &+ silenceLimit : now
                        let wait = max(Self.watchdogMinimumWait, deadline > now ? deadline - now + 1_000_000 : 0)
                        try? await Task.sleep(nanoseconds: wait)
                        continue
                    }
                    let closer = self.state.withLockedValue { s -> (@Sendable (UInt16, String) -> Void)? in
                        s.session.statistics.errors[error, default: 0] += 1
                        let closer = s.closer
                        if s.attempt == id {
                            s.attempt += 1  // whatever the abandoned attempt does now is ignored
                            if closer != nil { s.session.statistics.disconnects += 1 }
                            s.closer = nil
                            s.disconnectedAt = s.disconnectedAt ?? WallClock.nowMicroseconds()
                        }
                        return closer
                    }
                    attempt.cancel()
                    closer?(CloseCode.goingAway, error)
                    finish(outcome)
                    return
                }
            }
            watchdog.withLockedValue { $0 = task }
            // An attempt that ended before the watchdog was stored: nothing cancelled it.
            if resumed.withLockedValue({ $0 }) { task.cancel() }
        }
    }

    /// The watchdog's shortest sleep: a limit just crossed is looked at again this soon.
    static let watchdogMinimumWait: UInt64 = 100_000_000

    private func connectAttempt(_ id: Int) async -> ConnectOutcome {
        guard configuration.transport == .updates else { return await connectAttemptOnLoop(id) }
        let url = configuration.url + webSocketPath()
        do {
            // A close handshake over a dead link can never finish: give up on it after a second.
            let frame = try await WebSocketClient.connect(
                url: url,
                configuration: .init(maxFrameSize: 1 << 22, closeTimeout: .seconds(1)),
                logger: logger
            ) {
                inbound,
                outbound,
                _ in
                let closer: @Sendable (UInt16, String) -> Void = { code, reason in
                    Task { try? await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason) }
                }
                guard self.opened(id, closer: closer) else { return }
                try await outbound.write(.text(self.subscribeMessage()))
                // Frames as they come (the bridge sends each message whole, in one final frame);
                // a fragmented message is put together here.
                var fragments: ByteBuffer?
                for try await frame in inbound {
                    // Stop means stop, not drain a backlog first; an abandoned attempt stops too.
                    if self.stopped || self.state.withLockedValue({ $0.attempt != id }) { break }
                    var data = frame.data
                    switch frame.opcode {
                    case .text:
                        if !frame.fin {
                            fragments = data
                            continue
                        }
                    case .continuation:
                        guard var pending = fragments else { continue }
                        pending.writeBuffer(&data)
                        if pending.readableBytes > 1 << 24 { throw MessageTooLarge() }
                        guard frame.fin else {
                            fragments = pending
                            continue
                        }
                        fragments = nil
                        data = pending
                    default:
                        continue
                    }
                    // This path serves clients whose application takes the updates.
                    var received: [ReceivedMessage] = []
                    guard self.applyFrame(data, attempt: id, { received.append($0) }) else { break }
                    for message in received { await self.updates.push(message) }
                }
            }
            let code = frame.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) } ?? Int(CloseCode.abnormal)
            return ended(id, code: code)
        } catch {
            return failed(id, error, refused: error is WebSocketClientError)
        }
    }

    /// One connection on the loop that reads it (``LoopWebSocket``): for a client that only
    /// observes (no ``updates`` to deliver), every message is handled where it was read.
    private func connectAttemptOnLoop(_ id: Int) async -> ConnectOutcome {
        do {
            let code = try await LoopWebSocket.connect(
                host: configuration.host,
                port: configuration.port,
                path: webSocketPath(),
                on: MultiThreadedEventLoopGroup.singleton.next(),
                connectTimeout: .milliseconds(Int64(configuration.connectTimeout * 1000)),
                onOpen: { closer, send in
                    guard self.opened(id, closer: { code, reason in closer.close(code: code, reason: reason) }) else {
                        closer.close(code: CloseCode.goingAway, reason: "abandoned")
                        return
                    }
                    send(self.subscribeMessage())
                },
                onText: { buffer in
                    // Stop means stop; an abandoned attempt stops too (applyFrame checks both).
                    self.applyFrame(buffer, attempt: id)
                }
            )
            return ended(id, code: Int(code))
        } catch {
            return failed(id, error, refused: error is LoopWebSocket.Failure)
        }
    }

    /// The URL path and query of the WebSocket.
    private func webSocketPath() -> String {
        var query: [String] = []
        if configuration.batchFrames { query.append("batch=1") }
        if let token = configuration.token { query.append("token=" + token) }
        return "/ws" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// The connection of attempt `id` is up; false when that attempt was abandoned meanwhile.
    private func opened(_ id: Int, closer: @escaping @Sendable (UInt16, String) -> Void) -> Bool {
        state.withLockedValue { s in
            guard s.attempt == id else { return false }
            s.closer = closer
            s.session.statistics.connects += 1
            s.polling = false
            if let since = s.disconnectedAt {
                s.session.statistics.reconnectMicroseconds.append(WallClock.nowMicroseconds() - since)
                s.disconnectedAt = nil
            }
            s.lastHeard = WallClock.monotonicNanoseconds()
            return true
        }
    }

    /// The connection of attempt `id` ended with close code `code` (``CloseCode/abnormal``: none).
    private func ended(_ id: Int, code: Int) -> ConnectOutcome {
        let refused = [CloseCode.tryAgainLater, CloseCode.unauthorized, CloseCode.unknownSymbol].contains(UInt16(clamping: code))
        guard state.withLockedValue({ $0.attempt == id }) else { return .accepted }
        state.withLockedValue {
            $0.closer = nil
            $0.disconnectedAt = $0.disconnectedAt ?? WallClock.nowMicroseconds()
            $0.session.statistics.disconnects += 1
            $0.session.statistics.closeCodes[code, default: 0] += 1
            if refused { $0.session.statistics.connectFailures += 1 }
        }
        return refused ? .refused : .accepted
    }

    /// Attempt `id` failed with `error`; `refused` when the bridge answered but refused the upgrade.
    private func failed(_ id: Int, _ error: any Error, refused: Bool) -> ConnectOutcome {
        guard state.withLockedValue({ $0.attempt == id }) else { return .unreachable }
        let wasConnected = state.withLockedValue { s -> Bool in
            let had = s.closer != nil
            s.closer = nil
            s.disconnectedAt = s.disconnectedAt ?? WallClock.nowMicroseconds()
            if had { s.session.statistics.disconnects += 1 } else { s.session.statistics.connectFailures += 1 }
            s.session.statistics.errors[ErrorName.of(error), default: 0] += 1
            return had
        }
        if wasConnected { return .accepted }
        return refused ? .refused : .unreachable
    }
}

/// A fragmented message from the bridge grew past 16 MB: the connection is dropped.
struct MessageTooLarge: Error {}
