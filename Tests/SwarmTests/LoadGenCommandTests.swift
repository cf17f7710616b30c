import BridgeTesting
import Foundation
import Testing

extension BridgeSuites {
    @Suite("loadgen executable")
    struct LoadGenProcessTests {
        static func loadgen(_ arguments: [String]) async throws -> (status: Int32?, out: String, err: String) {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let process = Process()
            process.executableURL = root.appendingPathComponent(".build/debug/loadgen")
            process.arguments = arguments
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let (o, e) = try await blocking {
                (out.fileHandleForReading.readDataToEndOfFile(), err.fileHandleForReading.readDataToEndOfFile())
            }
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }

        @Test("--help explains every option")
        func help() async throws {
            let result = try await Self.loadgen(["--help"])
            #expect(result.status == 0)
            for option in [
                "--url", "--clients", "--kind", "--symbols", "--channels", "--duration", "--arrival-rate", "--ramp-down", "--poll-rate", "--data-dir",
                "--out", "--token", "--proxy", "--fault",
            ] {
                #expect(result.out.contains(option), "\(option)")
            }
        }

        @Test(
            "bad options and an unreachable bridge get a clear message",
            arguments: [
                (["--url", "ws://10.1.2.3:8080"], "loopback"),
                (["--url", "ws://127.0.0.1:8080", "--kind", "telepathy"], "unknown kind 'telepathy'"),
                (["--url", "ws://127.0.0.1:8080", "--clients", "0"], "--clients must be"),
                (["--url", "ws://127.0.0.1:8080", "--fault", "meteor:3"], "unknown kind 'meteor'"),
                (["--url", "ws://127.0.0.1:1", "--duration", "1"], "cannot reach a bridge"),
            ]
        )
        func errors(arguments: [String], message: String) async throws {
            let result = try await Self.loadgen(arguments)
            #expect(result.status != 0)
            #expect(result.err.contains(message), "\(result.err)")
        }
    }
}
