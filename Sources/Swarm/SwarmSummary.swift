import Foundation
import Histogram

/// What a swarm run measured. `json` is the documented summary (docs/LOADGEN.md); `text` the
/// short human version.
public struct SwarmSummary: Sendable {
    public static let schema = "bridgelab.loadgen.summary/1"

    /// The summary as a JSON-compatible tree.
    public let json: [String: any Sendable]
    public let text: String

    /// Percentiles of one histogram, in microseconds.
    static func percentiles(_ histogram: Histogram<UInt64>?) -> [String: any Sendable] {
        guard let histogram, histogram.totalCount > 0 else { return ["count": 0] }
        return [
            "count": Int(histogram.totalCount),
            "min": Int(histogram.min),
            "p50": Int(histogram.valueAtPercentile(50)),
            "p90": Int(histogram.valueAtPercentile(90)),
            "p99": Int(histogram.valueAtPercentile(99)),
            "p99_9": Int(histogram.valueAtPercentile(99.9)),
            "max": Int(histogram.max),
            "mean": (histogram.mean * 10).rounded() / 10,
        ]
    }

    static func make(
        configuration: SwarmConfiguration,
        kinds: [ClientKind],
        totals: SwarmTotals.Values,
        recorder: LatencyRecorder,
        lost: Int?,
        startedAt: Int64,
        elapsed: Double,
        usage: ResourceUsage
    ) -> SwarmSummary {
        var planned: [String: Int] = [:]
        for kind in kinds { planned[kind.rawValue, default: 0] += 1 }
        var latency: [String: any Sendable] = [:]
        for name in LatencyRecorder.histogramNames { latency[name] = percentiles(recorder.histogram(name)) }
        let lookups = totals.cacheHits + totals.cacheMisses
        let json: [String: any Sendable] = [
            "schema": schema,
            "started_unix_us": Int(startedAt),
            "elapsed_s": (elapsed * 1000).rounded() / 1000,
            "config": [
                "url": configuration.url,
                "clients": configuration.clients,
                "kinds": planned,
                "symbols": configuration.symbols,
                "channels": configuration.channels.map(\.rawValue),
                "duration_s": configuration.duration,
                "arrival_rate": configuration.arrivalRate ?? 0,
                "ramp_down_s": configuration.rampDown,
                "poll_rate": configuration.pollRate,
                "cache_reads_per_s": configuration.cacheReadsPerSecond,
                "data_dir": configuration.dataDirectory ?? "",
            ] as [String: any Sendable],
            "clients": [
                "started": Dictionary(uniqueKeysWithValues: totals.started.map { ($0.key.rawValue, $0.value) }),
                "connected": Dictionary(uniqueKeysWithValues: totals.connected.map { ($0.key.rawValue, $0.value) }),
            ] as [String: any Sendable],
            "updates": [
                "messages": totals.messages,
                "measured": totals.measuredUpdates,
                "bytes": totals.bytes,
                "trades": totals.trades,
                "lost": lost ?? -1,
                "gaps": totals.gaps,
                "duplicates": totals.duplicates,
                "out_of_order": totals.outOfOrder,
            ] as [String: any Sendable],
            "payload": payload(totals.payload),
            "latency_us": latency,
            "latency_unresolved": recorder.unresolved,
            "latency_negative": recorder.negative,
            "http": [
                "requests": totals.httpRequests,
                "status": Dictionary(uniqueKeysWithValues: totals.httpStatus.map { (String($0.key), $0.value) }),
                "sse_connect_status": Dictionary(uniqueKeysWithValues: totals.sseStatus.map { (String($0.key), $0.value) }),
            ] as [String: any Sendable],
            "resumes": ["recovered": totals.resumesRecovered, "not_recovered": totals.resumesNotRecovered, "reconnects": totals.reconnects]
                as [String: Int],
            "cache": [
                "hits": totals.cacheHits, "misses": totals.cacheMisses, "hit_rate": lookups > 0 ? Double(totals.cacheHits) / Double(lookups) : 0,
            ] as [String: any Sendable],
            "errors": totals.errors as [String: Int],
            "server_errors": totals.serverErrors,
            "close_codes": Dictionary(uniqueKeysWithValues: totals.closeCodes.map { (String($0.key), $0.value) }) as [String: Int],
            "profile": profileSection(configuration.profile, totals),
            "generator": [
                "cpu_user_s": (usage.userSeconds * 100).rounded() / 100,
                "cpu_system_s": (usage.systemSeconds * 100).rounded() / 100,
                "cpu_percent_of_core": (usage.cpuPercent * 10).rounded() / 10,
                "peak_rss_mb": (usage.peakResidentMegabytes * 10).rounded() / 10,
                "cpu_us_per_message": totals.messages > 0
                    ? ((usage.userSeconds + usage.systemSeconds) * 1e6 / Double(totals.messages) * 100).rounded() / 100 : 0,
            ] as [String: any Sendable],
        ]

        func ms(_ name: String, _ key: String) -> String {
            guard let value = (latency[name] as? [String: any Sendable])?[key] as? Int else { return "-" }
            return String(format: "%.3f ms", Double(value) / 1000)
        }
        var text =
            "loadgen: \(kinds.count) clients (\(planned.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))) for \(String(format: "%.1f", elapsed)) s\n"
        text +=
            "  messages \(totals.messages), trades \(totals.trades), lost \(lost.map(String.init) ?? "n/a (no --data-dir)"), gaps \(totals.gaps), duplicates \(totals.duplicates), out of order \(totals.outOfOrder)\n"
        let update = recorder.histogram("update")?.totalCount ?? 0
        text +=
            "  update latency (write → decode): p50 \(ms("update", "p50")), p99 \(ms("update", "p99")), p99.9 \(ms("update", "p99_9")), max \(ms("update", "max")) over \(update) updates"
        text += recorder.unresolved > 0 ? " (\(recorder.unresolved) not in the journal)\n" : "\n"
        if totals.httpRequests > 0 {
            text +=
                "  polls: \(totals.httpRequests) requests \(totals.httpStatus.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key)" }.joined(separator: " ")); "
            text +=
                "request p99 \(ms("poll_request", "p99")) (from intended send), data staleness p50 \(ms("poll_staleness", "p50")), p99 \(ms("poll_staleness", "p99"))\n"
        }
        text += "  resumes: \(totals.resumesRecovered) recovered, \(totals.resumesNotRecovered) not; reconnect p99 \(ms("reconnect", "p99"))\n"
        if let profile = configuration.profile {
            text +=
                "  profile \(profile.name): trades matched to records by \(profile.matchesByTime ? "time" : "order"), \(totals.unmatchedTrades) unmatched\n"
            for problem in totals.problems.sorted() { text += "  profile problem: \(problem)\n" }
        }
        text += String(format: "  generator: %.1f%% of a core, %.0f MB peak\n", usage.cpuPercent, usage.peakResidentMegabytes)
        return SwarmSummary(json: json, text: text)
    }

    /// How a profiled bridge was read: by which profile, how trades were matched to records, and
    /// what could not be (empty for the reference bridge's own protocol).
    static func profileSection(_ profile: BridgeProfile?, _ totals: SwarmTotals.Values) -> [String: any Sendable] {
        guard let profile else { return [:] }
        let matchedBy = profile.tradeFields.seq != nil ? "seq" : (profile.matchesByTime ? "time" : "order")
        return [
            "name": profile.name, "file": profile.file, "matched_by": matchedBy, "unmatched_trades": totals.unmatchedTrades,
            "problems": totals.problems.sorted(),
        ]
    }

    /// Messages and bytes per type, and the mean size of a delta against a snapshot's.
    static func payload(_ counts: PayloadCounts) -> [String: any Sendable] {
        var result: [String: any Sendable] = [:]
        var deltaMessages = 0
        var deltaBytes = 0
        for kind in PayloadCounts.Kind.allCases {
            let messages = counts.messages[kind.rawValue]
            let bytes = counts.bytes[kind.rawValue]
            result[kind.name] = ["messages": messages, "bytes": bytes] as [String: Int]
            if kind.isDelta {
                deltaMessages += messages
                deltaBytes += bytes
            }
        }
        let snapshots = counts.messages[PayloadCounts.Kind.snapshot.rawValue]
        let snapshotMean = snapshots > 0 ? Double(counts.bytes[PayloadCounts.Kind.snapshot.rawValue]) / Double(snapshots) : 0
        let deltaMean = deltaMessages > 0 ? Double(deltaBytes) / Double(deltaMessages) : 0
        result["snapshot_mean_bytes"] = (snapshotMean * 10).rounded() / 10
        result["delta_mean_bytes"] = (deltaMean * 10).rounded() / 10
        return result
    }

    /// `summary.json`, `timeline.csv` and one `.hgrm` file per non-empty histogram.
    public func write(to directory: String, recorder: LatencyRecorder, timeline: SwarmTimeline? = nil) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: directory + "/summary.json"))
        if let timeline { try Data(timeline.csv.utf8).write(to: URL(fileURLWithPath: directory + "/timeline.csv")) }
        for name in LatencyRecorder.histogramNames {
            guard let histogram = recorder.histogram(name), histogram.totalCount > 0 else { continue }
            var text = ""
            histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1)
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/\(name).hgrm"))
        }
    }
}
