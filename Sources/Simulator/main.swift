import ArgumentParser
import Clocks
import Dispatch
import MarketSim
import SierraFormat
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Set by SIGINT/SIGTERM; the simulation loop sees it within 50 ms, flushes and exits.
let stopRequested = Atomic<Bool>(false)

struct SimulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulator",
        abstract: "A synthetic Sierra Chart: writes byte-exact .scid and .depth files, live.",
        subcommands: [Run.self, ReplayCommand.self, Inspect.self],
        defaultSubcommand: Run.self
    )
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write live market data into a data folder (the default command).",
        discussion: """
            Files: DIR/<contract>.scid and DIR/MarketDepthData/<contract>.<YYYY-MM-DD>.depth, plus the
            write journal DIR/\(WriteJournal.defaultFileName) (docs/JOURNAL.md). Without --duration it runs
            until SIGINT or SIGTERM, then flushes every buffered record and exits 0.

            Scripted events (--event, repeatable; times in seconds from the start):
              burst:AT:MULTIPLIER:SECONDS   the arrival rate times MULTIPLIER for SECONDS
              rollover:AT[:ROOT]            the next contract's file appears, the old one stops
              rewrite:AT[:ROOT[:KEEP]]      the file is recreated keeping KEEP (default 0.5) of its records
              new-day:AT                    depth files move to the next day's file
            """
    )

    @Option(name: .customLong("data-dir"), help: "The data folder to write (created if missing).")
    var dataDirectory: String

    @Option(help: "Comma-separated product roots: \(Instrument.known.map(\.root).joined(separator: ", ")).")
    var symbols: String = "NQ,ES,VX"

    @Option(help: "Mean .scid records per second over all symbols (depth records come in addition).")
    var rate: Double = 2_000

    @Option(help: "How arrivals are spread: bursty (quiet, normal and news-spike regimes) or steady (Poisson at --rate).")
    var arrivals: String = "bursty"

    @Option(help: "Seconds to run; omit to run until stopped.")
    var duration: Double?

    @Option(help: "Random seed: the same seed and start time write the same records.")
    var seed: UInt64 = 7

    @Option(name: .customLong("flush-ms"), help: "Flush interval in ms: Sierra Chart's default 5000, typical 1000, 0 = every record.")
    var flushMilliseconds: Int = 1_000

    @Option(name: .customLong("split-writes"), help: "Fraction (0-1) of flushes split across two writes, so readers see partial records.")
    var splitProbability: Double = 0

    @Option(name: .customLong("split-gap-us"), help: "Pause between the two writes of a split flush, in µs.")
    var splitGapMicroseconds: Int = 300

    @Option(name: .customLong("depth-levels"), help: "Depth levels per side.")
    var depthLevels: Int = 10

    @Option(name: .customLong("snapshot-interval"), help: "Seconds between depth snapshot batches.")
    var snapshotInterval: Double = 600

    @Flag(name: .customLong("no-depth"), help: "Write no .depth files.")
    var noDepth = false

    @Option(name: .customLong("event"), help: "A scripted event (repeatable); see below.")
    var events: [String] = []

    @Option(name: .customLong("start-unix-us"), help: "Fix the wall-clock start (Unix µs) for byte-identical reruns; default now.")
    var startUnixMicroseconds: Int64?

    @Option(
        name: .customLong("history-days"),
        help: "Start the files with this many days of past at each instrument's session rates (the files must be empty)."
    )
    var historyDays: Int?

    @Option(
        name: .customLong("history-depth-days"),
        help: "With --history-days: the depth files of this many days before today, and of today's past, as Sierra Chart keeps them (0: none)."
    )
    var historyDepthDays: Int = 1

    @Option(
        name: .customLong("expired-contracts"),
        help: "Write this many expired contracts per root before the run, as a real Data folder holds (hundreds of files)."
    )
    var expiredContracts: Int = 0

    @Option(name: .customLong("expired-records"), help: "Records in each expired contract's file.")
    var expiredRecords: Int = 20_000

    @Option(name: .customLong("history-records"), help: "Start each contract's file with this many records of past (the files must be empty).")
    var historyRecords: Int?

    @Flag(
        help: "Write the whole --duration at once, timed as if it had run live and ending now: a captured session to replay."
    )
    var atOnce = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        if atOnce, duration == nil { throw ValidationError("--at-once needs --duration: how long a session to write") }
        guard ArrivalPattern(rawValue: arrivals) != nil else { throw ValidationError("--arrivals must be bursty or steady, got '\(arrivals)'") }
        if historyDays != nil, historyRecords != nil { throw ValidationError("give --history-days or --history-records, not both") }
    }

    func run() throws {
        // SimulatorError reads as a sentence; ArgumentParser prints it as "Error: …" and exits 1.
        try execute()
    }

    private func execute() throws(SimulatorError) {
        do {
            var script: [ScriptedEvent] = []
            for text in events { script.append(try ScriptedEvent(parsing: text)) }
            var config = SimulationConfig(
                dataDirectory: dataDirectory,
                roots: symbols.split(separator: ",").map { String($0) },
                rate: rate,
                duration: duration,
                seed: seed,
                flushMilliseconds: flushMilliseconds,
                splitProbability: splitProbability,
                splitGapMicroseconds: splitGapMicroseconds,
                writeDepth: !noDepth,
                depthLevels: depthLevels,
                depthSnapshotInterval: snapshotInterval,
                script: script,
                startUnixMicroseconds: startUnixMicroseconds ?? (atOnce ? WallClock.nowMicroseconds() - Int64((duration ?? 0) * 1e6) : nil)
            )
            config.arrivals = ArrivalPattern(rawValue: arrivals) ?? .bursty
            config.history = historyDays.map(HistorySpec.days) ?? historyRecords.map(HistorySpec.records)
            config.historyDepthDays = historyDepthDays
            config.expiredContracts = expiredContracts
            config.expiredRecords = expiredRecords
            let historyStarted = WallClock.monotonicNanoseconds()
            let simulation = try Simulation(config: config)
            if !quiet, let expired = simulation.expired {
                print("simulator: \(expired.contracts) expired contracts, \(expired.records) records (\(expired.bytes / 1_000_000) MB)")
            }
            if !quiet, !simulation.history.isEmpty {
                let seconds = Double(WallClock.monotonicNanoseconds() - historyStarted) / 1e9
                let records = simulation.history.map(\.records).reduce(0, +)
                let files = simulation.history.map { "\($0.contract) \($0.records) records (\($0.bytes / 1_000_000) MB)" }.joined(separator: ", ")
                print("simulator: history: \(files); \(records) records in \(String(format2: seconds)) s")
            }
            let sources = installStopSignals()
            if !quiet {
                let until = duration.map { "for \($0) s" } ?? "until stopped"
                print(
                    "simulator: writing \(simulation.contracts.map(\.name).joined(separator: ", ")) to \(dataDirectory) at \(rate) records/s, flush \(flushMilliseconds) ms, \(until)"
                )
            }
            let summary = try atOnce ? simulation.runAtOnce() : simulation.run { stopRequested.load(ordering: .relaxed) }
            withExtendedLifetime(sources) {}
            if !quiet {
                print(
                    "simulator: wrote \(summary.intradayRecords) .scid and \(summary.depthRecords) .depth records in \(summary.flushes) flushes (\(summary.splitFlushes) split) over \(String(format2: summary.elapsedSeconds)) s"
                )
            }
        }
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a captured Sierra Chart Data folder into another folder, live (docs/REPLAY.md).",
        discussion: """
            The same records in the same order, prices and sizes unchanged, their times moved to now with
            their spacing divided by --speed, written in flushes every --flush-ms as Sierra Chart writes
            them, with the write journal (docs/JOURNAL.md) giving each write's due time and actual time.
            Times are ISO-8601, UTC unless an offset is given: 2026-11-30, 2026-11-30T14:30:00Z.
            Everything is checked before anything is written; SIGINT or SIGTERM flushes and exits 0.
            """
    )

    @Option(help: "The captured Data folder (its .scid files and MarketDepthData/).")
    var from: String

    @Option(name: .customLong("data-dir"), help: "The folder to write (created if missing); not the capture.")
    var dataDirectory: String

    @Option(help: "Comma-separated roots (NQ) or contracts (NQZ26-CME); default every contract with data in the window.")
    var symbols: String?

    @Option(help: "The window's start; default the start of the last UTC day with data.")
    var start: String?

    @Option(help: "The window's end (exclusive); default the data's end.")
    var end: String?

    @Option(parsing: .unconditional, help: "Replay speed: 1 = real time, 10 = ten times faster, 0 = as fast as it can.")
    var speed: Double = 1

    @Option(name: .customLong("max-gap"), help: "Seconds: quiet stretches (nights, weekends) longer than this are cut to this.")
    var maxGap: Double?

    @Flag(help: "At the window's end start again from its beginning, until stopped (or --duration).")
    var loop = false

    @Option(name: .customLong("flush-ms"), help: "Flush interval in ms, as Sierra Chart's (0 = every record).")
    var flushMilliseconds: Int = 1_000

    @Option(help: "Seconds to run; default until the window ends (with --loop, until stopped).")
    var duration: Double?

    @Flag(name: .customLong("no-depth"), help: "Replay the .scid files only.")
    var noDepth = false

    @Flag(
        name: .customLong("copy-past"),
        help: "Start each file with the capture's records before the window (and earlier days' depth files), so a bridge starts on its real size."
    )
    var copyPast = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func run() throws {
        try execute()
    }

    private func execute() throws(SimulatorError) {
        var options = ReplayOptions(source: from, dataDirectory: dataDirectory)
        options.symbols = (symbols ?? "").split(separator: ",").map { String($0).trimmingCharacters() }.filter { !$0.isEmpty }
        if let start {
            guard let time = ISOTime.parse(start) else { throw .replay("--start '\(start)' is not an ISO-8601 time (e.g. 2026-11-30T14:30:00Z)") }
            options.start = time
        }
        if let end {
            guard let time = ISOTime.parse(end) else { throw .replay("--end '\(end)' is not an ISO-8601 time (e.g. 2026-11-30T21:00:00Z)") }
            options.end = time
        }
        options.speed = speed
        options.maxGap = maxGap
        options.loop = loop
        options.flushMilliseconds = flushMilliseconds
        options.duration = duration
        options.depth = !noDepth
        options.copyPast = copyPast
        let replay = try Replay(options: options)
        let plan = replay.plan
        let sources = installStopSignals()
        if !quiet {
            let pace = speed == 0 ? "as fast as it can" : "at \(String(format2: speed))x"
            print(
                "simulator: replaying \(plan.contracts.joined(separator: ", ")) from \(from), \(ISOTime.format(plan.firstRecord)) to \(ISOTime.format(plan.lastRecord)) (\(plan.intradayRecords) .scid and \(plan.depthRecords) .depth records), \(pace), flush \(flushMilliseconds) ms\(loop ? ", looping" : "")"
            )
        }
        let summary = try replay.run { stopRequested.load(ordering: .relaxed) }
        withExtendedLifetime(sources) {}
        if !quiet {
            var line =
                "simulator: replayed \(summary.intradayRecords) .scid and \(summary.depthRecords) .depth records in \(summary.writes) writes over \(String(format2: summary.elapsedSeconds)) s"
            if summary.loops > 0 { line += ", \(summary.loops) loops" }
            if summary.pastRecords > 0 { line += "; \(summary.pastRecords) past records copied first" }
            if let lag = summary.lag {
                line +=
                    "; lag behind schedule p50 \(String(format2: Double(lag.p50Microseconds) / 1000)) ms, p99 \(String(format2: Double(lag.p99Microseconds) / 1000)) ms, max \(String(format2: Double(lag.maxMicroseconds) / 1000)) ms"
            }
            print(line)
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a .scid or .depth file's header and records, decoded.")

    @Argument(help: "The file to decode.")
    var file: String

    @Flag(help: "JSON, in the shape of the golden vectors' expected decodings.")
    var json = false

    @Option(help: "Show only the last N records.")
    var tail: Int?

    func run() throws {
        if let tail, tail < 0 { throw ValidationError("--tail must not be negative") }
        do {
            print(try FileInspector.render(path: file, json: json, limit: tail), terminator: "")
        } catch {
            FileHandleStderr.write("simulator inspect: \(error.description)\n")
            throw ExitCode(2)
        }
    }
}

/// Turns SIGINT and SIGTERM into a stop request (swift-service-lifecycle's UnixSignals); returns
/// once they are trapped, so that a signal from then on stops the run instead of killing it. The
/// task must stay alive for the run.
func installStopSignals() -> Task<Void, Never> {
    let trapped = DispatchSemaphore(value: 0)
    let task = Task {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        trapped.signal()
        for await _ in signals { stopRequested.store(true, ordering: .relaxed) }
    }
    trapped.wait()
    return task
}

@inline(__always)
func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc_write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }

    init(format2 value: Double) {
        let scaled = (value * 100).rounded() / 100
        self = String(scaled)
    }
}

SimulatorCommand.main()
