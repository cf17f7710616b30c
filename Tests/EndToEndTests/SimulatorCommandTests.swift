import BridgeTesting
import Foundation
import SierraFormat
import Testing

/// Runs the built `simulator` executable as a user would.
@Suite("simulator command line", .serialized)
struct SimulatorCommandTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func executable(_ name: String) throws -> URL {
        for configuration in ["debug", "release"] {
            let url = packageRoot.appendingPathComponent(".build/\(configuration)/\(name)")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw CommandError.notBuilt(name)
    }

    enum CommandError: Error { case notBuilt(String) }

    static func run(_ executable: URL, _ arguments: [String]) throws -> CommandResult {
        try runCommand(executable, arguments)
    }

    func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "bridgelab-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("writes a folder that `simulator inspect` and an independent reader decode the same way")
    func writesDecodableFolder() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let simulator = try Self.executable("simulator")
        let result = try Self.run(
            simulator,
            [
                "--data-dir", folder, "--symbols", "NQ,ES,VX", "--rate", "3000", "--duration", "2", "--seed", "7", "--flush-ms", "100",
                "--split-writes", "0.3",
            ]
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("wrote"))

        let python = try Self.run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", Self.packageRoot.appendingPathComponent("Tests/tools/read_sierra.py").path, folder]
        )
        #expect(python.status == 0, "\(python.stderr)")
        let independent = try JSONSerialization.jsonObject(with: Data(python.stdout.utf8)) as! [String: [String: Any]]
        #expect(independent.keys.filter { $0.hasSuffix(".scid") }.count == 3)
        #expect(independent.keys.filter { $0.hasSuffix(".depth") }.count == 3)

        for (name, summary) in independent {
            let path = folder + "/" + name
            if name.hasSuffix(".scid") {
                let ours = try IntradayFormat.readFile(atPath: path)
                #expect(ours.records.count == summary["count"] as! Int, "\(name)")
                #expect(ours.partialBytes == 0)
                let last = summary["last"] as! [String: Any]
                #expect(ours.records.last?.dateTime.microseconds == (last["sc_us"] as! NSNumber).int64Value)
                #expect(ours.records.last?.close == (last["close"] as! NSNumber).floatValue)
                #expect(ours.records.reduce(0) { $0 + Int($1.totalVolume) } == summary["volume"] as! Int)

                let inspected = try Self.run(simulator, ["inspect", path, "--json"])
                #expect(inspected.status == 0)
                let json = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as! [String: Any]
                #expect(json["record_count"] as? Int == ours.records.count)
            } else {
                let ours = try DepthFormat.readFile(atPath: path)
                #expect(ours.records.count == summary["count"] as! Int, "\(name)")
                #expect(ours.records.reduce(0) { $0 + Int($1.quantity) } == summary["volume"] as! Int)
            }
        }
    }

    @Test("history: the files start with a past that the independent reader decodes exactly, and the live records follow")
    func history() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let simulator = try Self.executable("simulator")
        let result = try Self.run(
            simulator,
            ["--data-dir", folder, "--symbols", "NQ,VX", "--rate", "500", "--duration", "1", "--flush-ms", "100", "--history-records", "120000"]
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("history:") && result.stdout.contains("120000 records"), "\(result.stdout)")
        let python = try Self.run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", Self.packageRoot.appendingPathComponent("Tests/tools/read_sierra.py").path, folder]
        )
        #expect(python.status == 0, "\(python.stderr)")
        let independent = try JSONSerialization.jsonObject(with: Data(python.stdout.utf8)) as! [String: [String: Any]]
        let scid = independent.filter { $0.key.hasSuffix(".scid") }
        #expect(scid.count == 2)
        for (name, summary) in scid {
            let ours = try IntradayFormat.readFile(atPath: folder + "/" + name).records
            #expect(ours.count == summary["count"] as! Int, "\(name)")
            #expect(ours.count > 120_000, "\(name): no live records after the history")
            #expect(ours.reduce(0) { $0 + Int($1.totalVolume) } == summary["volume"] as! Int)
            let last = summary["last"] as! [String: Any]
            #expect(ours.last?.dateTime.microseconds == (last["sc_us"] as! NSNumber).int64Value)
            // One time line: the past, then the live session.
            #expect(zip(ours, ours.dropFirst()).allSatisfy { $0.dateTime.microseconds <= $1.dateTime.microseconds }, "\(name) out of order")
        }
        // A folder that already holds records: one clear error, exit 1.
        let again = try Self.run(simulator, ["--data-dir", folder, "--symbols", "NQ", "--duration", "1", "--history-days", "2"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("history needs empty files"), "\(again.stderr)")
    }

    @Test("replay: a capture written at once, replayed as fast as it can, decodes to the same records by the independent reader")
    func replay() throws {
        let capture = try temporaryFolder()
        let target = try temporaryFolder()
        defer {
            try? FileManager.default.removeItem(atPath: capture)
            try? FileManager.default.removeItem(atPath: target)
        }
        let simulator = try Self.executable("simulator")
        // The session's live part starts 30 s ago, on a whole second; the replay's window is it.
        let sessionStart = (Int64(Date().timeIntervalSince1970) - 30) * 1_000_000
        let written = try Self.run(
            simulator,
            [
                "--data-dir", capture, "--symbols", "NQ,ES", "--rate", "400", "--duration", "30", "--at-once", "--history-records", "50000",
                "--event", "burst:10:8:3", "--flush-ms", "100", "--start-unix-us", String(sessionStart), "-q",
            ]
        )
        let window = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(sessionStart) / 1e6))
        #expect(written.status == 0, "\(written.stderr)")
        let replayed = try Self.run(
            simulator,
            [
                "replay", "--from", capture, "--data-dir", target, "--speed", "0", "--copy-past", "--flush-ms", "50", "--symbols", "NQ,ES",
                "--start", window,
            ]
        )
        #expect(replayed.status == 0, "\(replayed.stderr)")
        #expect(replayed.stdout.contains("replaying") && replayed.stdout.contains("past records copied first"), "\(replayed.stdout)")
        let reader = Self.packageRoot.appendingPathComponent("Tests/tools/read_sierra.py").path
        func independent(_ folder: String) throws -> [String: [String: Any]] {
            let python = try Self.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", reader, folder])
            #expect(python.status == 0, "\(python.stderr)")
            return try JSONSerialization.jsonObject(with: Data(python.stdout.utf8)) as! [String: [String: Any]]
        }
        let original = try independent(capture).filter { $0.key.hasSuffix(".scid") }
        let copy = try independent(target).filter { $0.key.hasSuffix(".scid") }
        #expect(Set(original.keys) == Set(copy.keys) && original.count == 2)
        for (name, summary) in original {
            #expect(copy[name]?["count"] as? Int == summary["count"] as? Int, "\(name)")
            #expect(copy[name]?["volume"] as? Int == summary["volume"] as? Int, "\(name)")
            // The past is the capture's own; the replayed session ends later, at the replay's now.
            let first = (copy[name]?["first"] as? [String: Any])?["sc_us"] as? NSNumber
            #expect(first == (summary["first"] as! [String: Any])["sc_us"] as? NSNumber)
            let last = ((copy[name]?["last"] as? [String: Any])?["sc_us"] as? NSNumber)?.int64Value ?? 0
            #expect(last > ((summary["last"] as! [String: Any])["sc_us"] as! NSNumber).int64Value)
        }
        // Bad input: a clear sentence, exit 1, nothing written.
        let nowhere = target + "/never"
        for (arguments, message) in [
            (["--from", capture + "/missing"], "no such folder"),
            (["--from", capture, "--symbols", "VX"], "no .scid file for 'VX'"),
            (["--from", capture, "--start", "2999-01-01"], "after the data's end"),
            (["--from", capture, "--start", "soon"], "not an ISO-8601 time"),
            (["--from", capture, "--speed", "-2"], "speed must be a positive factor"),
        ] {
            let refused = try Self.run(simulator, ["replay", "--data-dir", nowhere] + arguments)
            #expect(refused.status == 1, "\(arguments)")
            #expect(refused.stderr.contains(message), "\(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: nowhere))
    }

    @Test("SIGTERM stops a run cleanly with every buffered record flushed")
    func stopsOnSigterm() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let process = Process()
        process.executableURL = try Self.executable("simulator")
        // A 60 s flush interval: nothing reaches the file unless the stop path flushes it.
        process.arguments = ["--data-dir", folder, "--symbols", "NQ", "--rate", "500", "--flush-ms", "60000", "--no-depth", "-q"]
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        let scid = try #require(names.first { $0.hasSuffix(".scid") })
        let decoded = try IntradayFormat.readFile(atPath: folder + "/" + scid)
        #expect(decoded.records.count > 100)
        let journal = try String(contentsOfFile: folder + "/bridgelab-journal.tsv", encoding: .utf8)
        #expect(journal.contains("\tstop\t"))
    }

    @Test(
        "bad arguments get a clear message and a non-zero exit, no stack trace",
        arguments: [
            (["--data-dir", "/tmp/bridgelab-never", "--symbols", "QQ"], "unknown symbol root 'QQ'"),
            (["--data-dir", "/tmp/bridgelab-never", "--rate=-5"], "rate must be a positive"),
            (["--data-dir", "/proc/bridgelab/nope"], "cannot write to data folder"),
            (["--data-dir", "/tmp/bridgelab-never", "--event", "explode:3"], "unknown event 'explode'"),
            (["--symbols", "NQ"], "Missing expected argument '--data-dir"),
            (["inspect", "/nonexistent.scid"], "open failed"),
        ]
    )
    func badArguments(arguments: [String], message: String) throws {
        let result = try Self.run(try Self.executable("simulator"), arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("Stack dump") && !result.stderr.contains("Fatal error"))
    }
}
