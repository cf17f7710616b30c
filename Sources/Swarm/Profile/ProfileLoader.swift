import ConfigFile
import Foundation

/// Reads profile files strictly (docs/PROFILES.md): an unknown field, a path that is not one, a
/// URL with a placeholder nobody fills or a route the profile needs and lacks is refused with the
/// file, the line and the field.
public enum ProfileLoader {
    /// A profile by path, or by name from a `profiles/` folder (`plan` → `profiles/plan.yaml`).
    public static func locate(_ nameOrPath: String, searching folders: [String]) throws(ConfigFileError) -> String {
        try YAMLDocument.locate(nameOrPath, searching: folders, kind: "profile")
    }

    public static func load(_ nameOrPath: String, searching folders: [String] = []) throws(ConfigFileError) -> BridgeProfile {
        let path = try locate(nameOrPath, searching: folders)
        return try profile(YAMLDocument.load(path))
    }

    public static func parse(_ text: String, file: String) throws(ConfigFileError) -> BridgeProfile {
        try profile(YAMLField(file: file, path: "", node: try YAMLDocument.compose(text, file: file)))
    }

    static func profile(_ root: YAMLField) throws(ConfigFileError) -> BridgeProfile {
        let fields = try root.mapping(known: [
            "name", "description", "websocket", "sse", "poll", "health", "metrics", "dashboard", "trade", "quote", "snapshot", "batch", "fields",
        ])
        guard let name = fields["name"] else { throw root.error("a profile needs a name") }
        guard let health = fields["health"] else {
            throw root.error("a profile needs health: the URL the runner waits on, e.g. http://{host}:{port}/health")
        }
        var profile = BridgeProfile(name: try name.string(), health: try url(health, schemes: ["http"]))
        profile.file = root.file
        if let field = fields["description"] { profile.description = try field.string() }
        if let field = fields["websocket"] {
            let route = try field.mapping(known: ["url", "subscribe", "heartbeat"])
            guard let urlField = route["url"] else { throw field.error("needs url: ws://{host}:{port}/… ({symbol} for one connection per symbol)") }
            var webSocket = BridgeProfile.WebSocketRoute(url: try url(urlField, schemes: ["ws"]))
            if let subscribe = route["subscribe"] { webSocket.subscribe = try template(subscribe) }
            if !webSocket.perSymbol, webSocket.subscribe == nil {
                throw urlField.error("names no {symbol}: without one, subscribe must say what to send for the symbols")
            }
            if let heartbeat = route["heartbeat"] {
                let beat = try heartbeat.mapping(known: ["every", "text"])
                guard let every = beat["every"], let text = beat["text"] else { throw heartbeat.error("needs every (seconds) and text") }
                webSocket.heartbeat = .init(every: try every.number(0.1...3600, unit: "seconds"), text: try text.string())
            }
            profile.webSocket = webSocket
        }
        if let field = fields["sse"] { profile.sse = try url(try single(field, "url"), schemes: ["http"]) }
        if let field = fields["poll"] {
            let route = try field.mapping(known: ["url", "fields"])
            guard let urlField = route["url"] else { throw field.error("needs url: http://{host}:{port}/…/{symbol}") }
            var poll = BridgeProfile.PollRoute(url: try url(urlField, schemes: ["http"]))
            if let own = route["fields"] { poll.fields = try fieldPaths(own) }
            profile.poll = poll
        }
        if let field = fields["metrics"] { profile.metrics = try url(field, schemes: ["http"]) }
        if let field = fields["dashboard"] { profile.dashboard = try url(field, schemes: ["http"]) }
        if let field = fields["fields"] { profile.fields = try fieldPaths(field) }
        if let field = fields["batch"] { profile.batch = try path(field) }
        if let field = fields["trade"] { profile.trade = try recognizer(field) }
        if let field = fields["quote"] { profile.quote = try recognizer(field) }
        if let field = fields["snapshot"] { profile.snapshot = try recognizer(field) }
        guard profile.webSocket != nil || profile.sse != nil || profile.poll != nil else {
            throw root.error("names no route: a profile needs websocket, sse or poll")
        }
        if profile.webSocket != nil || profile.sse != nil {
            guard let trade = profile.trade else { throw root.error("needs trade: {match: {PATH: VALUE}}, how a trade message is recognised") }
            let tradeFields = profile.tradeFields
            guard tradeFields.price != nil, tradeFields.size != nil else {
                throw (fields["trade"] ?? root).error("a trade needs the paths of its price and size (fields: {price: …, size: …})")
            }
            _ = trade
        }
        return profile
    }

