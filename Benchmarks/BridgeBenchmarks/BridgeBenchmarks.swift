import Benchmark
import BridgeCore
import BridgeWire
import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import SierraFormat

// The cost of one update on the bridge's hot path: encoding it once, and queuing the shared
// bytes for every subscriber. Each measured iteration handles `updates` updates, so throughput
// reads as updates/s and allocations are per thousand updates.

let updates = 1_000
let source = ServerMessages.Source(contract: "NQZ25-CME", root: "NQ", epoch: "78652f776704e9ed")
let records: [IntradayRecord] = (0..<updates).map(makeTrade)

func makeTrade(_ i: Int) -> IntradayRecord {
    let time = SCDateTime(unixMicroseconds: 1_764_599_400_000_000 + Int64(i) * 1000)
    let price: Float = 21_000 + Float(i % 40) * 0.25
    let side: TradeSide = i % 2 == 0 ? .bid : .ask
    return .trade(at: time, price: price, size: UInt32(1 + i % 9), side: side, bid: 21_000, ask: 21_000.25)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 200
    )

    Benchmark("encode trade (updates)", configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .custom("bytes per update")])) {
        benchmark in
        var bytes = 0
        for i in benchmark.scaledIterations {
            let encoded = ServerMessages.trade(source, seq: i, prev: i - 1, record: records[i])
            bytes += encoded.count
            blackHole(encoded)
        }
        // Recorded per iteration; the scaled (*) column reads as bytes per update.
        benchmark.measurement(.custom("bytes per update"), bytes)
    }

    Benchmark("encode trade into a shared ByteBuffer (updates)") { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(ByteBuffer(bytes: ServerMessages.trade(source, seq: i, prev: i - 1, record: records[i])))
        }
    }

    var state = MarketState(contract: "NQZ25-CME", root: "NQ", epoch: "78652f776704e9ed")
    for (i, record) in records.enumerated() { state.apply(record, seq: i) }
    state.bids = (0..<10).map { DepthLevel(price: 21_000 - Float($0) * 0.25, quantity: 10, numOrders: 3) }
    state.asks = (0..<10).map { DepthLevel(price: 21_000.25 + Float($0) * 0.25, quantity: 10, numOrders: 3) }
    let snapshotState = state
    Benchmark("encode snapshot with 10-level book (updates)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ServerMessages.snapshot(snapshotState)) }
    }

    // The fixed cost of one update, before any client's share: a trade appended to the `.scid`
    // file (one `write`, the simulator's part), then what the file watcher does on waking — the
    // tailer's read, the state, the encoding, the fan-out — until the bytes sit in one client's
    // outbox. An iteration is 1,000 updates, each read on its own (flushed every record).
    Benchmark("file change → bytes queued for one client (updates)") { benchmark in
        let folder = NSTemporaryDirectory() + "bridgelab-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var bytes: [UInt8] = []
        IntradayFormat.encodeHeader(into: &bytes)
        for record in records.prefix(100) { IntradayFormat.encodeRecord(record, into: &bytes) }
        let path = folder + "/NQZ25-CME.scid"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        _ = try file.seekToEnd()
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let hub = MarketHub(
            configuration: HubConfiguration(dataDirectory: folder),
            metrics: BridgeMetrics(factory: NOOPMetricsHandler.instance),
            logger: logger
        )
        hub.refresh()
        let outbox = ClientOutbox(id: 1, maxBacklog: 1_000_000)
        hub.subscribe(outbox, request: ClientRequest(op: .subscribe, symbols: ["NQ"], channels: [.trades]))
        var items: [OutboxItem] = []
        outbox.drain(into: &items)
        let contracts: Set<String> = ["NQZ25-CME"]
        // Every record as its own write, encoded beforehand (the simulator's encoding is not the bridge's).
        let writes: [Data] = (0..<(updates * 2)).map { i in
            var record = records[i % records.count]
            record.dateTime = SCDateTime(unixMicroseconds: 1_764_599_500_000_000 + Int64(i) * 1000)
            var encoded: [UInt8] = []
            IntradayFormat.encodeRecord(record, into: &encoded)
            return Data(encoded)
        }
        var next = 0
        func update() {
            file.write(writes[next % writes.count])
            next += 1
            hub.pump(contracts, detectedAt: nil, checkPaths: false)
            items.removeAll(keepingCapacity: true)
            outbox.drain(into: &items)
            blackHole(items.count)
        }
        for _ in 0..<100 { update() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { update() }
        benchmark.stopMeasurement()
    }

    // Fan-out as the bridge does it: each update, encoded and framed once, queued for every
    // WebSocket client and written by each client's writer on its event loop (embedded channels
    // here, read back as a socket would take them). An iteration is 1,000 updates, so mallocs
    // per iteration / (1,000 × clients) are allocations per client per update.
    for clients in [1, 100] {
        Benchmark("fan-out to \(clients) clients' channels (updates)") { benchmark in
            let loop = EmbeddedEventLoop()
            let queue = EventLoopDrainQueue(eventLoop: loop, metrics: BridgeMetrics(factory: NOOPMetricsHandler.instance))
            var channels: [EmbeddedChannel] = []
            var outboxes: [ClientOutbox] = []
            for id in 0..<clients {
                let channel = EmbeddedChannel(loop: loop)
                try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
                let outbox = ClientOutbox(id: id, maxBacklog: 1_000_000)
                let writer = WebSocketOutboxWriter(outbox: outbox, queue: queue, batching: false)
                try channel.pipeline.syncOperations.addHandler(writer)
                outbox.attach(writer)
                channels.append(channel)
                outboxes.append(outbox)
            }
            let messages = records.enumerated().map { i, record in
                OutboundMessage(
                    json: ServerMessages.trade(source, seq: i, prev: i - 1, record: record),
                    event: "trade",
                    contract: source.contract,
                    epoch: source.epoch,
                    seq: i
                )
            }
            func deliver(_ message: OutboundMessage) throws {
                for outbox in outboxes { outbox.enqueue(message, channel: .trades) }
                loop.run()
                for channel in channels {
                    while let frame = try channel.readOutbound(as: ByteBuffer.self) { blackHole(frame) }
                }
            }
            // Warm: queues and buffers at their working size before measuring.
            for message in messages.prefix(10) { try deliver(message) }
            benchmark.startMeasurement()
            for i in benchmark.scaledIterations { try deliver(messages[i]) }
            benchmark.stopMeasurement()
        }
    }
}
