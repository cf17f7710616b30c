import ArgumentParser
import BridgeWire
import Foundation
import Logging
import Swarm

@main
struct LoadGenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Drive a bridge with a swarm of clients and measure latency, loss and recovery.",
        discussion: """
            Kinds (--kind, comma-separated, each optionally KIND=WEIGHT): ws (the BridgeClient library),
            sse (EventSource), poll (GET /api/live_data at --poll-rate), and misbehaving clients: slow
            (reads slowly), stuck (never reads), vanish (half-open: silent after the handshake), churn
            (connects and disconnects), malformed (sends garbage).

            Latency is taken from the simulator's write journal in --data-dir: from the moment the write
            carrying a record reached the file to the moment a client decoded the update. Pollers also
            report request latency from the intended send time (no coordinated omission) and the
            staleness of the data they got. Results: --out DIR/summary.json (docs/LOADGEN.md) and one
            .hgrm file per histogram. Load only ever targets loopback addresses.
            """
    )

    @Option(help: "The bridge, e.g. ws://127.0.0.1:8080 (loopback only).")
    var url: String

    @Option(help: "Number of clients.")
    var clients = 10

    @Option(help: "Client kinds, e.g. ws or ws=8,poll=2,slow=1.")
    var kind = "ws"

    @Option(help: "Comma-separated symbols (contracts or roots).")
    var symbols = "NQ"

    @Option(help: "Comma-separated channels: trades, quotes, depth, stats, bars:1s, bars:5s, bars:1m, bars:5m, bars:1h.")
    var channels = "trades,quotes,depth,stats"

    @Option(
        name: .customLong("max-rate"),
        help: "ws and sse clients ask for at most this many messages a second per contract on each state channel (max_rate)."
    )
    var maxRate: Double?

    @Option(help: "Seconds the run lasts.")
    var duration = 10.0

    @Option(name: .customLong("arrival-rate"), help: "Clients arriving per second (open model ramp-up); default all at once.")
    var arrivalRate: Double?

    @Option(name: .customLong("ramp-down"), help: "Seconds before the end over which clients leave.")
    var rampDown = 0.0

    @Option(name: .customLong("poll-rate"), help: "Requests per second per poll client (the plan's 4).")
    var pollRate = 4.0

    @Option(
        name: .customLong("cache-reads"),
        help: "Times per second each ws client's application reads BridgeClient.latest() (the cache hit rate is measured); 0: none."
    )
    var cacheReads = 4.0

    @Option(name: .customLong("slow-delay-ms"), help: "Milliseconds a slow client spends on each message.")
    var slowDelay = 20

    @Option(name: .customLong("data-dir"), help: "The simulator's data folder: its journal gives latency, its files the loss count.")
    var dataDirectory: String?

    @Option(help: "Folder for summary.json and the .hgrm files.")
    var out: String?

    @Option(help: "The bridge's token, if it needs one (default: $BRIDGE_TOKEN).")
    var token: String?

    @Flag(name: .customLong("no-progress"), help: "No progress line on stderr.")
    var noProgress = false

    @Flag(help: "Put a fault-injecting TCP proxy between the clients and the bridge.")
    var proxy = false

    @Option(
        name: .customLong("fault"),
        help:
            "A fault (repeatable; implies --proxy): cut:AT:SECONDS, latency:AT:MS[:JITTER], bandwidth:AT:BYTES_PER_S, reset:AT, blackhole:AT:SECONDS, slowclose:AT:MS, clear:AT."
    )
    var faults: [String] = []

    @Option(
        name: .customLong("bridge-command"),
        help:
            "Start the bridge with this command (e.g. \"/path/to/bridge --data-dir D --port 8080\") and stop it at the end; the kill:AT[:DOWN] fault SIGKILLs and restarts it."
    )
    var bridgeCommand: String?

    @Option(help: "A profile file (profiles/NAME.yaml, docs/PROFILES.md): talk to a bridge BridgeLab did not build through its routes and fields.")
    var profile: String?

    func parsedMix() throws -> [(kind: ClientKind, weight: Double)] {
        try kind.split(separator: ",").map { part in
            let pieces = part.split(separator: "=")
            guard let kind = ClientKind(rawValue: String(pieces[0])) else {
                throw ValidationError("unknown kind '\(pieces[0])'; kinds: \(ClientKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let weight = pieces.count > 1 ? Double(pieces[1]) : 1
            guard let weight, weight > 0 else { throw ValidationError("a kind's weight must be a positive number: '\(part)'") }
            return (kind, weight)
        }
    }

    func parsedChannels() throws -> [MarketChannel] {
        try channels.split(separator: ",").map { name in
            guard let channel = MarketChannel(rawValue: String(name)) else {
                throw ValidationError("unknown channel '\(name)'; channels: \(MarketChannel.names)")
            }
            return channel
        }
    }

    func swarmConfiguration() throws -> SwarmConfiguration {
        var configuration = SwarmConfiguration(url: url)
        configuration.clients = clients
        configuration.mix = try parsedMix()
        configuration.symbols = symbols.split(separator: ",").map(String.init)
        configuration.channels = try parsedChannels()
        if let maxRate {
            if case .failure(let refusal) = ClientRequest.checkMaxRate(maxRate) { throw ValidationError("--max-rate: \(refusal.message)") }
            configuration.maxRate = maxRate
        }
        configuration.duration = duration
        configuration.arrivalRate = arrivalRate
        configuration.rampDown = rampDown
        configuration.pollRate = pollRate
        configuration.slowDelayMilliseconds = slowDelay
        configuration.cacheReadsPerSecond = cacheReads
        configuration.dataDirectory = dataDirectory
        configuration.outputDirectory = out
        configuration.token = token ?? ProcessInfo.processInfo.environment["BRIDGE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.progress = !noProgress
        configuration.proxy = proxy
        configuration.bridgeCommand = bridgeCommand.map { $0.split(separator: " ").map(String.init) }
        if let profile {
            do {
                configuration.profile = try ProfileLoader.load(profile)
            } catch {
                throw ValidationError(error.description)
            }
        }
        do {
            configuration.faults = try faults.map { try ScheduledFault(parsing: $0) }
            try configuration.validate()
        } catch let error as SwarmError {
            throw ValidationError(error.description)
        }
        return configuration
    }

    func validate() throws {
        _ = try swarmConfiguration()
    }

    func run() async throws {
        raiseOpenFileLimit()
        var logger = Logger(label: "loadgen")
        logger.logLevel = .critical
        let swarm = try Swarm(configuration: try swarmConfiguration(), logger: logger)
        let summary: SwarmSummary
        do {
            summary = try await swarm.run()
        } catch let error as SwarmError {
            FileHandle.standardError.write(Data("loadgen: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        FileHandle.standardOutput.write(Data(summary.text.utf8))
        if let out { FileHandle.standardOutput.write(Data("  wrote \(out)/summary.json and .hgrm files\n".utf8)) }
    }
}
