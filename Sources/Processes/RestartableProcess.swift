import Foundation
import NIOConcurrencyHelpers

/// A process that a kill fault ends with SIGKILL — a crash: no close frames, nothing flushed —
/// and that is started again after an outage, to measure recovery. The one controller behind
/// loadgen's `kill` fault (`--bridge-command`) and the runner's: the kill, the pause, the fresh
/// process and the wait until it serves happen in that order, and each killed ending is kept.
public final class RestartableProcess: Sendable {
    /// One kill and restart: from the SIGKILL to the moment the fresh process was ready.
    public struct Outage: Sendable, Equatable {
        /// Unix µs.
        public var killedAt: Int64
        public var readyAt: Int64
        /// How the killed process ended.
        public var ending: ChildProcess.Ending?
    }

    private struct State {
        var current: ChildProcess
        var restarts = 0
    }

    private let state: NIOLockedValueBox<State>

    /// Controls `process` (started, or to be started with ``start()``).
    public init(_ process: ChildProcess) {
        state = NIOLockedValueBox(State(current: process))
    }

    /// The process running now (or the last one).
    public var current: ChildProcess { state.withLockedValue { $0.current } }
    /// How many times it was started again.
    public var restarts: Int { state.withLockedValue { $0.restarts } }

    public func start() throws {
        try current.start()
    }

    /// SIGKILL, `down` of nothing, then `relaunch()`'s fresh process (started by it), ready once
    /// `ready` returns (it throws if the process never serves). A cancelled pause still restarts it.
    @discardableResult
    public func killAndRestart(
        down: Duration,
        relaunch: () throws -> ChildProcess,
        ready: (ChildProcess) async throws -> Void = { _ in }
    ) async throws -> Outage {
        let killed = current
        let killedAt = Self.now()
        await killed.forceKill()
        try? await Task.sleep(for: down)
        let fresh = try relaunch()
        state.withLockedValue {
            $0.current = fresh
            $0.restarts += 1
        }
        try await ready(fresh)
        return Outage(killedAt: killedAt, readyAt: Self.now(), ending: killed.ending)
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    public func stop(grace: Double = 5) async {
        await current.stop(grace: grace)
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e6) }
}
