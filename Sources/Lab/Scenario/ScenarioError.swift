import ConfigFile

/// A scenario file that cannot be run, said in one line: the file, the line, the field, what is wrong.
public typealias ScenarioError = ConfigFileError
