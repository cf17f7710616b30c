import BridgeClient
import BridgeTesting
import Foundation
import Logging
import Swarm
import Testing

/// Runs a swarm against a real bridge over a folder the simulator keeps writing, in real time.
func runSwarm(
    _ folder: SimulatedFolder,
    bridge: TestBridge,
    seconds: Double,
    configure: (inout SwarmConfiguration) -> Void
) async throws -> [String: Any] {
    var configuration = SwarmConfiguration(url: "ws://127.0.0.1:\(bridge.port)")
    configuration.duration = seconds
    configuration.dataDirectory = folder.path
    configuration.progress = false
    configure(&configuration)
    var logger = Logger(label: "swarm-test")
    logger.logLevel = .critical
    let swarm = try Swarm(configuration: configuration, logger: logger)
    let writer = Task {
        // Keep writing for the whole run, a little past its end.
        for _ in 0..<Int((seconds + 0.5) * 10) {
            try folder.advance(by: 0.1)
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    let summary = try await swarm.run()
    writer.cancel()
    _ = await writer.result
    let data = try JSONSerialization.data(withJSONObject: summary.json)
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

extension [String: Any] {
    func at(_ path: String) -> Any? {
        var current: Any? = self
        for key in path.split(separator: ".") { current = (current as? [String: Any])?[String(key)] }
        return current
    }

    func int(_ path: String) -> Int { (at(path) as? NSNumber)?.intValue ?? Int.min }
}

extension BridgeSuites {
    @Suite("loadgen swarm")
    struct SwarmTests {
        @Test("a clean run loses nothing, and every update's latency is recorded from the journal")
        func cleanRun() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES"], rate: 800, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let summary = try await runSwarm(folder, bridge: bridge, seconds: 3) {
                    $0.clients = 5
                    $0.mix = [(.ws, 3), (.sse, 2)]
                    $0.symbols = ["NQ", "ES"]
                }
                #expect(summary.int("clients.connected.ws") == 3)
                #expect(summary.int("clients.connected.sse") == 2)
                #expect(summary.int("updates.trades") > 300)
                #expect(summary.int("updates.lost") == 0)
                #expect(summary.int("updates.gaps") == 0)
                #expect(summary.int("updates.duplicates") == 0)
                #expect(summary.int("updates.out_of_order") == 0)
                #expect(summary.int("latency_unresolved") == 0)
                #expect(summary.int("latency_us.update.count") == summary.int("updates.measured"))
                #expect(summary.int("latency_us.update.p50") > 0)
                #expect(summary.int("latency_us.subscribe_to_snapshot.count") == 5)
                #expect(summary.int("latency_us.connect.count") == 5)
                // Per kind, adding up to the whole.
                #expect(summary.int("latency_us.update_ws.count") > 0 && summary.int("latency_us.update_sse.count") > 0)
                #expect(
                    summary.int("latency_us.update_ws.count") + summary.int("latency_us.update_sse.count") == summary.int("latency_us.update.count")
                )
                // Bytes by message type: snapshots against the deltas after them.
                #expect(summary.int("payload.snapshot.messages") >= 5 * 2)
                let deltas = ["trade", "quote", "depth", "stats"].map { summary.int("payload.\($0).messages") }.reduce(0, +)
                #expect(summary.int("payload.bar.messages") == 0)
                #expect(deltas + summary.int("payload.snapshot.messages") + summary.int("payload.other.messages") == summary.int("updates.messages"))
                #expect((summary.at("payload.snapshot_mean_bytes") as? Double ?? 0) > (summary.at("payload.delta_mean_bytes") as? Double ?? 0))
                // The ws clients' applications read their cache four times a second.
                #expect(summary.int("cache.hits") + summary.int("cache.misses") >= 3 * 4 * 2)
            }
        }

        @Test("clients that want the latest state 4 times a second, or bars: what they got, and each record's delivery, as a poller's")
        func equalInformationClients() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 800, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let capped = try await runSwarm(folder, bridge: bridge, seconds: 3) {
                    $0.clients = 2
                    $0.channels = [.quotes, .depth, .stats]
                    $0.maxRate = 4
                }
                #expect(capped.at("config.max_rate") as? Double == 4)
                // At most 4 a second per channel (over a run of about 3 s), and each record
                // delivered by the first message whose seq reaches it.
                for channel in ["quote", "depth", "stats"] {
                    let count = capped.int("payload.\(channel).messages")
                    #expect(count > 2 && count <= 2 * (4 * 4 + 1), "\(channel): \(count)")
                }
                #expect(capped.int("payload.trade.messages") == 0)
                #expect(capped.int("latency_us.delivery.count") > 1_000)
                #expect(capped.int("latency_unresolved") == 0)
                let bars = try await runSwarm(folder, bridge: bridge, seconds: 3) {
                    $0.clients = 2
                    $0.channels = [.bars1s]
                }
                #expect(bars.int("payload.bar.messages") >= 2 * 2)
                #expect(bars.int("payload.quote.messages") == 0 && bars.int("payload.trade.messages") == 0)
                #expect(bars.int("latency_us.delivery.count") > 0)
                // A bar delivers its trades when it closes: later than a tick-by-tick client gets them.
                let ticks = try await runSwarm(folder, bridge: bridge, seconds: 3) { $0.clients = 2 }
                #expect(bars.int("latency_us.delivery.p50") > ticks.int("latency_us.delivery.p50"))
            }
        }

        @Test("with trace timestamps, update latency is split into its stages, and they add up")
        func stages() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.traceTimestamps = true }) { bridge in
                let summary = try await runSwarm(folder, bridge: bridge, seconds: 3) { $0.clients = 3 }
                let measured = summary.int("latency_us.update.count")
                #expect(measured > 100)
                for stage in ["stage_write_to_wake", "stage_wake_to_queued", "stage_queued_to_decoded"] {
                    #expect(summary.int("latency_us.\(stage).count") == measured, "\(stage)")
                }
                // The median of the whole is within the sum of the stages' medians and their p99s.
                let medians = ["stage_write_to_wake", "stage_wake_to_queued", "stage_queued_to_decoded"].map { summary.int("latency_us.\($0).p50") }
                let tails = ["stage_write_to_wake", "stage_wake_to_queued", "stage_queued_to_decoded"].map { summary.int("latency_us.\($0).p99") }
                #expect(summary.int("latency_us.update.p50") <= tails.reduce(0, +))
                #expect(summary.int("latency_us.update.p50") >= medians.min() ?? 0)
            }
            // Off by default: no trace fields.
            try await withBridge(folder.path) { bridge in
                let summary = try await runSwarm(folder, bridge: bridge, seconds: 1) { $0.clients = 1 }
                #expect(summary.int("latency_us.stage_wake_to_queued.count") == 0)
            }
        }

        @Test("timeline.csv has a row a second; its counters add up to the summary's")
        func timeline() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            let out = NSTemporaryDirectory() + "bridgelab-timeline-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: out) }
            try await withBridge(folder.path) { bridge in
                let summary = try await runSwarm(folder, bridge: bridge, seconds: 3) {
                    $0.clients = 3
                    $0.outputDirectory = out
                }
                let lines = try String(contentsOfFile: out + "/timeline.csv", encoding: .utf8).split(separator: "\n")
                #expect(lines.first.map(String.init) == SwarmTimeline.header)
                // Three one-second rows and the final one.
                #expect(lines.count == 1 + 4, "\(lines)")
                let last = lines.last!.split(separator: ",", omittingEmptySubsequences: false)
                #expect(Int(last[2]) == summary.int("updates.messages"))
                #expect(Int(last[3]) == summary.int("updates.measured"))
                let windowed = lines.dropFirst().map { Int($0.split(separator: ",", omittingEmptySubsequences: false)[7]) ?? 0 }.reduce(0, +)
                #expect(windowed == summary.int("latency_us.update.count"))
            }
        }

        @Test("a poller's request count matches its rate; its latency counts from the intended send")
        func pollerRate() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let summary = try await runSwarm(folder, bridge: bridge, seconds: 3) {
                    $0.clients = 2
                    $0.mix = [(.poll, 1)]
                    $0.pollRate = 4
                }
                // 4 per second for 3 seconds, each: requests at 0, 0.25, …, 2.75.
                #expect(abs(summary.int("http.requests") - 24) <= 2, "\(summary.int("http.requests")) requests")
                #expect(summary.int("http.status.200") == summary.int("http.requests"))
                #expect(summary.int("latency_us.poll_request.count") == summary.int("http.requests"))
                #expect(summary.int("latency_us.poll_staleness.count") == summary.int("http.requests"))
                // Delivery: every record after a poller's first answer is delivered by a later one,
                // and waits for it: the median delivery is longer than the median staleness.
                #expect(summary.int("latency_us.poll_delivery.count") > 20)
                #expect(summary.int("latency_us.poll_delivery.p50") > summary.int("latency_us.poll_staleness.p50"))
            }
        }

        @Test("zero loss after a 5 s cut of every connection: clients reconnect and resume")
        func cutAndResume() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                // The cut ends at 6.5 s; backoff is capped at 2 s (±50 % jitter): back by 9.5 s.
                let summary = try await runSwarm(folder, bridge: bridge, seconds: 11) {
                    $0.clients = 3
                    $0.mix = [(.ws, 1)]
                    $0.faults = [ScheduledFault(at: 1.5, fault: .cut(seconds: 5))]
                }
                #expect(summary.int("updates.lost") == 0)
                #expect(summary.int("updates.gaps") == 0)
                #expect(summary.int("resumes.recovered") >= 3)
                #expect(summary.int("resumes.not_recovered") == 0)
                #expect(summary.int("latency_us.reconnect.count") >= 3)
                #expect(summary.int("latency_us.reconnect.min") >= 4_000_000, "nobody got back in during the cut")
                #expect(summary.int("updates.trades") > 100)
            }
        }

        @Test("zero loss when the bridge is killed with SIGKILL and restarted mid-run")
        func killAndRestart() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 400, flushMilliseconds: 50)
            defer { folder.cleanup() }
            let executable = try BridgeProcess.executable.path
            let port = 19_000 + Int.random(in: 0..<500)
            var configuration = SwarmConfiguration(url: "ws://127.0.0.1:\(port)")
            configuration.duration = 7
            configuration.dataDirectory = folder.path
            configuration.progress = false
            configuration.clients = 3
            configuration.bridgeCommand = [executable, "--data-dir", folder.path, "--port", String(port), "--safety-poll-ms", "100"]
            configuration.faults = [ScheduledFault(at: 2, fault: .kill(downSeconds: 1))]
            var logger = Logger(label: "swarm-kill")
            logger.logLevel = .critical
            let swarm = try Swarm(configuration: configuration, logger: logger)
            let writer = Task {
                for _ in 0..<90 {
                    try folder.advance(by: 0.1)
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            let result = try await swarm.run()
            writer.cancel()
            _ = await writer.result
            let summary = try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: result.json)) as! [String: Any]
            #expect(summary.int("updates.lost") == 0)
            #expect(summary.int("updates.gaps") == 0)
            #expect(summary.int("resumes.recovered") >= 3, "every client resumed on the restarted bridge")
            #expect(summary.int("latency_us.reconnect.min") >= 900_000, "the bridge was down for a second")
            #expect(summary.int("updates.trades") > 100)
        }

        @Test("loadgen refuses targets that are not loopback, and bad faults")
        func validation() throws {
            var remote = SwarmConfiguration(url: "ws://10.0.0.5:8080")
            #expect(throws: SwarmError.self) { try remote.validate() }
            remote.url = "ws://127.0.0.1:8080"
            #expect(throws: Never.self) { try remote.validate() }
            #expect(throws: SwarmError.self) { try ScheduledFault(parsing: "explode:1") }
            #expect(throws: SwarmError.self) { try ScheduledFault(parsing: "cut") }
            #expect(try ScheduledFault(parsing: "latency:2:50:10") == ScheduledFault(at: 2, fault: .latency(milliseconds: 50, jitter: 10)))
            var kill = SwarmConfiguration(url: "ws://127.0.0.1:8080")
            kill.faults = [try ScheduledFault(parsing: "kill:3:2")]
            #expect(throws: SwarmError.self) { try kill.validate() }
        }
    }

    @Suite("fault proxy toxics")
    struct FaultProxyTests {
        /// A proxy in front of a bridge; the body gets the proxy's port.
        func withProxy(_ body: (FaultProxy, Int, Int) async throws -> Void) async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(folder.path) { bridge in
                let proxy = FaultProxy(upstreamHost: "127.0.0.1", upstreamPort: bridge.port)
                let port = try await proxy.start()
                do {
                    try await body(proxy, port, bridge.port)
                } catch {
                    await proxy.stop()
                    throw error
                }
                await proxy.stop()
            }
        }

        func timed(_ work: () async throws -> Void) async rethrows -> Double {
            let start = Date()
            try await work()
            return Date().timeIntervalSince(start)
        }

        @Test("without toxics it forwards faithfully")
        func passThrough() async throws {
            try await withProxy { _, port, bridgePort in
                let direct = try await RawHTTP.fetch(port: bridgePort, "/api/symbols")
                let proxied = try await RawHTTP.fetch(port: port, "/api/symbols")
                #expect(proxied.status == 200 && proxied.body == direct.body)
            }
        }

        @Test("latency is added in each direction")
        func latency() async throws {
            try await withProxy { proxy, port, _ in
                let plain = try await timed { _ = try await RawHTTP.fetch(port: port, "/health") }
                proxy.toxics.latencyMilliseconds = 150
                let slowed = try await timed { _ = try await RawHTTP.fetch(port: port, "/health") }
                #expect(slowed >= 0.3, "round trip \(slowed) s with 150 ms each way")
                #expect(slowed > plain + 0.2)
            }
        }

        @Test("bandwidth is limited")
        func bandwidth() async throws {
            try await withProxy { proxy, port, _ in
                let size = try await RawHTTP.fetch(port: port, "/api/live_data/NQ").body.utf8.count
                proxy.toxics.bandwidth = 2_000
                let took = try await timed { _ = try await RawHTTP.fetch(port: port, "/api/live_data/NQ") }
                #expect(took >= Double(size) / 2_000 * 0.8, "\(size) bytes in \(took) s at 2000 B/s")
            }
        }

        @Test("blackhole: accepted, and nothing comes back")
        func blackhole() async throws {
            try await withProxy { proxy, port, _ in
                proxy.toxics.blackhole = true
                await #expect(throws: (any Error).self) { _ = try await RawHTTP.fetch(port: port, "/health") }
                proxy.toxics.blackhole = false
                let after = try await RawHTTP.fetch(port: port, "/health")
                #expect(after.status == 200)
            }
        }

        @Test("reset: open connections are reset")
        func reset() async throws {
            try await withProxy { proxy, port, _ in
                let client = try await TestWSClient(url: "ws://127.0.0.1:\(port)/ws")
                _ = try await client.until("hello")
                try await Task.sleep(for: .milliseconds(100))
                #expect(proxy.openConnections == 1)
                proxy.resetAll()
                let code = try await client.closed()
                let clean = code == 1000 || code == 1001
                #expect(!clean, "a reset is not a clean close")
            }
        }

        @Test("cut: every connection closes and new ones are refused for the duration")
        func cut() async throws {
            try await withProxy { proxy, port, _ in
                let client = try await TestWSClient(url: "ws://127.0.0.1:\(port)/ws")
                _ = try await client.until("hello")
                proxy.cut(for: 1)
                _ = try await client.closed()
                await #expect(throws: (any Error).self) { _ = try await RawHTTP.fetch(port: port, "/health") }
                try await Task.sleep(for: .milliseconds(1_200))
                #expect(try await RawHTTP.fetch(port: port, "/health").status == 200)
            }
        }

        @Test("slow close: a close reaches the other side late")
        func slowClose() async throws {
            try await withProxy { proxy, port, _ in
                proxy.toxics.slowCloseMilliseconds = 600
                let connection = try RawHTTP(port: port)
                connection.request("/health")  // Connection: close: the server closes after answering
                let head = try await blocking { try connection.head() }
                #expect(head.status == 200)
                let took = try await timed { _ = try await blocking { connection.body(headers: head.headers) } }
                #expect(took >= 0.45, "the close arrived after \(took) s")
            }
        }
    }
}
