import BridgeServer
import BridgeTesting
import Foundation
import Testing

extension BridgeSuites {
    @Suite("Polling modes")
    struct PollingModeTests {
        @Test("polling modes serve the same JSON as event mode, and no push routes", arguments: [BridgeMode.pollingNaive, .pollingCached])
        func sameJSON(mode: BridgeMode) async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES"])
            defer { folder.cleanup() }
            var eventJSON: JSON = [:]
            try await withBridge(folder.path) { bridge in
                eventJSON = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)
            }
            try await withBridge(settings(folder.path) { $0.mode = mode }) { bridge in
                let response = try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ")
                #expect(response.status == 200)
                let polled = parseJSON(response.body)
                #expect(NSDictionary(dictionary: polled) == NSDictionary(dictionary: eventJSON))
                #expect(Set(polled.keys) == Set(eventJSON.keys))
                if mode == .pollingCached { #expect(response.headers["connection"] == "close") }
                for path in ["/ws", "/sse?symbols=NQ", "/api/stream/dashboard"] {
                    #expect(try await RawHTTP.fetch(port: bridge.port, path).status == 404, "\(path)")
                }
                #expect(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/ZZZ").status == 404)
                #expect(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/..%2Fx").status == 400)
                #expect(parseJSON(try await RawHTTP.fetch(port: bridge.port, "/health").body)["status"] as? String == "ok")
            }
        }

        @Test("naive mode reads the file on every request; cached mode answers from its cache for the TTL")
        func freshness() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            for mode in [BridgeMode.pollingNaive, .pollingCached] {
                try await withBridge(
                    settings(folder.path) {
                        $0.mode = mode
                        $0.cacheTTLSeconds = 0.5
                    }
                ) { bridge in
                    let before = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)["seq"] as? Int
                    try folder.advance(by: 0.5)
                    let after = parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)["seq"] as? Int
                    let expected = try folder.records("NQZ25-CME").count - 1
                    if mode == .pollingNaive {
                        #expect(after == expected)
                    } else {
                        #expect(after == before, "within the TTL the cached answer is served")
                        try await Task.sleep(for: .milliseconds(600))
                        #expect(parseJSON(try await RawHTTP.fetch(port: bridge.port, "/api/live_data/NQ").body)["seq"] as? Int == expected)
                    }
                }
            }
        }

        @Test("cached mode admits at most its limit of requests in flight; the rest get 503")
        func inFlightLimit() async throws {
            // A large file makes each uncached read slow enough to overlap.
            let folder = try SimulatedFolder(roots: ["NQ", "ES", "VX"], rate: 50_000, flushMilliseconds: 1_000)
            defer { folder.cleanup() }
            try folder.advance(by: 4)
            try await withBridge(
                settings(folder.path) {
                    $0.mode = .pollingCached
                    $0.maxRequestsInFlight = 2
                    $0.cacheTTLSeconds = 0.001
                }
            ) { bridge in
                let port = bridge.port
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<24 {
                        let symbol = ["NQ", "ES", "VX"][i % 3]
                        group.addTask {
                            // A failed request counts as -1, which the last expectation rejects.
                            (try? await RawHTTP.fetch(port: port, "/api/live_data/\(symbol)").status) ?? -1
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(statuses.contains(200))
                #expect(statuses.contains(503))
                #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 })
            }
        }
    }
}
