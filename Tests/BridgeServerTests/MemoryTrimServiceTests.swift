import BridgeCore
import Logging
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

@testable import BridgeServer

@Suite("MemoryTrimService: freed memory handed back after connections close")
struct MemoryTrimServiceTests {
    @Test("no trim while fewer than the threshold have closed; one once they have; none again until as many more close")
    func trimsAfterThreshold() async throws {
        let metrics = BridgeMetrics(factory: NOOPMetricsHandler.instance)
        let registry = ConnectionRegistry(maxConnections: 1_000, backlog: 10, metrics: metrics)
        let trims = NIOLockedValueBox(0)
        var service = MemoryTrimService(registry: registry, threshold: 10, logger: Logger(label: "trim-test"))
        service.period = .milliseconds(20)
        service.trim = {
            trims.withLockedValue { $0 += 1 }
            return true
        }
        func closeConnections(_ count: Int) {
            for _ in 0..<count {
                #expect(registry.reserve())
                registry.release(registry.open(transport: "ws"), reason: "closed")
            }
        }
        func waitForTrims(_ expected: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while trims.withLockedValue({ $0 }) < expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        }
        let group = ServiceGroup(services: [service], logger: Logger(label: "trim-test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            closeConnections(9)
            // Several periods pass: nine is under the threshold.
            try await Task.sleep(for: .milliseconds(200))
            #expect(trims.withLockedValue { $0 } == 0)
            closeConnections(1)
            try await waitForTrims(1)
            #expect(trims.withLockedValue { $0 } == 1)
            closeConnections(5)
            try await Task.sleep(for: .milliseconds(200))
            #expect(trims.withLockedValue { $0 } == 1, "five more is under the threshold again")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(registry.closedCount == 15)
    }

    @Test("the real trim runs (glibc's malloc_trim is found)")
    func realTrim() {
        // It returns whether memory was released, which depends on the heap; that it is callable
        // at all is what matters here: a missing symbol would make the service a no-op.
        _ = MemoryTrimService.trim()
        #expect(MemoryTrimService.isAvailable)
    }
}
