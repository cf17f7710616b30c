import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads what the kernel says of a process and of the machine, from `/proc`.
public enum ProcReader {
    /// Clock ticks per second (`utime`/`stime` in /proc/PID/stat count these).
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    public struct ProcessFigures: Sendable, Equatable {
        /// Cumulative CPU seconds.
        public var userSeconds: Double
        public var systemSeconds: Double
        public var threads: Int
        public var residentMB: Double
        public var peakResidentMB: Double
        /// CPU seconds of its children that ended and were waited for (`cutime` + `cstime`).
        public var reapedChildrenSeconds: Double = 0
        /// Processes these figures add up (1 for one process).
        public var processes = 1
        /// Open descriptors (filled by ``tree(_:)``).
        public var descriptors: Int?
    }

    /// CPU, threads and memory of `pid`, or nil if it is gone.
    public static func process(_ pid: Int32) -> ProcessFigures? {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "pid (comm)": state is field 3, utime 14, stime 15, num_threads 20.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 17, let utime = Double(fields[11]), let stime = Double(fields[12]), let threads = Int(fields[17]) else { return nil }
        let reaped = ((Double(fields[13]) ?? 0) + (Double(fields[14]) ?? 0)) / ticksPerSecond
        var rss = 0.0
        var hwm = 0.0
        if let status = read("/proc/\(pid)/status") {
            for line in status.split(separator: "\n") {
                if line.hasPrefix("VmRSS:") { rss = kilobytes(line) / 1024 }
                if line.hasPrefix("VmHWM:") { hwm = kilobytes(line) / 1024 }
            }
        }
        return ProcessFigures(
            userSeconds: utime / ticksPerSecond,
            systemSeconds: stime / ticksPerSecond,
            threads: threads,
            residentMB: rss,
            peakResidentMB: hwm,
            reapedChildrenSeconds: reaped
        )
    }

    /// `root` and every process descended from it, from the kernel's `children` lists.
    public static func descendants(of root: Int32) -> [Int32] {
        var result: [Int32] = [root]
        var next = 0
        while next < result.count, result.count < 4096 {
            let pid = result[next]
            next += 1
            for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
                guard let children = read("/proc/\(pid)/task/\(task)/children") else { continue }
                for child in children.split(separator: " ") {
                    if let child = Int32(child.trimmingCharacters(in: .whitespacesAndNewlines)), !result.contains(child) { result.append(child) }
                }
            }
        }
        return result
    }

    /// A process tree's figures added up: a bridge that forks workers (uvicorn, gunicorn) or
    /// runs under a reloader costs what all of them cost. CPU counts the live processes' time
    /// and the time of the children they reaped, so a worker that ends keeps counting; memory
    /// is the sum of resident sets (pages shared between forks count once per process: an upper
    /// bound).
    public static func tree(_ root: Int32) -> ProcessFigures? {
        guard var total = process(root) else { return nil }
        total.descriptors = descriptors(root)
        let members = descendants(of: root)
        for pid in members.dropFirst() {
            guard let figures = process(pid) else { continue }
            total.userSeconds += figures.userSeconds
            total.systemSeconds += figures.systemSeconds
            total.threads += figures.threads
            total.residentMB += figures.residentMB
            total.peakResidentMB += figures.peakResidentMB
            total.processes += 1
            total.descriptors = (total.descriptors ?? 0) + (descriptors(pid) ?? 0)
        }
        // Reaped children's time: the root's own tally (theirs are inside it).
        total.userSeconds += total.reapedChildrenSeconds
        return total
    }

    /// Open descriptors of `pid`.
    public static func descriptors(_ pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// The whole machine's CPU: busy and total jiffies over every core, and the core count.
    public struct MachineCPU: Sendable, Equatable {
        public var busy: Double
        public var total: Double

        /// Busy share of every core between two readings, 0–100.
        public func percent(since earlier: MachineCPU) -> Double {
            let total = self.total - earlier.total
            return total > 0 ? (busy - earlier.busy) / total * 100 : 0
        }
    }

    public static func machineCPU() -> MachineCPU? {
        guard let stat = read("/proc/stat"), let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard values.count >= 5 else { return nil }
        // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
        let total = values.prefix(8).reduce(0, +)
        return MachineCPU(busy: total - values[3] - values[4], total: total)
    }

    static func kilobytes(_ line: Substring) -> Double {
        Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// A process's CPU time so far, in nanoseconds: the sum of its threads' run time
    /// (`/proc/PID/task/TID/schedstat`, first field), finer than the 10 ms ticks of
    /// `/proc/PID/stat`. Nil when the process is not there.
    public static func runNanoseconds(_ pid: Int32) -> UInt64? {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
        var total: UInt64 = 0
        for thread in threads {
            guard let text = read("/proc/\(pid)/task/\(thread)/schedstat"), let first = text.split(separator: " ").first,
                let nanoseconds = UInt64(first)
            else { continue }
            total += nanoseconds
        }
        return total
    }

    /// A whole file, read until end of file: `/proc` files report a size of 0 and hand out a page
    /// per read, so a single read (or a size-based one) would cut `/proc/net/tcp` short.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
