import BridgeClient
import Foundation

/// A Bool a @Sendable closure can set (each client's callbacks run one at a time).
final class FirstFlag: @unchecked Sendable {
    var value = false
    var connectedAt: Int64?
    /// Per contract: the newest record index any message delivered (see ``Swarm/observe``).
    var delivered: [String: Int] = [:]
}

/// An SSE client's state across its reconnections (used by one task at a time).
final class SSEClientState: @unchecked Sendable {
    var firstSnapshot = false
    var connected = false
    var connectedAt: Int64?
}

/// A poller's state across reconnections (used by one task at a time).
final class PollerState: @unchecked Sendable {
    var request = 0
    var connected = false
    /// Per contract, the newest record an answer carried.
    var seen: [String: Int] = [:]
}

/// Runs `body`, cancelling it at the monotonic `deadline`.
public func withDeadline(_ deadline: UInt64, _ body: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Swarm.sleep(until: deadline)
            throw CancellationError()
        }
        defer { group.cancelAll() }
        _ = try await group.next()
    }
}
