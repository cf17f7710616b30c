import Foundation
import Testing

@testable import Lab

#if canImport(Glibc)
import Glibc
#endif

@Suite("sampling /proc", .serialized)
struct SamplingTests {
    /// A child that waits for "go", then allocates and touches `megabytes`, spends exactly
    /// `cpu` seconds of CPU, reports its own CPU time, and idles until killed.
    static let script = """
        import sys, time
        megabytes = int(sys.argv[1]); cpu = float(sys.argv[2])
        print("ready", flush=True)
        sys.stdin.readline()
        t0 = time.process_time()
        block = b'\\x01' * (megabytes * 1024 * 1024)
        while time.process_time() - t0 < cpu:
            pass
        print(time.process_time() - t0, flush=True)
        time.sleep(30)
        """

    /// The child's next line, read on a thread of its own (a blocking read must not hold one of
    /// the concurrency pool's threads).
    static func line(from output: Pipe) async throws -> String {
        try await onThread {
            var line = Data()
            while let byte = try? output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
            return String(decoding: line, as: UTF8.self)
        }
    }

    @Test("the sampler's CPU and memory of a child agree with what the child did (within 5 %)")
    func knownChild() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, "200", "1.5"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        defer { process.terminate() }
        let pid = process.processIdentifier
        let sampler = ResourceSampler(port: 1, interval: .milliseconds(100)) { ResourceSampler.Targets(loadgen: pid) }
        let sampling = Task { await sampler.run() }
        @Sendable func line() async throws -> String { try await Self.line(from: output) }
        // Idle and fully started: the baseline.
        #expect(try await line() == "ready")
        try await Task.sleep(for: .milliseconds(500))
        let base = sampler.latest?.loadgenRSSMB ?? 0
        input.fileHandleForWriting.write(Data("go\n".utf8))
        // The child's own account of the CPU it spent, once it has spent it.
        let reported = Double(try await line()) ?? -1
        try await Task.sleep(for: .milliseconds(400))
        sampling.cancel()
        await sampling.value
        let samples = sampler.all
        #expect(reported >= 1.5)
        // CPU: the per-sample percentages integrated over time are the CPU seconds spent.
        var cpuSeconds = 0.0
        for (earlier, later) in zip(samples, samples.dropFirst()) {
            cpuSeconds += later.loadgenPercent / 100 * Double(later.at - earlier.at) / 1e6
        }
        #expect(abs(cpuSeconds - reported) / reported < 0.05, "sampled \(cpuSeconds) s, the child spent \(reported) s")
        // Memory: the peak above the idle baseline is the block it touched.
        let peak = samples.map(\.loadgenRSSMB).max() ?? 0
        #expect(abs((peak - base) - 200) / 200 < 0.05, "sampled \(peak - base) MB over a \(base) MB baseline, the child touched 200 MB")
        // And the machine-wide CPU saw at least that child's share.
        #expect(samples.contains { $0.machinePercent > 0 })
    }

    /// A parent that, on "go", forks three workers: two spend 1 s of CPU with 50 MB each and
    /// stay; one spends 0.5 s and exits, and the parent reaps it; then the parent says "done".
    static let forkingScript = """
        import os, sys, time
        print("ready", flush=True)
        sys.stdin.readline()
        done_r, done_w = os.pipe()
        def worker(cpu, megabytes, stay):
            block = b'\\x01' * (megabytes * 1024 * 1024)
            t0 = time.process_time()
            while time.process_time() - t0 < cpu:
                pass
            os.write(done_w, b'x')
            if stay:
                time.sleep(30)
            os._exit(0)
        children = []
        for cpu, megabytes, stay in [(1.0, 50, True), (1.0, 50, True), (0.5, 1, False)]:
            pid = os.fork()
            if pid == 0:
                worker(cpu, megabytes, stay)
            children.append(pid)
        for _ in range(3):
            os.read(done_r, 1)
        os.waitpid(children[2], 0)
        print("done", flush=True)
        time.sleep(30)
        """

    @Test("a bridge that forks workers is sampled as its whole tree: every worker's CPU, a reaped one's too, and their memory")
    func processTree() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.forkingScript]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let pid = process.processIdentifier
        defer {
            for child in ProcReader.descendants(of: pid).dropFirst() { kill(child, SIGKILL) }
            process.terminate()
        }
        let sampler = ResourceSampler(port: 1, interval: .milliseconds(100)) { ResourceSampler.Targets(bridge: pid) }
        let sampling = Task { await sampler.run() }
        @Sendable func line() async throws -> String { try await Self.line(from: output) }
        #expect(try await line() == "ready")
        try await Task.sleep(for: .milliseconds(500))
        let before = try #require(sampler.latest)
        #expect(before.bridgeProcesses == 1)
        input.fileHandleForWriting.write(Data("go\n".utf8))
        #expect(try await line() == "done")
        try await Task.sleep(for: .milliseconds(400))
        sampling.cancel()
        await sampling.value
        let samples = sampler.all
        // From "go" on (python3's own start-up may run helpers, a pyenv shim's for one).
        let afterGo = samples.filter { $0.at > before.at }
        var cpuSeconds = 0.0
        for (earlier, later) in zip(afterGo, afterGo.dropFirst()) {
            cpuSeconds += later.bridgePercent / 100 * Double(later.at - earlier.at) / 1e6
        }
        // 1 + 1 + 0.5 s in the workers, within 15 % (forks count too; a loaded machine skews ticks).
        #expect(abs(cpuSeconds - 2.5) / 2.5 < 0.15, "sampled \(cpuSeconds) s of CPU for the tree, the workers spent 2.5 s")
        // The parent and its three workers, then the two that stay once the third is reaped.
        #expect(afterGo.map(\.bridgeProcesses).max() == 4)
        #expect(samples.last?.bridgeProcesses == 3)
        let peak = samples.map(\.bridgeRSSMB).max() ?? 0
        #expect(peak - before.bridgeRSSMB > 95, "the tree's memory grew \(peak - before.bridgeRSSMB) MB; the two workers touched 100 MB")
        #expect((samples.last?.bridgeDescriptors ?? 0) > before.bridgeDescriptors)
    }

    @Test("/proc/net/tcp lines are counted by state for the local port only")
    func parseTable() {
        let table = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
               1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
               2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
               3: 0100007F:1F90 0100007F:C351 08 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
               4: 0100007F:1F90 0100007F:C352 06 00000000:00000000 00:00000000 00000000     0        0 0 0 0000000000000000
            """
        let states = SocketStates.parse(tables: [table], port: 8080)
        #expect(states.counts == ["LISTEN": 1, "ESTABLISHED": 1, "CLOSE_WAIT": 1, "TIME_WAIT": 1])
        #expect(SocketStates.parse(tables: [table], port: 50000).counts == ["ESTABLISHED": 1])
        #expect(SocketStates.parse(tables: [table], port: 8080, inodes: ["2", "4"]).counts == ["ESTABLISHED": 1, "CLOSE_WAIT": 1])
    }

    @Test("live sockets: established connections, then CLOSE_WAIT when clients leave and the server does not close")
    func liveSockets() throws {
        let listener = LoopbackListener()
        defer { close(listener.fd) }
        let port = listener.port
        var clients: [Int32] = []
        var accepted: [Int32] = []
        for _ in 0..<25 {
            clients.append(listener.connectClient())
            accepted.append(accept(listener.fd, nil, nil))
        }
        defer { for socket in accepted { close(socket) } }
        // This process's own sockets only: under a busy test run another socket may have the
        // same port number (a client's ephemeral port, another test's connection).
        let own = SocketStates.inodes(of: getpid())
        let open = SocketStates.read(port: port, address: SocketStates.loopbackIPv4, inodes: own)
        #expect(open["LISTEN"] == 1)
        #expect(open["ESTABLISHED"] == 25)
        for client in clients { close(client) }
        usleep(100_000)
        let left = SocketStates.read(port: port, address: SocketStates.loopbackIPv4, inodes: SocketStates.inodes(of: getpid()))
        #expect(left["CLOSE_WAIT"] == 25)
        #expect(left["ESTABLISHED"] == 0)
    }

    @Test("a whole /proc file is read, not its first page")
    func wholeProcFile() throws {
        // /proc/self/smaps is many pages long for any process.
        let text = try #require(ProcReader.read("/proc/self/smaps"))
        #expect(text.utf8.count > 8192)
        #expect(text.hasSuffix("\n"))
    }

    @Test("process figures of this process are sensible")
    func ownFigures() throws {
        let figures = try #require(ProcReader.process(getpid()))
        #expect(figures.threads >= 1)
        #expect(figures.residentMB > 1)
        #expect(figures.peakResidentMB >= figures.residentMB)
        #expect(ProcReader.descriptors(getpid()).map { $0 >= 3 } == true)
        #expect(ProcReader.process(999_999_999) == nil)
    }
}
