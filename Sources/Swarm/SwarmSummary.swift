import Foundation
import Histogram

/// What a swarm run measured: ``summary`` is the documented `summary.json` (docs/LOADGEN.md),
/// `text` the short human version.
public struct SwarmSummary: Sendable {
    public static let schema = LoadgenSummary.schema

    public let summary: LoadgenSummary
    public let text: String

    /// The summary as a JSON tree (what `summary.json` holds).
    public var json: [String: Any] {
        (try? summary.encoded()).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
    }

    /// Percentiles of one histogram, in microseconds.
    static func percentiles(_ histogram: Histogram<UInt64>?) -> LoadgenSummary.Percentiles {
        LoadgenSummary.Percentiles(histogram)
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
        var latency: [String: LoadgenSummary.Percentiles] = [:]
        for name in LatencyRecorder.histogramNames { latency[name] = percentiles(recorder.histogram(name)) }
        let lookups = totals.cacheHits + totals.cacheMisses
        func keyed<Key>(_ counts: [Key: Int], _ name: (Key) -> String) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: counts.map { (name($0.key), $0.value) })
        }
        let summary = LoadgenSummary(
            schema: schema,
            started_unix_us: startedAt,
            elapsed_s: (elapsed * 1000).rounded() / 1000,
            config: .init(
                url: configuration.url,
                clients: configuration.clients,
                kinds: planned,
                symbols: configuration.symbols,
                channels: configuration.channels.map(\.rawValue),
                duration_s: configuration.duration,
                arrival_rate: configuration.arrivalRate ?? 0,
                ramp_down_s: configuration.rampDown,
                poll_rate: configuration.pollRate,
                cache_reads_per_s: configuration.cacheReadsPerSecond,
                max_rate: configuration.maxRate,
                data_dir: configuration.dataDirectory ?? ""
            ),
            clients: .init(started: keyed(totals.started, \.rawValue), connected: keyed(totals.connected, \.rawValue)),
            updates: .init(
                messages: totals.messages,
                measured: totals.measuredUpdates,
                bytes: totals.bytes,
                trades: totals.trades,
                lost: lost ?? -1,
                gaps: totals.gaps,
                duplicates: totals.duplicates,
                out_of_order: totals.outOfOrder
            ),
            payload: payload(totals.payload),
            latency_us: latency,
            latency_unresolved: recorder.unresolved,
            latency_negative: recorder.negative,
            http: .init(
                requests: totals.httpRequests,
                status: keyed(totals.httpStatus, String.init),
                sse_connect_status: keyed(totals.sseStatus, String.init)
            ),
            resumes: .init(recovered: totals.resumesRecovered, not_recovered: totals.resumesNotRecovered, reconnects: totals.reconnects),
            cache: .init(hits: totals.cacheHits, misses: totals.cacheMisses, hit_rate: lookups > 0 ? Double(totals.cacheHits) / Double(lookups) : 0),
            errors: totals.errors,
            server_errors: totals.serverErrors,
            close_codes: keyed(totals.closeCodes, String.init),
            generator: .init(
                cpu_user_s: (usage.userSeconds * 100).rounded() / 100,
                cpu_system_s: (usage.systemSeconds * 100).rounded() / 100,
                cpu_percent_of_core: (usage.cpuPercent * 10).rounded() / 10,
                peak_rss_mb: (usage.peakResidentMegabytes * 10).rounded() / 10,
                cpu_us_per_message: totals.messages > 0
                    ? ((usage.userSeconds + usage.systemSeconds) * 1e6 / Double(totals.messages) * 100).rounded() / 100 : 0
            ),
            profile: profileSection(configuration.profile, totals)
        )

        func ms(_ name: String, _ key: KeyPath<LoadgenSummary.Percentiles, Int?>) -> String {
            guard let value = latency[name]?[keyPath: key] else { return "-" }
            return String(format: "%.3f ms", Double(value) / 1000)
        }
        var text =
            "loadgen: \(kinds.count) clients (\(planned.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))) for \(String(format: "%.1f", elapsed)) s\n"
        text +=
            "  messages \(totals.messages), trades \(totals.trades), lost \(lost.map(String.init) ?? "n/a (no --data-dir)"), gaps \(totals.gaps), duplicates \(totals.duplicates), out of order \(totals.outOfOrder)\n"
        let update = recorder.histogram("update")?.totalCount ?? 0
        text +=
            "  update latency (write → decode): p50 \(ms("update", \.p50)), p99 \(ms("update", \.p99)), p99.9 \(ms("update", \.p99_9)), max \(ms("update", \.max)) over \(update) updates"
        text += recorder.unresolved > 0 ? " (\(recorder.unresolved) not in the journal)\n" : "\n"
        if totals.httpRequests > 0 {
            text +=
                "  polls: \(totals.httpRequests) requests \(totals.httpStatus.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key)" }.joined(separator: " ")); "
            text +=
                "request p99 \(ms("poll_request", \.p99)) (from intended send), data staleness p50 \(ms("poll_staleness", \.p50)), p99 \(ms("poll_staleness", \.p99))\n"
        }
        text += "  resumes: \(totals.resumesRecovered) recovered, \(totals.resumesNotRecovered) not; reconnect p99 \(ms("reconnect", \.p99))\n"
        if let profile = configuration.profile {
            text +=
                "  profile \(profile.name): trades matched to records by \(profile.matchedBy), \(totals.unmatchedTrades) unmatched\n"
            for problem in totals.problems.sorted() { text += "  profile problem: \(problem)\n" }
        }
        text += String(format: "  generator: %.1f%% of a core, %.0f MB peak\n", usage.cpuPercent, usage.peakResidentMegabytes)
        return SwarmSummary(summary: summary, text: text)
    }

    /// How a profiled bridge was read: by which profile, how trades were matched to records, and
    /// what could not be (empty for the reference bridge's own protocol).
    static func profileSection(_ profile: BridgeProfile?, _ totals: SwarmTotals.Values) -> LoadgenSummary.Profile? {
        guard let profile else { return nil }
        let matchedBy = profile.matchedBy
        return .init(
            name: profile.name,
            file: profile.file,
            matched_by: matchedBy,
            unmatched_trades: totals.unmatchedTrades,
            problems: totals.problems.sorted()
        )
    }

    /// Messages and bytes per type, and the mean size of a delta against a snapshot's.
    static func payload(_ counts: PayloadCounts) -> LoadgenSummary.Payload {
        var deltaMessages = 0
        var deltaBytes = 0
        func count(_ kind: PayloadCounts.Kind) -> LoadgenSummary.Count {
            .init(messages: counts.messages[kind.rawValue], bytes: counts.bytes[kind.rawValue])
        }
        for kind in PayloadCounts.Kind.allCases where kind.isDelta {
            deltaMessages += counts.messages[kind.rawValue]
            deltaBytes += counts.bytes[kind.rawValue]
        }
        let snapshots = counts.messages[PayloadCounts.Kind.snapshot.rawValue]
        let snapshotMean = snapshots > 0 ? Double(counts.bytes[PayloadCounts.Kind.snapshot.rawValue]) / Double(snapshots) : 0
        let deltaMean = deltaMessages > 0 ? Double(deltaBytes) / Double(deltaMessages) : 0
        return .init(
            snapshot: count(.snapshot),
            trade: count(.trade),
            quote: count(.quote),
            depth: count(.depth),
            stats: count(.stats),
            bar: count(.bar),
            other: count(.other),
            snapshot_mean_bytes: (snapshotMean * 10).rounded() / 10,
            delta_mean_bytes: (deltaMean * 10).rounded() / 10
        )
    }

    /// `summary.json`, `timeline.csv` and one `.hgrm` file per non-empty histogram.
    public func write(to directory: String, recorder: LatencyRecorder, timeline: SwarmTimeline? = nil) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try summary.encoded().write(to: URL(fileURLWithPath: directory + "/summary.json"))
        if let timeline { try Data(timeline.csv.utf8).write(to: URL(fileURLWithPath: directory + "/timeline.csv")) }
        for name in LatencyRecorder.histogramNames {
            guard let histogram = recorder.histogram(name), histogram.totalCount > 0 else { continue }
            var text = ""
            histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1)
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/\(name).hgrm"))
        }
    }
}

extension LoadgenSummary.Percentiles {
    /// The percentiles of `histogram` (only `count`, 0, when it is empty or nil).
    public init(_ histogram: Histogram<UInt64>?) {
        guard let histogram, histogram.totalCount > 0 else {
            self.init(count: 0)
            return
        }
        self.init(
            count: Int(histogram.totalCount),
            min: Int(histogram.min),
            p50: Int(histogram.valueAtPercentile(50)),
            p90: Int(histogram.valueAtPercentile(90)),
            p99: Int(histogram.valueAtPercentile(99)),
            p99_9: Int(histogram.valueAtPercentile(99.9)),
            max: Int(histogram.max),
            mean: (histogram.mean * 10).rounded() / 10
        )
    }
}
