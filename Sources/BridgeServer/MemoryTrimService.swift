import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Hands freed memory back to the system after connections close. glibc's allocator keeps what a
/// closed connection freed inside its arenas (only the top of a heap is returned by itself), so
/// after a thousand clients leave, resident memory stays where it was at their peak: memory the
/// bridge no longer uses, but the machine still counts. Once `threshold` connections have closed
/// since the last time, `malloc_trim(0)` returns the free pages of every arena. Checked once a
/// second, never on an event loop; a bridge whose connections stay open never trims.
struct MemoryTrimService: Service {
    let registry: ConnectionRegistry
    let threshold: Int
    let logger: Logger
    var period: Duration = .seconds(1)
    /// What trims (tests count the calls).
    var trim: @Sendable () -> Bool = { MemoryTrimService.trim() }

    func run() async throws {
        // A service that returns ends the group: one with nothing to do waits for the shutdown.
        guard threshold > 0 else {
            try? await gracefulShutdown()
            return
        }
        let registry = registry
        try? await cancelWhenGracefulShutdown {
            var trimmedAt = 0
            while true {
                try await Task.sleep(for: period)
                let closed = registry.closedCount
                guard closed - trimmedAt >= threshold else { continue }
                trimmedAt = closed
                let released = trim()
                logger.debug("memory trimmed after \(closed) connections closed", metadata: ["released": "\(released)"])
            }
        }
    }

    /// glibc's `int malloc_trim(size_t)`, looked up at run time: `malloc.h` is not in Swift's
    /// Glibc module (nil with another C library).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// Whether `malloc_trim` was found.
    static var isAvailable: Bool { mallocTrim != nil }

    /// Whether any memory was returned.
    @discardableResult
    static func trim() -> Bool {
        mallocTrim?(0) == 1
    }
}
