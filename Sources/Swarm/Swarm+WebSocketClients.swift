import BridgeClient
import BridgeWire
import Clocks
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SierraFormat

#if canImport(Glibc)
import Glibc
#endif

/// The WebSocket client kinds: `ws` and `slow` (the BridgeClient library), `churn` (connect,
/// subscribe, leave, again) and `malformed` (garbage and unknown operations).
extension Swarm {
    func runWebSocket(kind: ClientKind, until end: UInt64) async {
        let started = WallClock.nowMicroseconds()
        var settings = clientConfiguration()
        if kind == .slow {
            settings.deliverUpdates = true
            settings.queueLimit = 64
        }
        let first = FirstFlag()
        let histogram = kind == .slow ? "update_slow" : "update_ws"
        let client = BridgeClient(configuration: settings, logger: logger) { message in
            var seen = first.value
            var connectedAt = first.connectedAt
            self.observe(message, started: started, firstSnapshot: &seen, histogram: histogram, connectedAt: &connectedAt)
            self.delivered(message, cursor: first)
            first.value = seen
            first.connectedAt = connectedAt
        }
        let delay = configuration.slowDelayMilliseconds
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            if kind == .ws, configuration.cacheReadsPerSecond > 0 {
                // The application asks for the latest data as often as the old client polled;
                // the local view answers (a hit) while it is younger than the cache TTL.
                let symbols = configuration.symbols
                let interval = UInt64(1e9 / configuration.cacheReadsPerSecond)
                group.addTask {
                    var read = 0
                    var next = WallClock.monotonicNanoseconds() + interval
                    while next < end, !Task.isCancelled {
                        try? await Self.sleep(until: next)
                        _ = client.latest(symbols[read % symbols.count])
                        read += 1
                        next += interval
                    }
                }
            }
            if kind == .slow {
                group.addTask {
                    while await client.updates.next() != nil { try? await Task.sleep(for: .milliseconds(delay)) }
                }
            }
            try? await Self.sleep(until: end)
            client.stop()
            client.updates.finish()
            await group.waitForAll()
        }
        let statistics = client.statistics
        for micros in statistics.reconnectMicroseconds { recorder.record("reconnect", microseconds: micros) }
        totals.update { $0.connected[kind, default: 0] += statistics.connects > 0 ? 1 : 0 }
        totals.add(statistics, trackers: client.trackers)
    }

    /// An EventSource: reconnects after `retry:` with `Last-Event-ID`.

    func runChurn(until end: UInt64) async {
        let connects = PollerState()
        while WallClock.monotonicNanoseconds() < end {
            let stayMilliseconds = Int64.random(in: 100...1_000)
            var url = webSocketURL + "/ws"
            if let token = configuration.token { url += "?token=\(token)" }
            let subscribe = "{\"op\":\"subscribe\",\"symbols\":[\"\(configuration.symbols[0])\"]}"
            do {
                let frame = try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                    connects.request += 1
                    try await outbound.write(.text(subscribe))
                    let leave = WallClock.monotonicNanoseconds() + UInt64(stayMilliseconds) * 1_000_000
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        if case .text(let text) = message {
                            for line in text.split(separator: "\n") { self.totals.message(bytes: line.utf8.count) }
                        }
                        if WallClock.monotonicNanoseconds() > leave { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                if let frame { totals.update { $0.closeCodes[Int(UInt16(webSocketErrorCode: frame.closeCode)), default: 0] += 1 } }
            } catch {
                totals.error("churn_" + ErrorName.of(error))
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        totals.update { $0.connected[.churn, default: 0] += connects.request > 0 ? 1 : 0 }
    }

    func runMalformed(until end: UInt64) async {
        var url = webSocketURL + "/ws"
        if let token = configuration.token { url += "?token=\(token)" }
        let garbage = [
            "{not json", "[]", "{\"op\":\"explode\"}", "{\"op\":\"subscribe\",\"symbols\":[\"../../etc/passwd\"]}",
            String(repeating: "x", count: 300),
        ]
        do {
            let frame = try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                self.totals.update { $0.connected[.malformed, default: 0] += 1 }
                let sender = Task {
                    var i = 0
                    while WallClock.monotonicNanoseconds() < end {
                        try await outbound.write(.text(garbage[i % garbage.count]))
                        i += 1
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                defer { sender.cancel() }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message {
                        for line in text.split(separator: "\n") where WireScanner(line).type == "error" {
                            self.totals.update { $0.serverErrors += 1 }
                        }
                    }
                }
            }
            if let frame { totals.update { $0.closeCodes[Int(UInt16(webSocketErrorCode: frame.closeCode)), default: 0] += 1 } }
        } catch {
            totals.error("malformed_" + ErrorName.of(error))
        }
    }
}
