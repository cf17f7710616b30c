import Foundation

/// Judges an arm's saved measurements against the plan's KPIs (and BridgeLab's tighter targets).
public struct Judge: Sendable {
    public let scenario: Scenario

    public init(scenario: Scenario) { self.scenario = scenario }

    static let webSocketKinds: Set<String> = ["ws", "slow", "stuck", "vanish", "churn", "malformed"]
    static let streamingKinds: Set<String> = ["ws", "sse", "slow"]

    // MARK: - KPIs

    /// Every KPI of the catalogue for `arm`; `baselines` are the scenario's baseline arms' figures.
    public func judge(_ arm: ArmData, figures f: ArmFigures, baselines: [(name: String, figures: ArmFigures)]) -> [KPIResult] {
        KPI.catalog.map { kpi in
            var plan = kpi.plan
            var lab = kpi.lab
            if let override = scenario.kpis[kpi.id.rawValue] {
                if !override.enabled { return result(kpi, plan, lab, nil, .notApplicable, "left out by the scenario") }
                plan = override.plan ?? plan
                lab = override.lab ?? lab
            }
            switch measure(kpi.id, arm, f, baselines) {
            case .notApplicable(let why): return result(kpi, plan, lab, nil, .notApplicable, why)
            case .notMeasured(let why): return result(kpi, plan, lab, nil, .notMeasured, why)
            case .value(let measured, let note): return result(kpi, plan, lab, measured, kpi.meets(measured, plan) ? .pass : .fail, note)
            }
        }
    }

    func result(_ kpi: KPI, _ plan: Double, _ lab: Double, _ measured: Double?, _ status: KPIResult.Status, _ note: String) -> KPIResult {
        var labStatus = status
        if let measured, status == .pass || status == .fail { labStatus = kpi.meets(measured, lab) ? .pass : .fail }
        return KPIResult(
            id: kpi.id.rawValue,
            title: kpi.title,
            unit: kpi.unit,
            direction: kpi.direction,
            plan: plan,
            lab: lab,
            measured: measured,
            status: status,
            labStatus: labStatus,
            note: note
        )
    }

    /// What one KPI found for one arm.
    enum Measurement {
        case notApplicable(String)
        case notMeasured(String)
        case value(Double, String)

        /// A value when there is one, else "not measured" with `why`.
        static func value(_ value: Double?, _ note: String, else why: String) -> Measurement {
            value.map { .value($0, note) } ?? .notMeasured(why)
        }
    }

