import Foundation
import Yams

/// Reading a configuration file's YAML into its root node, with the file and line in every error.
public enum YAMLDocument {
    /// The root node of `text`; an empty or invalid document is refused.
    package static func compose(_ text: String, file: String) throws(ConfigFileError) -> Node {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigFileError(file: file, line: line(of: error), field: "", problem: "not valid YAML: \(problem(of: error))")
        } catch {
            throw ConfigFileError(file: file, line: nil, field: "", problem: "not valid YAML: \(error)")
        }
        guard let node else { throw ConfigFileError(file: file, line: nil, field: "", problem: "the file is empty") }
        return node
    }

    /// A file by path, or by name from one of `folders` (`smoke` → `scenarios/smoke.yaml`); the
    /// error lists the names there are. `kind` names the files in the error ("scenario").
    package static func locate(_ nameOrPath: String, searching folders: [String], kind: String) throws(ConfigFileError) -> String {
        let candidates =
            nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") || nameOrPath.contains("/")
            ? [nameOrPath] : folders.map { "\($0)/\(nameOrPath).yaml" }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            let known = folders.flatMap { folder in
                ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }
            }
            let hint = known.isEmpty ? "" : "; \(kind)s: \(Set(known).sorted().joined(separator: ", "))"
            throw ConfigFileError(file: nameOrPath, line: nil, field: "", problem: "no such \(kind) file\(hint)")
        }
        return path
    }

    /// The root field of the file at `path`.
    package static func load(_ path: String) throws(ConfigFileError) -> YAMLField {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigFileError(file: path, line: nil, field: "", problem: "cannot be read")
        }
        return YAMLField(file: path, path: "", node: try compose(String(decoding: data, as: UTF8.self), file: path))
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        default: return "\(error)"
        }
    }
}
