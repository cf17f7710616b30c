/// A fault the swarm's proxy applies at a time into the run. Parsed once from its text form
/// (`cut:15:3`), which is also how it is written: in a scenario's saved `scenario.json` and on
/// loadgen's command line (`--fault`).
public struct ScheduledFault: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Fault: Sendable, Equatable {
        /// Close every connection and refuse new ones for this many seconds.
        case cut(seconds: Double)
        /// Add latency (and jitter) in milliseconds, each direction.
        case latency(milliseconds: Double, jitter: Double)
        /// Limit each direction to this many bytes per second.
        case bandwidth(bytesPerSecond: Int)
        /// Reset (RST) every connection.
        case reset
        /// Swallow all data for this many seconds.
        case blackhole(seconds: Double)
        /// Delay closes by this many milliseconds.
        case slowClose(milliseconds: Double)
        /// Remove latency, bandwidth and slow-close toxics.
        case clear
        /// SIGKILL the bridge (started by loadgen with `--bridge-command`), start it again after
        /// this many seconds.
        case kill(downSeconds: Double)
    }

    /// Whether the fault needs the proxy (all but `kill`, which acts on the bridge process).
    public var needsProxy: Bool {
        if case .kill = fault { return false }
        return true
    }

    public var at: Double
    public var fault: Fault

    public init(at: Double, fault: Fault) {
        self.at = at
        self.fault = fault
    }

    /// `cut:AT:SECONDS`, `latency:AT:MS[:JITTER]`, `bandwidth:AT:BYTES_PER_S`, `reset:AT`,
    /// `blackhole:AT:SECONDS`, `slowclose:AT:MS`, `clear:AT`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        func number(_ index: Int) throws -> Double {
            guard index < parts.count, let value = Double(parts[index]), value >= 0, value.isFinite else {
                throw SwarmError("fault '\(text)': field \(index + 1) must be a non-negative number")
            }
            return value
        }
        guard parts.count >= 2 else { throw SwarmError("fault '\(text)': expected KIND:AT[:…], e.g. cut:3:5") }
        at = try number(1)
        switch parts[0] {
        case "cut": fault = .cut(seconds: try number(2))
        case "latency": fault = .latency(milliseconds: try number(2), jitter: parts.count > 3 ? try number(3) : 0)
        case "bandwidth":
            let rate = try number(2)
            guard rate >= 1 else { throw SwarmError("fault '\(text)': bandwidth must be at least 1 byte/s") }
            fault = .bandwidth(bytesPerSecond: Int(rate))
        case "reset": fault = .reset
        case "blackhole": fault = .blackhole(seconds: try number(2))
        case "slowclose": fault = .slowClose(milliseconds: try number(2))
        case "clear": fault = .clear
        case "kill": fault = .kill(downSeconds: parts.count > 2 ? try number(2) : 1)
        default: throw SwarmError("fault '\(text)': unknown kind '\(parts[0])' (cut, latency, bandwidth, reset, blackhole, slowclose, clear, kill)")
        }
    }

    /// The text form, which parses back to this fault.
    public var description: String {
        func plain(_ value: Double) -> String { value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value) }
        let at = plain(self.at)
        switch fault {
        case .cut(let seconds): return "cut:\(at):\(plain(seconds))"
        case .latency(let milliseconds, let jitter): return "latency:\(at):\(plain(milliseconds))" + (jitter > 0 ? ":\(plain(jitter))" : "")
        case .bandwidth(let rate): return "bandwidth:\(at):\(rate)"
        case .reset: return "reset:\(at)"
        case .blackhole(let seconds): return "blackhole:\(at):\(plain(seconds))"
        case .slowClose(let milliseconds): return "slowclose:\(at):\(plain(milliseconds))"
        case .clear: return "clear:\(at)"
        case .kill(let down): return "kill:\(at):\(plain(down))"
        }
    }

    public init(from decoder: any Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Applies the fault to a proxy.
    func apply(to proxy: FaultProxy) async {
        switch fault {
        case .cut(let seconds):
            proxy.cut(for: seconds)
        case .latency(let milliseconds, let jitter):
            proxy.toxics.latencyMilliseconds = milliseconds
            proxy.toxics.jitterMilliseconds = jitter
        case .bandwidth(let rate):
            proxy.toxics.bandwidth = rate
        case .reset:
            proxy.resetAll()
        case .blackhole(let seconds):
            proxy.toxics.blackhole = true
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            proxy.toxics.blackhole = false
        case .slowClose(let milliseconds):
            proxy.toxics.slowCloseMilliseconds = milliseconds
        case .clear:
            proxy.toxics = Toxics()
        case .kill:
            break  // applied to the bridge process, not the proxy
        }
    }
}
