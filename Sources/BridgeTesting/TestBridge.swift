import BridgeServer
import Foundation
import Logging

/// A bridge running in this process on a free loopback port.
public final class TestBridge: Sendable {
    public let app: BridgeApplication
    public let port: Int
    private let task: Task<Void, any Error>

    public static func start(_ configuration: BridgeConfiguration) async throws -> TestBridge {
        var logger = Logger(label: "test-bridge")
        logger.logLevel = .warning
        let app = try BridgeApplication(configuration: configuration, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await app.run(handleSignals: false) { port in continuation.yield(port) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw Timeout(description: "bridge did not start") }
        return TestBridge(app: app, port: port, task: task)
    }

    private init(app: BridgeApplication, port: Int, task: Task<Void, any Error>) {
        self.app = app
        self.port = port
        self.task = task
    }

    public var ws: String { "ws://127.0.0.1:\(port)" }

    public func stop() async {
        await app.shutdown()
        _ = try? await task.value
    }
}

/// A test bridge's configuration: loopback, a free port, a quick safety poll.
public func settings(_ folder: String, _ configure: (inout BridgeConfiguration) -> Void = { _ in }) -> BridgeConfiguration {
    var configuration = BridgeConfiguration(dataDirectory: folder)
    configuration.port = 0
    configuration.watch = .events(safetyPollMilliseconds: 100)
    configure(&configuration)
    return configuration
}

/// Starts a bridge, runs `body`, and always stops the bridge.
public func withBridge(_ folder: String, _ body: (TestBridge) async throws -> Void) async throws {
    try await withBridge(settings(folder), body)
}

public func withBridge(_ configuration: BridgeConfiguration, _ body: (TestBridge) async throws -> Void) async throws {
    let bridge = try await TestBridge.start(configuration)
    do {
        try await body(bridge)
    } catch {
        await bridge.stop()
        throw error
    }
    await bridge.stop()
}
