import ArgumentParser
import BridgeCore
import BridgeServer
import Foundation
import Logging
import ServiceLifecycle

struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Serve live Sierra Chart data (.scid and .depth files) over WebSocket, SSE and HTTP.",
        discussion: """
            Event mode (the default) watches the folder and pushes updates: WebSocket /ws and
            /ws/live_data/{symbol} (protocol: docs/PROTOCOL.md), SSE /sse?symbols=... and
            /api/stream/dashboard. Every mode serves /api/live_data/{symbol}, /api/symbols, /health
            and /metrics. The polling modes reproduce the old bridge for comparison.

            Try it with no Sierra Chart at all:  bridge --demo
            """
    )

    @Option(name: .customLong("data-dir"), help: "The Sierra Chart data folder (holding *.scid and MarketDepthData/).")
    var dataDirectory: String?

    @Flag(help: "Start an embedded simulator writing NQ, ES and VX to a temporary folder, and serve it.")
    var demo = false

    @Option(help: "Address to listen on. Loopback unless told otherwise.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "event (watch and push), polling-naive (the old bridge: reads files per request), polling-cached (the plan's Phase 1 fix).")
    var mode = "event"

    @Option(help: "How event mode learns of changes: inotify (events plus a safety size check) or poll.")
    var watch = "inotify"

    @Option(
        name: .customLong("safety-poll-ms"),
        help: "With --watch inotify: also check file sizes this often, so a missed event costs latency, never data."
    )
    var safetyPollMilliseconds = 250

    @Option(name: .customLong("poll-ms"), help: "With --watch poll: check file sizes this often.")
    var pollMilliseconds = 100

    @Option(help: "Require this token on every route but /health (Authorization: Bearer T, or ?token=T). Default: $BRIDGE_TOKEN.")
    var token: String?

    @Option(
        name: .customLong("allow-origin"),
        help:
            "A web origin (http://localhost:3000) whose pages may use /api and /sse (CORS); repeatable. Once any is given, WebSocket upgrades from other origins are refused."
    )
    var allowOrigins: [String] = []

    @Option(
        name: .customLong("bar-grace-ms"),
        help: "A bar closes this long after its end when no record has come since (a record stamped after the end closes it at once)."
    )
    var barGraceMilliseconds = 1_000

    @Option(help: "Serve only these roots, comma-separated (e.g. NQ,ES); default every contract in the folder.")
    var symbols: String?

    @Option(name: .customLong("price-multiplier"), help: "SYMBOL=FACTOR (repeatable): display price = file price × FACTOR, by contract or root.")
    var priceMultipliers: [String] = []

    @Option(name: .customLong("depth-levels"), help: "Depth levels per side kept and sent.")
    var depthLevels = 10

    @Option(name: .customLong("max-connections"), help: "Concurrent WebSocket and SSE connections (503 beyond).")
    var maxConnections = 2_000

    @Option(name: .customLong("max-subscriptions"), help: "Symbols one client may subscribe to.")
    var maxSubscriptions = 64

    @Option(name: .customLong("max-message-bytes"), help: "Largest inbound WebSocket message.")
    var maxMessageBytes = 16 * 1024

    @Option(name: .customLong("max-message-rate"), help: "Inbound messages per second per client (bursts of twice that).")
    var maxMessageRate = 20.0

    @Option(name: .customLong("client-backlog"), help: "Trade messages a client may fall behind before it is closed as a slow consumer (code 4008).")
    var clientBacklog = 20_000

    @Option(
        name: .customLong("trim-memory-after"),
        help: "Hand freed memory back to the system (malloc_trim) once this many connections have closed since the last time (0: never)."
    )
    var trimMemoryAfter = 64

    @Option(
        name: .customLong("swift-tasks"),
        help:
            "Where Swift's tasks run: event-loops (the bridge's own threads, no hop between a request's task and its I/O) or pool (Swift's default pool, for comparison)."
    )
    var swiftTasks = "event-loops"

    @Option(name: .customLong("history"), help: "Trades kept in memory per contract for resumes (older ones are read back from the file).")
    var history = 50_000

    @Option(name: .customLong("heartbeat"), help: "Seconds between heartbeats; a WebSocket ping must be answered within the same time.")
    var heartbeat = 15.0

    @Option(name: .customLong("dashboard-interval"), help: "Seconds between /api/stream/dashboard events.")
    var dashboardInterval = 5.0

    @Option(
        name: .customLong("close-after"),
        help: "Event mode: seconds a contract nobody subscribes to or polls stays tailed before its files are closed."
    )
    var closeAfter = 30.0

    @Option(name: .customLong("idle-timeout"), help: "Event mode: seconds an HTTP connection may stay idle before it is closed.")
    var idleTimeout = 10.0

    @Flag(
        name: .customLong("trace-timestamps"),
        help: "Market updates carry the bridge's wake-up and queued times (tw, tq: Unix µs), so clients can split latency by stage."
    )
    var traceTimestamps = false

    @Option(help: "Connections the kernel may queue before they are accepted (listen backlog; the kernel's somaxconn caps it).")
    var backlog = 4_096

    @Option(
        name: .customLong("event-loops"),
        help:
            "Event loops (threads) serving the connections; the files are watched on the first, whose clients get updates with no thread hop. Default: one per core. One suits a handful of clients."
    )
    var eventLoops: Int?

    @Option(name: .customLong("demo-rate"), help: "With --demo: records per second the simulator writes.")
    var demoRate = 200.0

    @Option(name: .customLong("demo-flush-ms"), help: "With --demo: the simulator's flush interval.")
    var demoFlushMilliseconds = 250

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(
        name: .customLong("port-file"),
        help:
            "Once listening, write {\"port\",\"pid\",\"host\",\"mode\"} as JSON to this file (whole, by rename): how a harness learns a --port 0 bridge's port."
    )
    var portFile: String?

    func validate() throws {
        guard (dataDirectory == nil) == demo else { throw ValidationError("give either --data-dir DIR or --demo") }
        guard BridgeMode(rawValue: mode) != nil else { throw ValidationError("--mode must be one of: event, polling-naive, polling-cached") }
        guard ["inotify", "poll"].contains(watch) else { throw ValidationError("--watch must be inotify or poll") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard safetyPollMilliseconds > 0, pollMilliseconds > 0 else { throw ValidationError("poll intervals must be positive") }
        guard maxConnections > 0, maxSubscriptions > 0, maxMessageBytes >= 256, maxMessageRate > 0, clientBacklog > 0, history >= 0 else {
            throw ValidationError("limits must be positive (and --max-message-bytes at least 256)")
        }
        guard backlog > 0 else { throw ValidationError("--backlog must be positive") }
        guard ["event-loops", "pool"].contains(swiftTasks) else { throw ValidationError("--swift-tasks must be event-loops or pool") }
        guard trimMemoryAfter >= 0 else { throw ValidationError("--trim-memory-after must be 0 (never) or more") }
        if let eventLoops, !(1...256).contains(eventLoops) { throw ValidationError("--event-loops must be between 1 and 256") }
        guard barGraceMilliseconds >= 0 else { throw ValidationError("--bar-grace-ms must not be negative") }
        for origin in allowOrigins where !AllowedOrigins.isOrigin(origin) {
            throw ValidationError("--allow-origin '\(origin)' is not an origin: give scheme://host[:port], e.g. http://localhost:3000")
        }
        guard heartbeat > 0, dashboardInterval > 0, idleTimeout > 0, closeAfter >= 0 else {
            throw ValidationError("--heartbeat, --dashboard-interval and --idle-timeout must be positive, --close-after not negative")
        }
        guard (1...100).contains(depthLevels) else { throw ValidationError("--depth-levels must be between 1 and 100") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        if let portFile {
            let folder = (portFile as NSString).deletingLastPathComponent
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--port-file: no such folder '\(folder)'")
            }
        }
        _ = try parsedMultipliers()
    }

    func parsedMultipliers() throws -> [String: Float] {
        var result: [String: Float] = [:]
        for text in priceMultipliers {
            let parts = text.split(separator: "=")
            guard parts.count == 2, let factor = Float(parts[1]), factor.isFinite, factor > 0 else {
                throw ValidationError("--price-multiplier takes SYMBOL=FACTOR with a positive FACTOR, got '\(text)'")
            }
            result[String(parts[0])] = factor
        }
        return result
    }

    func run() async throws {
        try await serve()
    }

    /// What `run` does; `main.swift` calls it by this name (a command's `run()` in an async
    /// context can resolve to ArgumentParser's synchronous default, which only prints help).
    func serve() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "bridge")

        var services: [any ServiceLifecycle.Service] = []
        var folder = dataDirectory ?? ""
        if demo {
            folder = NSTemporaryDirectory() + "bridgelab-demo-\(getpid())"
            services.append(try DemoSimulatorService(folder: folder, rate: demoRate, flushMilliseconds: demoFlushMilliseconds, logger: logger))
            say("bridge --demo: a simulator is writing NQ, ES and VX to \(folder)")
        }

        var configuration = BridgeConfiguration(dataDirectory: folder)
        configuration.host = host
        configuration.port = port
        configuration.mode = BridgeMode(rawValue: mode) ?? .event
        configuration.watch = watch == "poll" ? .poll(milliseconds: pollMilliseconds) : .events(safetyPollMilliseconds: safetyPollMilliseconds)
        configuration.token = token ?? ProcessInfo.processInfo.environment["BRIDGE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.includeRoots = symbols.map { Set($0.split(separator: ",").map { $0.uppercased() }) }
        configuration.priceMultipliers = try parsedMultipliers()
        configuration.depthLevels = depthLevels
        configuration.maxConnections = maxConnections
        configuration.maxSubscriptionsPerClient = maxSubscriptions
        configuration.maxInboundMessageBytes = maxMessageBytes
        configuration.inboundMessagesPerSecond = maxMessageRate
        configuration.clientBacklog = clientBacklog
        configuration.trimMemoryAfterCloses = trimMemoryAfter
        configuration.historyLimit = history
        configuration.heartbeatSeconds = heartbeat
        configuration.dashboardIntervalSeconds = dashboardInterval
        configuration.httpIdleTimeoutSeconds = idleTimeout
        configuration.idleCloseSeconds = closeAfter
        configuration.listenBacklog = backlog
        configuration.traceTimestamps = traceTimestamps
        configuration.eventLoops = eventLoops
        configuration.allowedOrigins = allowOrigins
        configuration.barCloseGraceMilliseconds = barGraceMilliseconds

        let bridge: BridgeApplication
        do {
            bridge = try BridgeApplication(configuration: configuration, logger: logger, services: services)
        } catch {
            throw ValidationError((error as BridgeStartError).description)
        }
        let isDemo = demo
        let settings = configuration
        let portFile = self.portFile
        if let portFile { try? FileManager.default.removeItem(atPath: portFile) }
        try await bridge.run { port in
            let configuration = settings
            if let portFile {
                Self.writePortFile(portFile, port: port, configuration: configuration, logger: logger)
            }
            let token = configuration.token
            let base = "http://\(configuration.host):\(port)"
            let auth = token == nil ? "" : "?token=…"
            if configuration.mode == .event { say("bridge: dashboard at \(base)/dashboard") }
            say(
                "bridge: listening on \(base) — mode \(configuration.mode.rawValue); contracts: \(bridge.hub?.contractSummary ?? "read per request")"
            )
            if isDemo || configuration.mode == .event {
                say("  try:  open \(base)/dashboard in a browser")
                say("        curl \(base)/api/live_data/NQ\(auth)")
                say("        curl -N \(base)/sse?symbols=NQ,ES")
                say("        curl -N \(base)/api/stream/dashboard")
                say("        websocat ws://\(configuration.host):\(port)/ws/live_data/NQ")
            }
        }
    }

    /// The port file (docs/PROTOCOL.md): written beside its path and renamed in, so a reader
    /// never sees half of it.
    static func writePortFile(_ path: String, port: Int, configuration: BridgeConfiguration, logger: Logger) {
        let text = "{\"port\":\(port),\"pid\":\(getpid()),\"host\":\"\(configuration.host)\",\"mode\":\"\(configuration.mode.rawValue)\"}\n"
        let scratch = path + ".\(getpid()).tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: scratch))
            guard rename(scratch, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            logger.error("could not write the port file", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}

/// Writes a line to standard output at once (print is block-buffered when stdout is a pipe, and
/// tools that start the bridge read the start-up line to learn its port).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
