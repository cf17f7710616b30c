import ConfigFile
import Yams

extension ScenarioLoader {
    /// Parses a scenario with `--set KEY=VALUE` overrides applied to its YAML before validation,
    /// so an override is checked exactly as the file is (`--set swarm.clients=50`,
    /// `--set market.events=[burst:5:4:3]`). Errors name the override.
    public static func parse(_ text: String, file: String, overrides: [String]) throws(ScenarioError) -> Scenario {
        guard !overrides.isEmpty else { return try parse(text, file: file) }
        var node = try YAMLDocument.compose(text, file: file)
        for override in overrides {
            guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
                throw ScenarioError(file: "--set \(override)", line: nil, field: "", problem: "takes KEY=VALUE, e.g. swarm.clients=50")
            }
            let key = String(override[..<equals])
            let valueText = String(override[override.index(after: equals)...])
            let value: Node
            do {
                value = try Yams.compose(yaml: valueText) ?? Node("")
            } catch {
                throw ScenarioError(file: "--set \(override)", line: nil, field: key, problem: "the value is not valid YAML")
            }
            let path = key.split(separator: ".").map(String.init)
            guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
                throw ScenarioError(file: "--set \(override)", line: nil, field: key, problem: "not a field path (e.g. market.rate)")
            }
            node = try set(node, path: path[...], to: value, override: override)
        }
        return try scenario(YAMLField(file: file, path: "", node: node))
    }

    /// `node` with the value at `path` replaced (mappings on the way are created).
    static func set(_ node: Node, path: ArraySlice<String>, to value: Node, override: String) throws(ScenarioError) -> Node {
        guard let key = path.first else { return value }
        guard case .mapping(var mapping) = node else {
            throw ScenarioError(file: "--set \(override)", line: nil, field: key, problem: "sets a field inside something that is not a mapping")
        }
        let child = mapping[Node(key)] ?? Node.mapping(Node.Mapping([]))
        mapping[Node(key)] = try set(child, path: path.dropFirst(), to: value, override: override)
        return .mapping(mapping)
    }
}
