import Yams

/// A node of a scenario file with its dotted path, read strictly: every value is checked for its
/// type and range, and every mapping for keys it does not know, each failure naming its line.
struct YAMLField {
    let file: String
    let path: String
    let node: Node

    var line: Int? { node.mark.map { $0.line } }

    func error(_ problem: String) -> ScenarioError {
        ScenarioError(file: file, line: line, field: path, problem: problem)
    }

    /// What the node holds, said for an error message.
    var shown: String {
        switch node {
        case .scalar(let scalar): return "'\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    func child(_ key: String, _ node: Node) -> YAMLField {
        YAMLField(file: file, path: path.isEmpty ? key : "\(path).\(key)", node: node)
    }

    /// The mapping's fields by key, refusing keys not in `known` and repeated keys.
    func mapping(known: [String]) throws(ScenarioError) -> [String: YAMLField] {
        guard case .mapping(let mapping) = node else { throw error("must be a mapping (key: value lines), got \(shown)") }
        var fields: [String: YAMLField] = [:]
        for (key, value) in mapping {
            guard case .scalar(let name) = key else { throw error("keys must be plain names") }
            let field = child(name.string, value)
            guard known.contains(name.string) else {
                throw ScenarioError(
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
    func entries() throws(ScenarioError) -> [(key: String, value: YAMLField)] {
        guard case .mapping(let mapping) = node else { throw error("must be a mapping, got \(shown)") }
        var result: [(String, YAMLField)] = []
        for (key, value) in mapping {
            guard case .scalar(let name) = key else { throw error("keys must be plain names") }
            result.append((name.string, child(name.string, value)))
        }
        return result
    }

    func list() throws(ScenarioError) -> [YAMLField] {
        guard case .sequence(let sequence) = node else { throw error("must be a list, got \(shown)") }
        return sequence.enumerated().map { YAMLField(file: file, path: "\(path)[\($0.offset)]", node: $0.element) }
    }

    func string() throws(ScenarioError) -> String {
        guard case .scalar(let scalar) = node else { throw error("must be text, got \(shown)") }
        return scalar.string
    }

    func strings() throws(ScenarioError) -> [String] {
        var result: [String] = []
        for item in try list() { result.append(try item.string()) }
        return result
    }

    func number(_ range: ClosedRange<Double>, unit: String = "") throws(ScenarioError) -> Double {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
            throw error("must be a number\(unit.isEmpty ? "" : " (\(unit))"), got \(shown)")
        }
        guard range.contains(value) else {
            throw error("must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound)), got \(shown)")
        }
        return value
    }

    func integer(_ range: ClosedRange<Int>) throws(ScenarioError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else { throw error("must be a whole number, got \(shown)") }
        guard range.contains(value) else { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(shown)") }
        return value
    }

    func bool() throws(ScenarioError) -> Bool {
        guard case .scalar(let scalar) = node else { throw error("must be true or false, got \(shown)") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("must be true or false, got \(shown)")
        }
    }

    func oneOf(_ choices: [String]) throws(ScenarioError) -> String {
        let value = try string()
        guard choices.contains(value) else { throw error("must be one of \(choices.joined(separator: ", ")), got '\(value)'") }
        return value
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
