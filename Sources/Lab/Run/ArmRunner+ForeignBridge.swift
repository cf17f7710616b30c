import BridgeClient
import Foundation
import Processes
import Swarm

#if canImport(Glibc)
import Glibc
#endif

/// Starting a bridge BridgeLab did not build: its own command on a port the runner picked, ready
/// when its health route answers 200 (docs/PROFILES.md).
extension ArmRunner {
    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RunnerError("cannot pick a free port: socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw RunnerError("cannot pick a free port: bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The placeholders of a foreign bridge's command, environment and URLs.
    func foreignPlaceholders(data: String, port: Int) -> [String: String] {
        [
            "data_dir": data, "port": String(port), "host": "127.0.0.1",
            "package": scenario.packageFolder ?? FileManager.default.currentDirectoryPath,
            "bin_dir": executables.directory,
        ]
    }

    /// The program to run: a path (relative to the working directory), or a name on `PATH`.
    static func resolveProgram(_ program: String, workingDirectory: String) throws -> String {
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : workingDirectory + "/" + program
            guard FileManager.default.isExecutableFile(atPath: path) else {
                let hint = path.contains("/.venv/") ? " (a virtual environment: run the example's setup.sh first)" : ""
                throw RunnerError("the bridge command's program \(path) does not exist or is not executable\(hint)")
            }
            return path
        }
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        guard let path = folders.map({ "\($0)/\(program)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw RunnerError("the bridge command's program '\(program)' is not on PATH")
        }
        return path
    }

    func makeForeignBridge(_ foreign: ForeignBridge, data: String, port: Int, record: inout ArmRecord) throws -> ChildProcess {
        let values = foreignPlaceholders(data: data, port: port)
        let workingDirectory = URLTemplate.fill(foreign.workingDirectory ?? "{package}", values)
        let words = foreign.command.map { URLTemplate.fill($0, values) }
        let program = try Self.resolveProgram(words[0], workingDirectory: workingDirectory)
        // A descriptor limit or an allocator is set by `bridgelab launch`, as for the reference bridge.
        let launch = scenario.launch(for: arm)
        record.launch = launch
        let (executable, arguments) = try launch.commandLine(
            launcher: executables.bridgelab,
            executable: program,
            arguments: Array(words.dropFirst())
        )
        let bridge = ChildProcess(
            name: "bridge",
            executable: executable,
            arguments: arguments,
            logPath: directory + (record.commands["bridge"] == nil ? "/bridge.log" : "/bridge-restart-\(Self.now()).log"),
            environment: foreign.environment.mapValues { URLTemplate.fill($0, values) },
            workingDirectory: workingDirectory
        )
        if record.commands["bridge"] == nil {
            record.commands["bridge"] = bridge.commandLine
            record.foreignBridge = foreign.command.joined(separator: " ")
        }
        return bridge
    }

    /// The URL that says the arm's bridge serves: a foreign bridge's `ready`, else its profile's
    /// health route, else the reference bridge's `/health`.
    func readyURL(port: Int, profile: BridgeProfile?) -> String {
        let values = foreignPlaceholders(data: "", port: port)
        if let ready = arm.bridge?.ready { return URLTemplate.fill(ready, values) }
        if let profile { return URLTemplate.fill(profile.health, values.merging(["symbol": plan.symbols?.first ?? "NQ"]) { $1 }) }
        return "http://127.0.0.1:\(port)/health"
    }

    /// Waits until `url` answers 200, or says why it never did: the command ended (with its last
    /// output), nothing ever listened on the port, or the route never answered 200.
    func waitUntilReady(_ bridge: ChildProcess, url: String, port: Int, timeout: Double) async throws {
        let path = URLTemplate.path(of: url)
        let probe = BridgeProbe(port: port)
        let deadline = Date().addingTimeInterval(timeout)
        var listened = false
        var last = "no answer"
        while Date() < deadline {
            do {
                let response = try await probe.get(path)
                listened = true
                if response.status == 200 { return }
                last = "status \(response.status)"
            } catch {
                if "\(error)".contains("did not answer") { listened = true }
            }
            guard bridge.isRunning else {
                throw RunnerError(
                    "the bridge command \(bridge.ending?.description ?? "ended") before \(url) answered: \(bridge.commandLine)\n  its last output:\n\(bridge.logTail(lines: 8))"
                )
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if !listened {
            throw RunnerError(
                "nothing listened on port \(port) within \(Int(timeout)) s of starting: \(bridge.commandLine) (does it take its port from {port}?)\n  its last output:\n\(bridge.logTail(lines: 8))"
            )
        }
        throw RunnerError("\(url) never answered 200 within \(Int(timeout)) s (last: \(last)): check the profile's health or the arm's ready URL")
    }
}
