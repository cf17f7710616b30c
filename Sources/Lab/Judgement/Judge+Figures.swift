import Foundation

/// The figures of an arm, from its saved measurements: what the KPIs and the report read.
extension Judge {
    // MARK: - Figures

    public func figures(_ arm: ArmData) -> ArmFigures {
        var f = ArmFigures()
        f.dataFiles = arm.record.dataFiles
        f.replay = arm.record.replay
        f.requestCosts = arm.record.requestCosts
        f.foreignBridge = arm.record.foreignBridge
        f.profile = arm.record.profile
        if let profile = arm.loadgen?.profile, profile.name != nil {
            f.matchedBy = profile.matched_by
            f.unmatchedTrades = profile.unmatched_trades
            f.profileProblems = profile.problems ?? []
        }
        if let from = arm.record.idleFrom, let to = arm.record.idleTo {
            let idle = arm.samples.filter { $0.at >= from && $0.at <= to && $0.bridgeAlive }
            if !idle.isEmpty {
                f.idleCPU = idle.map(\.bridgePercent).reduce(0, +) / Double(idle.count)
                f.idleRSSMB = idle.map(\.bridgeRSSMB).reduce(0, +) / Double(idle.count)
                f.idleDescriptors = idle.map(\.bridgeDescriptors).max()
                f.idleSeconds = Double(to - from) / 1e6
            }
        }
        let window = arm.measuredSamples.filter(\.bridgeAlive)
        if !window.isEmpty {
            let n = Double(window.count)
            f.bridgeCPUUser = window.map(\.bridgeUserPercent).reduce(0, +) / n
            f.bridgeCPUSystem = window.map(\.bridgeSystemPercent).reduce(0, +) / n
            f.bridgeCPU = (f.bridgeCPUUser ?? 0) + (f.bridgeCPUSystem ?? 0)
            f.loadgenCPU = window.map(\.loadgenPercent).reduce(0, +) / n
            f.simulatorCPU = window.map(\.simulatorPercent).reduce(0, +) / n
            f.machineCPU = window.map(\.machinePercent).reduce(0, +) / n
            f.machineSaturatedShare = Double(window.filter { $0.machinePercent >= 95 }.count) / n
            let minutes = window.map { Double($0.at - window[0].at) / 60e6 }
            f.memoryTrend = Trend(x: minutes, y: window.map(\.bridgeRSSMB))
            f.descriptorTrend = Trend(x: minutes, y: window.map { Double($0.bridgeDescriptors) })
            f.socketTrend = Trend(x: minutes, y: window.map { Double($0.sockets["ESTABLISHED"] + $0.sockets["CLOSE_WAIT"]) })
        }
        let alive = arm.samples.filter(\.bridgeAlive)
        if !alive.isEmpty {
            f.bridgePeakRSSMB = alive.map(\.bridgePeakRSSMB).max()
            f.bridgeFinalRSSMB = alive.last?.bridgeRSSMB
            f.bridgeMaxThreads = alive.map(\.bridgeThreads).max()
            f.bridgeMaxDescriptors = alive.map(\.bridgeDescriptors).max()
            f.bridgeMaxProcesses = alive.map(\.bridgeProcesses).max()
            f.loadgenPeakRSSMB = arm.samples.map(\.loadgenRSSMB).max()
            for state in ResourceSample.socketColumns { f.maxSockets[state] = alive.map { $0.sockets[state] }.max() ?? 0 }
        }
        // The bridge's own counters, across the measured window.
        let scrapes = arm.metrics.filter { $0.at >= arm.record.measureFrom && $0.at <= arm.record.measureTo }
        if let first = scrapes.first, let last = scrapes.last, last.at > first.at, arm.record.crashes.isEmpty {
            let seconds = Double(last.at - first.at) / 1e6
            f.clientRequests = last.clientRequests - first.clientRequests
            f.requestsPerHour = (last.clientRequests - first.clientRequests) / seconds * 3600
            let sent = last.messagesSent - first.messagesSent
            f.bridgeMessagesPerSecond = sent / seconds
            if sent > 0, let cpu = f.bridgeCPU { f.bridgeMicrosecondsPerMessage = cpu / 100 * seconds * 1e6 / sent }
        }
        if let last = arm.metrics.last {
            f.detectToSendP50 = last.detectToSendPercentile(50).map { $0 * 1000 }
            f.detectToSendP99 = last.detectToSendPercentile(99).map { $0 * 1000 }
            f.queuedToWrittenP50 = last.queuedToWrittenPercentile(50).map { $0 * 1000 }
            f.queuedToWrittenP99 = last.queuedToWrittenPercentile(99).map { $0 * 1000 }
        }
        let peak = scrapes.map { $0.connections.values.reduce(0, +) }.max().map { Int($0) }
        f.peakConnections = peak
        // Memory per connection: only with enough connections for the difference to mean something.
        if let peak, peak >= 50, !window.isEmpty,
            let before = arm.samples.last(where: { $0.bridgeAlive && $0.at < arm.record.swarmStart })
        {
            let during = window.map(\.bridgeRSSMB).reduce(0, +) / Double(window.count)
            f.bridgeMemoryPerConnectionKB = (during - before.bridgeRSSMB) * 1024 / Double(peak)
        }
        // Memory kept per closed connection: from before the swarm to the last sample, after it left.
        if let closed = arm.metrics.last.map({ Int($0.connectionsClosed) }), arm.record.crashes.isEmpty {
            f.connectionsClosed = closed
            if closed > 0, let after = alive.last, after.at > arm.record.swarmEnd,
                let before = arm.samples.last(where: { $0.bridgeAlive && $0.at < arm.record.swarmStart })
            {
                f.memoryKeptPerClosedConnectionKB = (after.bridgeRSSMB - before.bridgeRSSMB) * 1024 / Double(closed)
            }
            // Each scrape in the window beside the resident memory sampled nearest before it.
            var x: [Double] = []
            var y: [Double] = []
            for scrape in scrapes {
                guard let sample = window.last(where: { $0.at <= scrape.at }) else { continue }
                x.append(scrape.connectionsClosed)
                y.append(sample.bridgeRSSMB)
            }
            f.memoryPerClosedTrend = Trend(x: x, y: y)
        }
        if let loadgen = arm.loadgen {
            f.updateLatency = loadgen.latency("update")
            f.pollRequest = loadgen.latency("poll_request")
            f.pollStaleness = loadgen.latency("poll_staleness")
            f.pollDelivery = loadgen.latency("poll_delivery")
            for stage in ["stage_write_to_wake", "stage_wake_to_queued", "stage_queued_to_decoded"] {
                if let value = loadgen.latency(stage) { f.stages[stage] = value }
            }
            f.loadgenMicrosecondsPerMessage = loadgen.generator.cpu_us_per_message
            f.information = information(loadgen, arm: arm.record.name)
            if let payload = loadgen.payload {
                for (name, count) in [("quote", payload.quote), ("depth", payload.depth), ("stats", payload.stats)] {
                    if let count, count.messages > 0 { f.deltaBytes[name] = Double(count.bytes) / Double(count.messages) }
                }
                if payload.snapshot_mean_bytes > 0 { f.snapshotBytes = payload.snapshot_mean_bytes }
            }
            // A bridge with no metrics route: what it sent is what the swarm received.
            if f.bridgeMessagesPerSecond == nil, arm.record.foreignBridge != nil, loadgen.updates.messages > 0, loadgen.elapsed_s > 0 {
                let seconds = loadgen.elapsed_s
                f.bridgeMessagesPerSecond = Double(loadgen.updates.messages) / seconds
                if let cpu = f.bridgeCPU { f.bridgeMicrosecondsPerMessage = cpu / 100 * seconds * 1e6 / Double(loadgen.updates.messages) }
                f.messagesCountedByClients = true
            }
        }
        let probes = arm.health.filter { $0.at >= arm.record.swarmStart && $0.at <= arm.record.swarmEnd && !arm.record.injectedOutage(at: $0.at) }
        f.healthProbes = probes.count
        f.healthAnswered = probes.filter { $0.milliseconds != nil }.count
        let answers = probes.compactMap(\.milliseconds).sorted()
        if !answers.isEmpty { f.healthP99Milliseconds = answers[min(answers.count - 1, Int(Double(answers.count) * 0.99))] }
        let events = arm.record.dashboardEvents.filter { $0 >= arm.record.swarmStart && $0 <= arm.record.swarmEnd }
        f.dashboardEvents = events.count
        if events.count >= 2 { f.dashboardMaxGap = zip(events.dropFirst(), events).map { Double($0 - $1) / 1e6 }.max() }
        return f
    }