    func measure(_ id: KPIID, _ arm: ArmData, _ f: ArmFigures, _ baselines: [(name: String, figures: ArmFigures)]) -> Measurement {
        let record = arm.record
        let kinds = record.kinds.filter { $0.value > 0 }.map(\.key)
        let streaming = kinds.contains { Self.streamingKinds.contains($0) }
        let pollers = kinds.contains("poll")
        let noClients = "no client of this arm measures it"
        // The bridge-side KPIs need nothing from loadgen; the rest need its summary.
        if let measurement = bridgeSide(id, arm, f, baselines) { return measurement }
        guard let loadgen = arm.loadgen else { return .notMeasured("loadgen wrote no summary") }
        func ms(_ value: Int?) -> Double? { value.map { Double($0) / 1000 } }
        // Clients that asked for less than every update (the latest state a few times a second, or
        // bars) hold their data back on purpose: the latency, detection, staleness and delta KPIs
        // are about every update and are judged on arms that take them; here the freshness is shown.
        if streaming, !pollers, [.latencyE2E, .detection, .staleness, .deltaSize].contains(id), let config = loadgen.config {
            let freshness = ms(loadgen.latency("delivery")?.p99).map { "; its data's freshness p99 is \(Format.number($0)) ms" } ?? ""
            if config.channels.allSatisfy({ $0.hasPrefix("bars:") }) {
                return .notApplicable("its clients take bars (\(config.channels.joined(separator: ", "))), not every update\(freshness)")
            }
            if let rate = config.max_rate {
                return .notApplicable(
                    "its clients take the latest full state at most \(Format.plain(rate)) a second (max_rate): updates are held on purpose\(freshness)"
                )
            }
        }
        switch id {
        case .latencyE2E:
            if streaming {
                let update = loadgen.latency("update")
                return .value(ms(update?.p99), "write → decode over \(update?.count ?? 0) updates", else: "no update was measured")
            }
            if pollers {
                let delivery = loadgen.latency("poll_delivery")
                return .value(
                    ms(delivery?.p99),
                    "pollers: write → the first answer that carried it, over \(delivery?.count ?? 0) records",
                    else: "no poll answer carried new data"
                )
            }
            return .notApplicable(noClients)
        case .detection:
            guard record.isEventMode else { return .notApplicable("a polling bridge detects nothing: it reads on request (see staleness)") }
            guard streaming else { return .notApplicable(noClients) }
            let inside = f.detectToSendP99.map { "; inside the bridge, wake → queued p99 ≤ \(Format.number($0)) ms" } ?? ""
            // With trace timestamps the bridge says when it woke: detection is measured, not bounded.
            if let wake = f.stages["stage_write_to_wake"], let p99 = ms(wake.p99) {
                return .value(p99, "measured: write → wake p99 (trace timestamps) over \(wake.count) updates\(inside)")
            }
            return .value(
                ms(loadgen.latency("update")?.p99),
                "upper bound: write → decode p99 (no trace timestamps)\(inside)",
                else: "no update was measured"
            )
        case .reconnect:
            // Churning clients leave on purpose; only a fault makes clients reconnect.
            guard !scenario.faults.isEmpty else { return .notApplicable("no fault in this scenario") }
            guard streaming else { return .notApplicable(noClients) }
            guard let reconnect = loadgen.latency("reconnect") else { return .notMeasured("no client reconnected") }
            return .value(Double(reconnect.p99 ?? 0) / 1e6, "\(reconnect.count) reconnects")
        case .loss:
            guard streaming else { return .notApplicable(noClients) }
            let u = loadgen.updates
            guard u.lost >= 0 else { return .notMeasured("loadgen had no data folder to count against") }
            // A profiled bridge's trades are matched to their records: one matching none is wrong data.
            let unmatched = loadgen.profile?.unmatched_trades ?? 0
            let matching = loadgen.profile?.matched_by.map { "; matched to records by \($0)" } ?? ""
            return .value(
                Double(u.lost + u.gaps + u.duplicates + u.out_of_order + unmatched),
                "lost \(u.lost), gaps \(u.gaps), duplicates \(u.duplicates), out of order \(u.out_of_order)"
                    + (loadgen.profile?.name != nil ? ", matching no record \(unmatched)" : "") + " of \(u.trades) trades\(matching)"
            )
        case .deltaSize:
            guard streaming else { return .notApplicable(noClients) }
            guard let payload = loadgen.payload, payload.snapshot_mean_bytes > 0, payload.delta_mean_bytes > 0 else {
                return .notMeasured("no snapshots or no deltas received")
            }
            let channels = ["quote", "depth", "stats"].compactMap { name in f.deltaBytes[name].map { "\(name) \(Format.number($0)) B" } }
            return .value(
                (1 - payload.delta_mean_bytes / payload.snapshot_mean_bytes) * 100,
                "delta \(Format.number(payload.delta_mean_bytes)) B vs snapshot \(Format.number(payload.snapshot_mean_bytes)) B on average ("
                    + channels.joined(separator: ", ") + ")"
            )
        case .sync:
            guard streaming else { return .notApplicable(noClients) }
            return .value(ms(loadgen.latency("subscribe_to_snapshot")?.p99), "connected → first snapshot", else: "no snapshot was received")
        case .cacheHit:
            guard kinds.contains("ws"), (loadgen.config?.cache_reads_per_s ?? scenario.swarm.cacheReads) > 0 else {
                return .notApplicable("no ws client reads a cache")
            }
            guard record.profile == nil else { return .notApplicable("the clients talk through a profile: they keep no local cache of their own") }
            let lookups = loadgen.cache.hits + loadgen.cache.misses
            guard lookups > 0 else { return .notMeasured("no cache reads") }
            return .value(loadgen.cache.hit_rate * 100, "\(loadgen.cache.hits) hits, \(loadgen.cache.misses) misses")
        case .staleness:
            if pollers {
                return .value(
                    ms(loadgen.latency("poll_staleness")?.p99),
                    "pollers: age of the newest record in each answer",
                    else: "no poll answer carried data"
                )
            }
            if streaming {
                return .value(
                    ms(loadgen.latency("update")?.p99),
                    "pushed: data is as old as its delivery (write → decode p99)",
                    else: "no update was measured"
                )
            }
            return .notApplicable(noClients)
        case .pollingLoops:
            return .value(
                Double(loadgen.http.requests),
                pollers ? "pollers at \(Format.number(scenario.swarm.pollRate))/s each" : "HTTP polls by clients"
            )
        case .cpu, .cpuVsBaseline, .memory, .memoryTrend, .memoryPerClosed, .descriptorTrend, .socketTrend, .wsClients, .requestsPerHour, .dashboard,
            .leaks, .uptime:
            // Judged from the bridge's side above: not reached.
            return .notApplicable("judged from the bridge's side")
        }
    }

