import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// This process's CPU time and peak memory, so a reader can see whether the generator, not the
/// bridge, was the limit.
struct ResourceUsage {
    var userSeconds: Double
    var systemSeconds: Double
    var wallSeconds: Double
    var peakResidentMegabytes: Double

    static func now() -> ResourceUsage {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ResourceUsage(
            userSeconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            systemSeconds: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6,
            wallSeconds: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9,
            peakResidentMegabytes: Double(usage.ru_maxrss) / 1024
        )
    }

    func since(_ before: ResourceUsage) -> ResourceUsage {
        ResourceUsage(
            userSeconds: userSeconds - before.userSeconds,
            systemSeconds: systemSeconds - before.systemSeconds,
            wallSeconds: wallSeconds - before.wallSeconds,
            peakResidentMegabytes: peakResidentMegabytes
        )
    }

    /// CPU used as a percentage of one core.
    var cpuPercent: Double {
        wallSeconds > 0 ? (userSeconds + systemSeconds) / wallSeconds * 100 : 0
    }
}

/// Raises the open-file limit to its hard maximum: ten thousand sockets need it.
public func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
}
