import Benchmark
import BridgeClient
import BridgeWire
import SierraFormat

// The load generator's own cost per received message: decoding a bridge message and accounting
// for it (sequence checks). Each iteration handles `messages` messages: throughput reads as
// messages/s, allocations are per thousand. The cost per idle connection is measured end to end by
// scripts/measure-bridge.sh (see the README).

let messages = 1_000
let source = ServerMessages.Source(contract: "NQZ25-CME", root: "NQ", epoch: "78652f776704e9ed")
let frames: [String] = (0..<messages).map(makeFrame)

func makeFrame(_ i: Int) -> String {
    let time = SCDateTime(unixMicroseconds: 1_764_599_400_000_000 + Int64(i) * 1000)
    let price: Float = 21_000 + Float(i % 40) * 0.25
    let record = IntradayRecord.trade(at: time, price: price, size: 2, side: .ask, bid: 21_000, ask: 21_000.25)
    return String(decoding: ServerMessages.trade(source, seq: i, prev: i - 1, record: record), as: UTF8.self)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 300
    )

    Benchmark("scan a trade message (messages)") { benchmark in
        for i in benchmark.scaledIterations { blackHole(WireScanner(frames[i]).seq) }
    }

    Benchmark("scan and account for a trade (messages)") { benchmark in
        var tracker = ContractTracker(contract: "NQZ25-CME")
        tracker.snapshot(epoch: "78652f776704e9ed", seq: -1, lastTrade: -1)
        for i in benchmark.scaledIterations {
            let message = WireScanner(frames[i])
            if let seq = message.seq, let prev = message.prev { blackHole(tracker.trade(seq: seq, prev: prev)) }
        }
    }
}
