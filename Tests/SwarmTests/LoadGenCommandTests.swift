import BridgeTesting
import Foundation
import Testing

extension BridgeSuites {
    @Suite("loadgen executable")
    struct LoadGenProcessTests {
        static func loadgen(_ arguments: [String]) async throws -> CommandResult {
            try await runCommand(builtExecutable("loadgen"), arguments)
        }

        @Test("--help explains every option")
        func help() async throws {
            let result = try await Self.loadgen(["--help"])
            #expect(result.status == 0)
            for option in [
                "--url", "--clients", "--kind", "--symbols", "--channels", "--duration", "--arrival-rate", "--ramp-down", "--poll-rate", "--data-dir",
                "--out", "--token", "--proxy", "--fault",
            ] {
                #expect(result.stdout.contains(option), "\(option)")
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
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }
}
