import BridgeClient
import BridgeTesting
import BridgeWire
import Foundation
import NIOConcurrencyHelpers
import Testing

extension BridgeSuites {
    @Suite("SSEClient: the bridge's /sse read as an EventSource reads it")
    struct SSEClientTests {
        /// Connects in a task of its own until `done` says the session has what it waits for.
        func connection(_ client: SSEClient, until done: @escaping @Sendable (ClientSession) -> Bool) async throws {
            let statuses = NIOLockedValueBox<[Int]>([])
            let reading = Task {
                try await client.connect { status in
                    statuses.withLockedValue { $0.append(status) }
                } onMessage: { _ in
                }
            }
            let deadline = Date().addingTimeInterval(15)
            while !done(client.session), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            reading.cancel()
            _ = try? await reading.value
            #expect(statuses.withLockedValue { $0 } == [200])
            #expect(done(client.session), "the connection delivered what was waited for within 15 s")
        }

        @Test("every trade once across a reconnect: Last-Event-ID resumes where the last connection stopped")
        func resumeAcrossAReconnect() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let client = SSEClient(
                    configuration: .init(host: "127.0.0.1", port: bridge.port, symbols: ["NQ"], channels: [MarketChannel.trades.rawValue])
                )
                let writing = Task { try await folder.stream(seconds: 1, steps: 10) }
                try await connection(client) { ($0.trackers.first?.value.trades ?? 0) >= 5 }
                try await writing.value
                let id = try #require(client.lastEventID, "the stream's events carry ids")
                // Written while no one listens: owed to the next connection.
                try folder.advance(by: 1)
                let contract = try #require(client.session.trackers.keys.first)
                let records = try folder.records(contract)
                let lastTrade = records.lastIndex { $0.isTrade } ?? -1
                try await connection(client) { $0.trackers[contract]?.lastTrade == lastTrade }
                let tracker = try #require(client.session.trackers[contract])
                let first = try #require(tracker.firstPosition)
                let owed = trades(in: records, after: first)
                #expect(tracker.trades == owed.count, "every trade after the first snapshot's last, once")
                #expect(tracker.gaps == 0)
                #expect(tracker.duplicates == 0)
                #expect(tracker.outOfOrder == 0)
                #expect(client.session.statistics.resumesRecovered == 1, "the second connection resumed from \(id)")
            }
        }

        @Test("a refused stream throws EventSource.Refused with the status, before any message")
        func refused() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.token = "secret" }) { bridge in
                let client = SSEClient(configuration: .init(host: "127.0.0.1", port: bridge.port, symbols: ["NQ"], channels: ["trades"]))
                let messages = NIOLockedValueBox(0)
                await #expect(throws: EventSource.Refused.self) {
                    try await client.connect { _ in messages.withLockedValue { $0 += 1 } }
                }
                #expect(messages.withLockedValue { $0 } == 0)
                #expect(ErrorName.of(EventSource.Refused(status: 401)) == "refused_401")
            }
        }
    }
}