    /// The KPIs judged from the bridge's side alone (samples, scrapes, probes); nil for the others.
    func bridgeSide(_ id: KPIID, _ arm: ArmData, _ f: ArmFigures, _ baselines: [(name: String, figures: ArmFigures)]) -> Measurement? {
        let record = arm.record
        let noBridge = "no samples of a live bridge"
        switch id {
        case .cpu:
            return .value(f.bridgeCPU, "mean over the measured window", else: noBridge)
        case .cpuVsBaseline:
            guard record.role == .candidate, !baselines.isEmpty else { return .notApplicable("no baseline arm to compare with") }
            guard let cpu = f.bridgeCPU else { return .notMeasured(noBridge) }
            let measured = baselines.compactMap { b in b.figures.bridgeCPU.map { (b.name, $0) } }.filter { $0.1 > 0 }
            guard let cheapest = measured.min(by: { $0.1 < $1.1 }) else { return .notMeasured("the baselines have no CPU samples") }
            let lower = (1 - cpu / cheapest.1) * 100
            // At equal information: when an arm is marked as getting what the pollers get, the
            // plan's comparison is that arm's; one sending more (every update) or other (bars)
            // information is shown, not judged.
            let matching = scenario.expandedArms.filter { $0.role == .candidate && $0.matchesBaseline }.map(\.name)
            let against = "against \(cheapest.0) (\(Format.number(cheapest.1)) % of a core), the cheapest baseline"
            if !matching.isEmpty, f.information?.matchesBaseline != true {
                return .notApplicable(
                    "\(Format.number(lower)) % lower \(against), but its clients get \(f.information?.wants ?? "other information"); "
                        + "judged at equal information on \(matching.joined(separator: ", "))"
                )
            }
            return .value(lower, against + (matching.isEmpty ? "" : ", at equal information (the latest state as often as a poller asks)"))
        case .memory:
            return .value(f.bridgePeakRSSMB, "peak resident memory", else: noBridge)
        case .memoryTrend:
            let minutes = Double(record.measureTo - record.measureFrom) / 60e6
            // A slope over a few seconds measures start-up allocation, not a leak.
            guard minutes >= Self.minimumTrendMinutes else {
                return .notApplicable(
                    "the measured window is under \(Format.number(Self.minimumTrendMinutes)) min: start-up growth (history filling) cannot be told from a leak; see the soak scenario"
                )
            }
            guard let trend = f.memoryTrend else { return .notMeasured("too few samples for a trend") }
            return .value(max(0, trend.upper), String(format: "slope %.3f ± %.3f MB/min over %.1f min", trend.slope, trend.slopeMargin, minutes))
        case .descriptorTrend, .socketTrend:
            let minutes = Double(record.measureTo - record.measureFrom) / 60e6
            guard minutes >= Self.minimumTrendMinutes else {
                return .notApplicable("the measured window is under \(Format.number(Self.minimumTrendMinutes)) min: too short for a trend")
            }
            let (trend, what) = id == .descriptorTrend ? (f.descriptorTrend, "descriptors") : (f.socketTrend, "sockets")
            guard let trend else { return .notMeasured("too few samples for a trend") }
            return .value(
                max(0, trend.upper),
                String(format: "slope %.2f ± %.2f ", trend.slope, trend.slopeMargin) + what + String(format: "/min over %.1f min", minutes)
            )
        case .wsClients:
            let planned = plannedClients(of: Self.webSocketKinds, in: record)
            guard record.isEventMode, planned >= 10 else { return .notApplicable("\(planned) WebSocket clients planned (under 10)") }
            let window = arm.metrics.filter { $0.at >= record.measureFrom && $0.at <= record.measureTo }.map { $0.connections["ws"] ?? 0 }
            if window.isEmpty, record.foreignBridge != nil, let connected = arm.loadgen?.clients.connected["ws"] {
                return .value(Double(connected), "client side: ws clients that connected (the bridge's own gauge is not scraped); \(planned) planned")
            }
            guard !window.isEmpty else { return .notMeasured("no /metrics scrapes in the window") }
            return .value(median(window), "median over \(window.count) scrapes; \(planned) planned")
        case .requestsPerHour:
            if f.requestsPerHour == nil, record.foreignBridge != nil, let loadgen = arm.loadgen, loadgen.elapsed_s > 0 {
                return .value(
                    Double(loadgen.http.requests) / loadgen.elapsed_s * 3600,
                    "client side: \(loadgen.http.requests) requests the swarm sent (the bridge's own counter is not scraped)"
                )
            }
            return .value(
                f.requestsPerHour,
                "\(Format.number(f.clientRequests ?? 0)) requests in the window",
                else: "no /metrics scrapes across the window"
            )
        case .dashboard:
            guard record.isEventMode else { return .notApplicable("only event mode streams the dashboard") }
            guard record.foreignBridge == nil || record.dashboardFollowed else {
                return .notMeasured("the bridge's profile names no dashboard route to follow")
            }
            guard scenario.duration >= 12 else { return .notApplicable("the run is shorter than two dashboard intervals") }
            return .value(f.dashboardMaxGap, "\(f.dashboardEvents) events", else: "fewer than two dashboard events")
        case .leaks:
            guard let before = record.before, let after = record.after else { return .notMeasured("the bridge was not running at the end") }
            let extra = max(0, after.descriptors - before.descriptors - Self.descriptorTolerance)
            let closeWait = after.sockets["CLOSE_WAIT"]
            return .value(
                Double(closeWait + extra),
                "CLOSE_WAIT \(closeWait); descriptors \(before.descriptors) before, \(after.descriptors) after (tolerance \(Self.descriptorTolerance))"
            )
        case .memoryPerClosed:
            guard let closed = f.connectionsClosed else {
                if record.foreignBridge != nil, arm.metrics.isEmpty {
                    return .notMeasured("the bridge's profile names no metrics route: the connections it closed are not counted")
                }
                return .notMeasured("no /metrics scrape, or the bridge crashed")
            }
            // Resident memory moves in pages and allocator arenas: a few closed connections say nothing.
            guard closed >= Self.minimumClosedConnections else {
                return .notApplicable("\(closed) connections closed (under \(Self.minimumClosedConnections)): too few to read in resident memory")
            }
            let difference = f.memoryKeptPerClosedConnectionKB.map { String(format: "%.3f KB", $0) } ?? "—"
            // The slope against the connections closed after warm-up is what each one leaves; the
            // difference from before the swarm to after it also holds one-off growth (the trade
            // history filling, allocator arenas), so it is the figure only when there is no slope.
            if let trend = f.memoryPerClosedTrend {
                return .value(
                    max(0, trend.upper * 1024),
                    String(format: "%.3f ± %.3f KB", trend.slope * 1024, trend.slopeMargin * 1024)
                        + " per closed connection after warm-up (95 % upper bound); \(difference) from before the swarm to after it, over \(closed) connections closed"
                )
            }
            return .value(
                f.memoryKeptPerClosedConnectionKB,
                "\(closed) connections closed, from before the swarm to after it",
                else: "no sample before the swarm or after it left"
            )
        case .uptime:
            guard f.healthProbes > 0 else { return .notMeasured("no /health probes during the swarm") }
            let injected = record.outages.map { Double($0.to - $0.from) / 1e6 }.reduce(0, +)
            let excluded = injected > 0 ? String(format: " (%.1f s of outage the runner injected left out)", injected) : ""
            return .value(
                Double(f.healthAnswered) / Double(f.healthProbes) * 100,
                "\(f.healthAnswered) of \(f.healthProbes) probes answered\(excluded)"
            )
        case .latencyE2E, .detection, .pollingLoops, .reconnect, .loss, .deltaSize, .sync, .cacheHit, .staleness:
            return nil
        }
    }

    /// Shorter windows see bounded start-up growth (trade history and allocator pools filling)
    /// that a slope cannot tell from a leak; the soak scenario runs long enough.
    static let minimumTrendMinutes = 2.0

    /// Closed connections below which memory kept per connection is not judged.
    static let minimumClosedConnections = 1_000

    /// Descriptors a bridge may keep open after its clients leave (a data file opened lazily).
    static let descriptorTolerance = 2

    func plannedClients(of kinds: Set<String>, in record: ArmRecord) -> Int {
        let total = record.kinds.values.reduce(0, +)
        guard total > 0 else { return 0 }
        let share = record.kinds.filter { kinds.contains($0.key) }.values.reduce(0, +) / total
        return Int((Double(record.clients) * share).rounded())
    }

    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
