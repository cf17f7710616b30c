// swift-tools-version: 6.1
// The tools version is 6.1 because ordo-one/benchmark needs it (and its MallocInterposer trait).

import PackageDescription

let package = Package(
    name: "BridgeLab",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SierraFormat", targets: ["SierraFormat"]),
        .library(name: "MarketSim", targets: ["MarketSim"]),
        .library(name: "BridgeWire", targets: ["BridgeWire"]),
        .library(name: "BridgeCore", targets: ["BridgeCore"]),
        .library(name: "BridgeServer", targets: ["BridgeServer"]),
        .library(name: "BridgeClient", targets: ["BridgeClient"]),
        .library(name: "Swarm", targets: ["Swarm"]),
        .executable(name: "loadgen", targets: ["LoadGen"]),
        .executable(name: "simulator", targets: ["Simulator"]),
        .executable(name: "bridge", targets: ["Bridge"]),
        .executable(name: "floor-bridge", targets: ["FloorBridge"]),
        .library(name: "Lab", targets: ["Lab"]),
        .executable(name: "bridgelab", targets: ["BridgeLab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The wall clock and a monotonic one, for latency across processes and for scheduling.
        .target(name: "Clocks"),
        // The Sierra Chart file formats: records, SCDateTime, tailers, the depth book. Imports nothing of ours.
        .target(name: "SierraFormat"),
        // Strict reading of configuration files (scenarios, profiles, suites): every error names its line.
        .target(name: "ConfigFile", dependencies: [.product(name: "Yams", package: "Yams")]),
        // A synthetic Sierra Chart: market model, Sierra-like buffered writer, write journal.
        .target(
            name: "MarketSim",
            dependencies: [
                "Clocks",
                "SierraFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "Simulator",
            dependencies: [
                "Clocks",
                "SierraFormat",
                "MarketSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The bridge protocol's messages, encoded once into bytes, decoded by clients.
        .target(name: "BridgeWire", dependencies: ["SierraFormat"]),
        // Watching, symbol registry and rollover, per-symbol state, sequence numbers, history, fan-out.
        .target(
            name: "BridgeCore",
            dependencies: [
                "Clocks",
                "SierraFormat",
                "BridgeWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Hummingbird routes: WebSocket, SSE, HTTP, polling modes, limits, auth, metrics, shutdown.
        // (The --demo simulator lives in the `bridge` executable, so this links no MarketSim.)
        .target(
            name: "BridgeServer",
            dependencies: [
                "Clocks",
                "SierraFormat",
                "BridgeWire",
                "BridgeCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            // The dashboard page, compiled into the binary.
            resources: [
                .embedInCode("Dashboard/dashboard.html"), .embedInCode("Dashboard/dashboard.css"), .embedInCode("Dashboard/dashboard.js"),
            ]
        ),
        .executableTarget(
            name: "Bridge",
            dependencies: [
                "BridgeServer",
                "BridgeCore",
                // Only for --demo: the production bridge's library does not link the simulator.
                "MarketSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The reconnecting client library: resume, gap detection, bounded queue, cache, HTTP fallback.
        .target(
            name: "BridgeClient",
            dependencies: [
                "Clocks",
                "BridgeWire",
                "SierraFormat",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // A child process with its log and how it ended; the kill-and-restart controller of kill faults.
        .target(name: "Processes", dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // Client kinds, arrivals, journal-based latency (HdrHistogram), summaries, fault proxy.
        .target(
            name: "Swarm",
            dependencies: [
                "Clocks",
                "Processes",
                "BridgeClient",
                "ConfigFile",
                "BridgeWire",
                "MarketSim",
                "SierraFormat",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // A yardstick beside the bridge: the per-update floor of the machine (no framework, one thread).
        .target(name: "CFloorShims"),
        .executableTarget(
            name: "FloorBridge",
            dependencies: [
                "CFloorShims",
                "SierraFormat",
                "BridgeWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "LoadGen",
            dependencies: [
                "Swarm",
                "BridgeWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The runner: scenarios, processes, /proc sampling, probes, KPI judgement, reports.
        .target(
            name: "Lab",
            dependencies: [
                "Clocks",
                "Processes",
                "ConfigFile",
                "Swarm",
                "BridgeClient",
                "BridgeWire",
                "MarketSim",
                "SierraFormat",
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "BridgeLab",
            dependencies: [
                "Lab",
                "Swarm",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // What the tests share, as Hummingbird ships HummingbirdTesting: a simulated folder, a bridge
        // in-process on a free loopback port, WebSocket and raw HTTP clients, temporary folders, and
        // the parent suite that runs every socket-driving suite one after another.
        .target(
            name: "BridgeTesting",
            dependencies: [
                "BridgeServer",
                "MarketSim",
                "SierraFormat",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "LabTests", dependencies: ["Lab", "Swarm", "MarketSim", "Processes"]),
        .testTarget(
            name: "SwarmTests",
            dependencies: [
                "Swarm", "BridgeTesting", "BridgeClient", "ConfigFile", "SierraFormat",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // MarketSim for its SeededRandom: a failing random case runs again from its seed.
        .testTarget(name: "SierraFormatTests", dependencies: ["SierraFormat", "BridgeTesting", "MarketSim"], exclude: ["Vectors"]),
        .testTarget(name: "MarketSimTests", dependencies: ["MarketSim", "SierraFormat", "BridgeTesting"]),
        .testTarget(name: "BridgeWireTests", dependencies: ["BridgeWire", "BridgeCore", "SierraFormat", "MarketSim"]),
        .testTarget(
            name: "BridgeCoreTests",
            dependencies: [
                "BridgeCore", "BridgeWire", "BridgeTesting", "SierraFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "BridgeClientTests",
            dependencies: [
                "BridgeClient", "BridgeTesting", "BridgeWire", "Swarm",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "BridgeServerTests",
            dependencies: [
                "BridgeServer",
                "BridgeCore",
                "BridgeWire",
                "BridgeClient",
                "BridgeTesting",
                "MarketSim",
                "SierraFormat",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Runs the built executables as processes, as a user would.
        .testTarget(name: "EndToEndTests", dependencies: ["SierraFormat", "MarketSim", "BridgeTesting"]),
    ]
)

// Micro-benchmarks (package-benchmark): `swift package benchmark`.
package.targets += [
    .executableTarget(
        name: "SierraFormatBenchmarks",
        dependencies: [
            "SierraFormat",
            .product(name: "Benchmark", package: "benchmark"),
        ],
        path: "Benchmarks/SierraFormatBenchmarks",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ),
    .executableTarget(
        name: "BridgeBenchmarks",
        dependencies: [
            "SierraFormat",
            "BridgeWire",
            "BridgeCore",
            .product(name: "Benchmark", package: "benchmark"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Benchmarks/BridgeBenchmarks",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ),
    .executableTarget(
        name: "LoadGenBenchmarks",
        dependencies: [
            "SierraFormat",
            "BridgeWire",
            "BridgeClient",
            .product(name: "Benchmark", package: "benchmark"),
        ],
        path: "Benchmarks/LoadGenBenchmarks",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    ),
]
