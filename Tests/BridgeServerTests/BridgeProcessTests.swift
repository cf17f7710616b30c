import BridgeTesting
import Foundation
import NIOConcurrencyHelpers
import SierraFormat
import Testing

extension BridgeSuites {
    @Suite("bridge executable")
    struct BridgeProcessTests {
        @Test("--help explains every flag")
        func help() async throws {
            let bridge = try BridgeProcess(["--help"])
            #expect(try await bridge.exit(timeout: 10) == 0)
            for flag in [
                "--data-dir", "--demo", "--host", "--port", "--mode", "--watch", "--safety-poll-ms", "--poll-ms", "--token", "--symbols",
                "--price-multiplier", "--depth-levels", "--max-connections", "--max-subscriptions", "--max-message-bytes", "--max-message-rate",
                "--client-backlog", "--history", "--heartbeat", "--dashboard-interval", "--idle-timeout", "--backlog", "--event-loops", "--log-level",
            ] {
                #expect(bridge.stdout.contains(flag), "\(flag) is not explained")
            }
            #expect(bridge.stdout.contains("polling-naive"))
        }

        @Test(
            "bad arguments get one clear message and a non-zero exit",
            arguments: [
                (["--data-dir", "/nonexistent/bridgelab"], "does not exist"),
                ([], "give either --data-dir DIR or --demo"),
                (["--data-dir", "/tmp", "--mode", "turbo"], "--mode must be one of"),
                (["--data-dir", "/tmp", "--port", "70000"], "--port must be between"),
                (["--data-dir", "/tmp", "--price-multiplier", "NQ=abc"], "--price-multiplier takes SYMBOL=FACTOR"),
                (["--data-dir", "/tmp", "--watch", "magic"], "--watch must be inotify or poll"),
                (["--data-dir", "/tmp", "--port-file", "/nonexistent/bridgelab/port.json"], "--port-file: no such folder"),
                (["--data-dir", "/tmp", "--event-loops", "0"], "--event-loops must be between 1 and 256"),
            ]
        )
        func badArguments(arguments: [String], message: String) async throws {
            let bridge = try BridgeProcess(arguments)
            let status = try await bridge.exit(timeout: 10)
            #expect(status != nil && status != 0)
            try await Task.sleep(for: .milliseconds(50))
            #expect(bridge.stderr.contains(message), "\(bridge.stderr)")
            #expect(!bridge.stderr.contains("Fatal error") && !bridge.stderr.contains("Stack dump"))
        }

        @Test("--port-file: a bridge on port 0 writes the port it listens on, with its pid, as one JSON object")
        func portFile() async throws {
            let folder = NSTemporaryDirectory() + "bridgelab-portfile-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let path = folder + "/port.json"
            // A stale file from an earlier run is never read as this one's.
            try Data("{\"port\":1}".utf8).write(to: URL(fileURLWithPath: path))
            let bridge = try BridgeProcess(["--data-dir", folder, "--port", "0", "--port-file", path, "--log-level", "warning"])
            let printed = try await bridge.port()
            var written: JSON = [:]
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                written = parseJSON(String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self))
                if written["port"] as? Int != 1, written["port"] != nil { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(written["port"] as? Int == printed)
            #expect(written["pid"] as? Int == Int(bridge.process.processIdentifier))
            #expect(written["host"] as? String == "127.0.0.1" && written["mode"] as? String == "event")
            #expect(try await RawHTTP.fetch(port: printed, "/health").status == 200)
            bridge.signal(SIGTERM)
            #expect(try await bridge.exit(timeout: 10) == 0)
        }

        @Test("--demo serves live data with one command; SIGTERM closes clients with 1001 and exits cleanly")
        func demoAndShutdown() async throws {
            let bridge = try BridgeProcess(["--demo", "--port", "0", "--demo-rate", "500"])
            let port = try await bridge.port()
            #expect(bridge.stdout.contains("mode event"))
            let first = parseJSON(try await RawHTTP.fetch(port: port, "/api/live_data/NQ").body)["seq"] as? Int ?? -1
            try await Task.sleep(for: .milliseconds(800))
            let second = parseJSON(try await RawHTTP.fetch(port: port, "/api/live_data/NQ").body)["seq"] as? Int ?? -1
            #expect(second > first, "live data flows: \(first) -> \(second)")

            let client = try await TestWSClient(url: "ws://127.0.0.1:\(port)/ws/live_data/ES")
            _ = try await client.until("trade")
            bridge.signal(SIGTERM)
            #expect(try await client.closed() == 1001)
            // A wait, not a speed check: the exit status is the behaviour.
            #expect(try await bridge.exit(timeout: 20) == 0)
        }

        @Test("a client resumes without loss across a bridge killed with SIGKILL and restarted")
        func resumeAcrossRestart() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES"])
            defer { folder.cleanup() }
            let first = try BridgeProcess(["--data-dir", folder.path, "--port", "0"])
            let port1 = try await first.port()
            let client = try await TestWSClient(url: "ws://127.0.0.1:\(port1)/ws")
            try await client.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades"]])
            let (snapshot, _) = try await client.until("snapshot")
            let epoch = try #require(snapshot["epoch"] as? String)
            try await folder.stream(seconds: 0.5, steps: 5)
            let seen = try await client.collect("trade", count: trades(in: try folder.records("NQZ25-CME"), after: snapshot["seq"] as! Int).count)
            let lastSeen = try #require(seen.last?["seq"] as? Int)

            first.signal(SIGKILL)
            _ = try await first.exit(timeout: 5)
            try folder.advance(by: 1.5)  // written while no bridge runs

            let second = try BridgeProcess(["--data-dir", folder.path, "--port", "0"])
            defer { second.signal(SIGTERM) }
            let port2 = try await second.port()
            let again = try await TestWSClient(url: "ws://127.0.0.1:\(port2)/ws")
            defer { Task { await again.close() } }
            try await again.send(["op": "subscribe", "symbols": ["NQ"], "channels": ["trades"], "resume": ["NQ": ["epoch": epoch, "seq": lastSeen]]])
            let (resumed, before) = try await again.until("resumed")
            #expect(resumed["epoch"] as? String == epoch, "the restarted bridge names the file's contents the same way")
            let replayed = before.filter { $0["type"] as? String == "trade" }
            expectTrades(replayed, match: try folder.records("NQZ25-CME"), after: lastSeen)
            #expect(!replayed.isEmpty)
        }
    }
}
