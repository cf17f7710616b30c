import Yams

/// A node of a configuration file (scenario, profile, suite) with its dotted path, read strictly: every value is checked for its
/// type and range, and every mapping for keys it does not know, each failure naming its line.
public struct YAMLField {
    package init(file: String, path: String, node: Node) {
        self.file = file
        self.path = path
        self.node = node
    }

    package let file: String
    package let path: String
    package let node: Node

    package var line: Int? { node.mark.map { $0.line } }

    package func error(_ problem: String) -> ConfigFileError {
        ConfigFileError(file: file, line: line, field: path, problem: problem)
    }

    /// What the node holds, said for an error message.
    package var shown: String {
        switch node {
        case .scalar(let scalar): return "'\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    package func child(_ key: String, _ node: Node) -> YAMLField {
        YAMLField(file: file, path: path.isEmpty ? key : "\(path).\(key)", node: node)
    }

    /// The mapping's fields by key, refusing keys not in `known` and repeated keys.
    package func mapping(known: [String]) throws(ConfigFileError) -> [String: YAMLField] {
        guard case .mapping(let mapping) = node else { throw error("must be a mapping (key: value lines), got \(shown)") }
        var fields: [String: YAMLField] = [:]
        for (key, value) in mapping {
            guard case .scalar(let name) = key else { throw error("keys must be plain names") }
            let field = child(name.string, value)
            guard known.contains(name.string) else {
                throw ConfigFileError(
                    file: file,
                    line: key.mark.map { $0.line },
                    field: field.path,
                    problem: "unknown field; known here: \(known.joined(separator: ", "))"
                )
            }
            guard fields[name.string] == nil else { throw field.error("appears twice") }
            fields[name.string] = field
        }
        return fields
    }

    /// A mapping with free keys (kinds and their weights, KPI overrides).
    package func entries() throws(ConfigFileError) -> [(key: String, value: YAMLField)] {
        guard case .mapping(let mapping) = node else { throw error("must be a mapping, got \(shown)") }
        var result: [(String, YAMLField)] = []
        for (key, value) in mapping {
            guard case .scalar(let name) = key else { throw error("keys must be plain names") }
            result.append((name.string, child(name.string, value)))
        }
        return result
    }

    package func list() throws(ConfigFileError) -> [YAMLField] {
        guard case .sequence(let sequence) = node else { throw error("must be a list, got \(shown)") }
        return sequence.enumerated().map { YAMLField(file: file, path: "\(path)[\($0.offset)]", node: $0.element) }
    }

    package func string() throws(ConfigFileError) -> String {
        guard case .scalar(let scalar) = node else { throw error("must be text, got \(shown)") }
        return scalar.string
    }

    package func strings() throws(ConfigFileError) -> [String] {
        var result: [String] = []
        for item in try list() { result.append(try item.string()) }
        return result
    }

    package func number(_ range: ClosedRange<Double>, unit: String = "") throws(ConfigFileError) -> Double {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
            throw error("must be a number\(unit.isEmpty ? "" : " (\(unit))"), got \(shown)")
        }
        guard range.contains(value) else {
            throw error("must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound)), got \(shown)")
        }
        return value
    }

    package func integer(_ range: ClosedRange<Int>) throws(ConfigFileError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else { throw error("must be a whole number, got \(shown)") }
        guard range.contains(value) else { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(shown)") }
        return value
    }

    package func bool() throws(ConfigFileError) -> Bool {
        guard case .scalar(let scalar) = node else { throw error("must be true or false, got \(shown)") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("must be true or false, got \(shown)")
        }
    }

    package func oneOf(_ choices: [String]) throws(ConfigFileError) -> String {
        let value = try string()
        guard choices.contains(value) else { throw error("must be one of \(choices.joined(separator: ", ")), got '\(value)'") }
        return value
    }

    package static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