    /// What the arm's clients asked for and got (see ``Information``).
    func information(_ loadgen: LoadgenReport, arm name: String) -> Information? {
        guard let config = loadgen.config, loadgen.elapsed_s > 0 else { return nil }
        let seconds = loadgen.elapsed_s
        let streaming = config.kinds.filter { Self.streamingKinds.contains($0.key) }.values.reduce(0, +)
        let pollers = config.kinds["poll"] ?? 0
        let matches = scenario.expandedArms.first { $0.name == name }?.matchesBaseline ?? false
        if streaming == 0, pollers > 0 {
            return Information(
                wants: "\(Format.plain(config.poll_rate)) polls a second",
                updatesPerClientSecond: Double(loadgen.http.requests) / Double(pollers) / seconds,
                freshness: loadgen.latency("poll_delivery"),
                tradesPerClientSecond: nil,
                barsPerClientSecond: nil
            )
        }
        guard streaming > 0 else { return nil }
        let payload = loadgen.payload
        let market = [payload?.trade, payload?.quote, payload?.depth, payload?.stats, payload?.bar].compactMap { $0?.messages }.reduce(0, +)
        let channels = config.channels.joined(separator: ", ")
        let wants: String
        if config.channels.allSatisfy({ $0.hasPrefix("bars:") }) {
            wants = config.channels.joined(separator: ", ")
        } else if let rate = config.max_rate {
            wants = "the latest state at most \(Format.plain(rate)) a second (\(channels))"
        } else {
            wants = "every update (\(channels))"
        }
        let perClient = { (count: Int?) -> Double? in payload == nil ? nil : Double(count ?? 0) / Double(streaming) / seconds }
        return Information(
            wants: wants,
            updatesPerClientSecond: Double(market) / Double(streaming) / seconds,
            freshness: loadgen.latency("delivery"),
            tradesPerClientSecond: perClient(payload?.trade?.messages),
            barsPerClientSecond: perClient(payload?.bar?.messages),
            matchesBaseline: matches
        )
    }
}
