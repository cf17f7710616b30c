import Benchmark
import Foundation
import SierraFormat

// Decode and tail throughput of the format library. The target: at least 20 million .scid
// records/s on one core with zero allocations per record in the steady state. Each measured
// iteration handles `recordsPerIteration` records, so `throughput` reads as records/s and
// `mallocCountTotal` is per million records.

let recordsPerIteration = 1_000_000

/// A million ticks, encoded once.
let fileBytes: [UInt8] = {
    let base = SCDateTime(unixMicroseconds: 1_764_599_400_000_000).microseconds
    var records: [IntradayRecord] = []
    records.reserveCapacity(recordsPerIteration)
    for i in 0..<recordsPerIteration {
        let price: Float = 21_000 + Float(i % 40) * 0.25
        let side: TradeSide = i % 2 == 0 ? .bid : .ask
        let time = SCDateTime(microseconds: base + Int64(i))
        records.append(.trade(at: time, price: price, size: UInt32(1 + i % 7), side: side, bid: 21_000, ask: 21_000.25))
    }
    return IntradayFormat.encodeFile(records)
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        scalingFactor: .mega,
        maxDuration: .seconds(3),
        maxIterations: 30
    )

    Benchmark("scid decode (records)") { benchmark in
        fileBytes.withUnsafeBytes { raw in
            benchmark.startMeasurement()
            var volume: UInt64 = 0
            var offset = IntradayFormat.headerSize
            for _ in benchmark.scaledIterations {
                let record = IntradayFormat.decodeRecord(raw, at: offset)
                volume &+= UInt64(record.totalVolume) &+ UInt64(record.close.bitPattern)
                offset += IntradayFormat.recordSize
            }
            benchmark.stopMeasurement()
            blackHole(volume)
        }
    }

    Benchmark("scid decode + classify (records)") { benchmark in
        fileBytes.withUnsafeBytes { raw in
            benchmark.startMeasurement()
            var trades = 0
            var offset = IntradayFormat.headerSize
            for _ in benchmark.scaledIterations {
                if IntradayFormat.decodeRecord(raw, at: offset).isTrade { trades += 1 }
                offset += IntradayFormat.recordSize
            }
            benchmark.stopMeasurement()
            blackHole(trades)
        }
    }

    let path = NSTemporaryDirectory() + "bridgelab-bench-\(getpid()).scid"
    _ = FileManager.default.createFile(atPath: path, contents: Data(fileBytes))

    // Tailing a file from the start: pread in 1 MiB chunks, decode, visit. The file is in the page
    // cache, so this is the tailer's own cost, not the disk's.
    Benchmark("scid tail from start (records)") { benchmark in
        let tailer = FileTailer<IntradayFormat>(path: path)
        var volume: UInt64 = 0
        benchmark.startMeasurement()
        while true {
            let progress = tailer.poll { item in
                if case .record(_, let record) = item { volume &+= UInt64(record.totalVolume) }
            }
            if !progress.hasMore { break }
        }
        benchmark.stopMeasurement()
        blackHole(volume)
    }
}
