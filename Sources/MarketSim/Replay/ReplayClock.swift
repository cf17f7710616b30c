import Clocks
import SierraFormat

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The wall clock a replay keeps time by. Tests give a clock that oversleeps or stalls, to see
/// that a late write never delays the writes after it.
public protocol ReplayClock {
    /// Unix µs now.
    func now() -> Int64
    /// Sleeps until Unix µs `time` (or returns at once if that has passed).
    func sleep(until time: Int64)
}

/// `CLOCK_REALTIME`, with absolute sleeps: a sleep ends at its time, however late it started.
public struct SystemReplayClock: ReplayClock {
    public init() {}

    public func now() -> Int64 { WallClock.nowMicroseconds() }

    public func sleep(until time: Int64) {
        guard time > now() else { return }
        var request = timespec(tv_sec: Int(time / 1_000_000), tv_nsec: Int(time % 1_000_000) * 1000)
        while clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &request, nil) == EINTR {}
    }
}
