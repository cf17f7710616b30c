import Foundation

/// How to talk to a bridge BridgeLab did not build, and how to read what it sends
/// (docs/PROFILES.md). Parsed once from `profiles/NAME.yaml` by ``ProfileLoader``; loadgen's
/// profile clients and `bridgelab probe` read every message through it.
public struct BridgeProfile: Sendable, Equatable {
    public var name: String
    public var description = ""
    /// The file it was read from (for error messages and reports).
    public var file = ""
    public var webSocket: WebSocketRoute?
    /// An SSE stream: `http://{host}:{port}/…`.
    public var sse: String?
    public var poll: PollRoute?
    /// A dashboard stream (SSE) the runner follows for the dashboard KPI, like the reference's
    /// `/api/stream/dashboard`.
    public var dashboard: String?
    /// The health route the runner waits on and probes: `http://{host}:{port}/health`.
    public var health: String
    /// A Prometheus route, if the bridge has one (scraped into the run's folder).
    public var metrics: String?
    /// How a trade, a quote and a snapshot are recognised.
    public var trade: Recognizer?
    public var quote: Recognizer?
    public var snapshot: Recognizer?
    /// An array at this path holds several updates in one message (each read as a message).
    public var batch: FieldPath?
    /// Where each value is in a message (a kind's own `fields` override these).
    public var fields = Fields()

    public init(name: String, health: String) {
        self.name = name
        self.health = health
    }

    /// One WebSocket per symbol (`{symbol}` in the URL), or one for all symbols and a subscribe
    /// message per symbol (or one naming `{symbols}`).
    public struct WebSocketRoute: Sendable, Equatable {
        public var url: String
        public var subscribe: String?
        /// Text the client sends every `every` seconds (a bridge that waits on `receive_text`).
        public var heartbeat: Heartbeat?
        public init(url: String) { self.url = url }

        /// Whether each symbol needs a connection of its own.
        public var perSymbol: Bool { url.contains("{symbol}") }
    }

    public struct Heartbeat: Sendable, Equatable {
        public var every: Double
        public var text: String
    }

    /// A polling route per symbol, and where its answer keeps the last trade.
    public struct PollRoute: Sendable, Equatable {
        public var url: String
        public var fields: Fields?
        public init(url: String) { self.url = url }
    }

    /// A message is this kind when every path holds its value (compared as text).
    public struct Recognizer: Sendable, Equatable {
        public var match: [(path: FieldPath, value: String)]
        public var fields: Fields?

        public static func == (lhs: Recognizer, rhs: Recognizer) -> Bool {
            lhs.fields == rhs.fields && lhs.match.map(\.path) == rhs.match.map(\.path) && lhs.match.map(\.value) == rhs.match.map(\.value)
        }
    }

    /// Field paths of a message's values; nil: the message does not carry it.
    public struct Fields: Sendable, Equatable {
        public var contract: FieldPath?
        public var price: FieldPath?
        public var size: FieldPath?
        public var bid: FieldPath?
        public var ask: FieldPath?
        public var time: FieldPath?
        public var timeUnit: TimeUnit?
        /// The record's position in its file, if the bridge sends it (BridgeLab's `seq`).
        public var seq: FieldPath?
        /// Display price = file price × this (a bridge that applies Sierra Chart's multiplier).
        public var priceScale: Double?
        public init() {}

        /// These fields, with `other`'s wherever it names one.
        public func overridden(by other: Fields?) -> Fields {
            guard let other else { return self }
            var merged = self
            merged.contract = other.contract ?? contract
            merged.price = other.price ?? price
            merged.size = other.size ?? size
            merged.bid = other.bid ?? bid
            merged.ask = other.ask ?? ask
            merged.time = other.time ?? time
            merged.timeUnit = other.timeUnit ?? timeUnit
            merged.seq = other.seq ?? seq
            merged.priceScale = other.priceScale ?? priceScale
            return merged
        }
    }

    /// The fields of a trade (the profile's, with the trade's own on top).
    public var tradeFields: Fields { fields.overridden(by: trade?.fields) }
    public var quoteFields: Fields { fields.overridden(by: quote?.fields) }
    public var snapshotFields: Fields { fields.overridden(by: snapshot?.fields) }
    /// A poll answer's fields: the profile's, then the snapshot's, then the poll route's own.
    public var pollFields: Fields { snapshotFields.overridden(by: poll?.fields) }

    /// Whether the bridge sends each trade's record time (else trades are matched by order).
    public var matchesByTime: Bool { tradeFields.time != nil }

    /// How trades are matched to records: by the bridge's own record positions, by time, or by order.
    public var matchedBy: String { tradeFields.seq != nil ? "seq" : (matchesByTime ? "time" : "order") }
}

extension BridgeProfile {
    /// Why a client kind cannot run through this profile (nil: it can): ws, sse and poll need
    /// their route, leak the poll route; the other kinds speak the reference bridge's protocol.
    public func refusal(for kind: ClientKind) -> String? {
        switch kind {
        case .ws, .sse, .poll, .leak:
            let route = kind == .ws ? "websocket" : (kind == .sse ? "sse" : "poll")
            let present = kind == .ws ? webSocket != nil : (kind == .sse ? sse != nil : poll != nil)
            return present ? nil : "the profile \(name) (\(file)) has no \(route) route"
        default:
            return "it speaks the reference bridge's protocol; through a profile only ws, sse, poll and leak run"
        }
    }
}

/// A URL of a profile with its placeholders filled.
public struct URLTemplate: Sendable {
    public static let placeholders = ["host", "port", "symbol", "symbols", "channels", "token"]

    /// `template` with `{name}` replaced by `values[name]` (an unknown one is left as it is).
    public static func fill(_ template: String, _ values: [String: String]) -> String {
        var result = template
        for (name, value) in values { result = result.replacingOccurrences(of: "{\(name)}", with: value) }
        return result
    }

    /// The path and query of a filled `http://host:port/…` or `ws://host:port/…` URL.
    public static func path(of url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return String(rest[slash...])
    }

    /// The `{name}` placeholders in `template`.
    public static func names(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}