    /// A field that is a value or a mapping holding it under `key` (`sse: URL` or `sse: {url: URL}`).
    static func single(_ field: YAMLField, _ key: String) throws(ConfigFileError) -> YAMLField {
        if case .mapping = field.node {
            let fields = try field.mapping(known: [key])
            guard let value = fields[key] else { throw field.error("needs \(key)") }
            return value
        }
        return field
    }

    static func url(_ field: YAMLField, schemes: [String]) throws(ConfigFileError) -> String {
        let text = try template(field)
        guard schemes.contains(where: { text.hasPrefix("\($0)://") }) else {
            throw field.error("must start with \(schemes.map { "\($0)://" }.joined(separator: " or ")), got '\(text)'")
        }
        return text
    }

    static func template(_ field: YAMLField) throws(ConfigFileError) -> String {
        let text = try field.string()
        for name in URLTemplate.names(in: text) where !URLTemplate.placeholders.contains(name) {
            // A subscribe message is JSON: its braces are not placeholders unless they name one.
            if name.contains("\"") || name.contains(":") || name.contains("{") || name.contains(",") { continue }
            throw field.error("{\(name)} is no placeholder; known: \(URLTemplate.placeholders.map { "{\($0)}" }.joined(separator: ", "))")
        }
        return text
    }

    static func path(_ field: YAMLField) throws(ConfigFileError) -> FieldPath {
        let text = try field.string()
        do throws(FieldPathError) {
            return try FieldPath(parsing: text)
        } catch {
            throw field.error(error.description)
        }
    }

    static func recognizer(_ field: YAMLField) throws(ConfigFileError) -> BridgeProfile.Recognizer {
        let fields = try field.mapping(known: ["match", "fields"])
        guard let match = fields["match"] else { throw field.error("needs match: {PATH: VALUE}, e.g. match: {type: trade}") }
        var pairs: [(path: FieldPath, value: String)] = []
        for (key, value) in try match.entries() {
            let path: FieldPath
            do throws(FieldPathError) {
                path = try FieldPath(parsing: key)
            } catch {
                throw value.error(error.description)
            }
            pairs.append((path, try value.string()))
        }
        guard !pairs.isEmpty else { throw match.error("needs at least one PATH: VALUE") }
        return BridgeProfile.Recognizer(match: pairs, fields: try fields["fields"].map(fieldPaths))
    }

    static func fieldPaths(_ field: YAMLField) throws(ConfigFileError) -> BridgeProfile.Fields {
        let entries = try field.mapping(known: ["contract", "price", "size", "bid", "ask", "time", "seq", "price_scale"])
        var result = BridgeProfile.Fields()
        result.contract = try entries["contract"].map(path)
        result.price = try entries["price"].map(path)
        result.size = try entries["size"].map(path)
        result.bid = try entries["bid"].map(path)
        result.ask = try entries["ask"].map(path)
        result.seq = try entries["seq"].map(path)
        if let scale = entries["price_scale"] { result.priceScale = try scale.number(1e-12...1e12) }
        if let time = entries["time"] {
            let units = TimeUnit.allCases.map(\.rawValue).joined(separator: " | ")
            guard case .mapping = time.node else {
                throw time.error("needs its unit: time: {path: \(try time.string()), unit: \(units)}")
            }
            let parts = try time.mapping(known: ["path", "unit"])
            guard let pathField = parts["path"], let unit = parts["unit"] else { throw time.error("needs path and unit (\(units))") }
            result.time = try path(pathField)
            result.timeUnit = TimeUnit(rawValue: try unit.oneOf(TimeUnit.allCases.map(\.rawValue)))
        }
        return result
    }
}
