/// A configuration file (a scenario, a profile, a suite) that cannot be used, said in one line:
/// the file, the line, the field, what is wrong.
public struct ConfigFileError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var field: String
    public var problem: String

    public init(file: String, line: Int?, field: String, problem: String) {
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return field.isEmpty ? "\(place): \(problem)" : "\(place): \(field): \(problem)"
    }
}
