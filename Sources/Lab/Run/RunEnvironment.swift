import Foundation

/// Where a run happened: enough to tell whether two runs can be compared.
public struct RunEnvironment: Sendable, Codable, Equatable {
    public var cpuModel: String
    public var cores: Int
    public var memoryGB: Double
    public var kernel: String
    public var swiftVersion: String
    public var commit: String
    public var dirty: Bool
    public var buildConfiguration: String
    public var hostname: String

    /// CPU model, cores and kernel: runs with the same fingerprint are comparable.
    public var fingerprint: String { "\(cpuModel) × \(cores), \(kernel)" }

    public static func current(buildConfiguration: String, packageRoot: String?) -> RunEnvironment {
        let cpuinfo = ProcReader.read("/proc/cpuinfo") ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }.flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let memory =
            (ProcReader.read("/proc/meminfo") ?? "").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }.map { ProcReader.kilobytes($0) } ?? 0
        let swift = output(["swift", "--version"], in: nil).split(separator: "\n").first.map(String.init) ?? "unknown"
        let commit = packageRoot.map { output(["git", "rev-parse", "--short=12", "HEAD"], in: $0) } ?? ""
        let status = packageRoot.map { output(["git", "status", "--porcelain", "--untracked-files=no"], in: $0) } ?? ""
        return RunEnvironment(
            cpuModel: model,
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryGB: (memory / 1024 / 1024 * 10).rounded() / 10,
            kernel: (ProcReader.read("/proc/sys/kernel/osrelease") ?? "unknown").trimmingCharacters(in: .whitespacesAndNewlines),
            swiftVersion: swift,
            commit: commit.isEmpty ? "unknown" : commit,
            dirty: !status.isEmpty,
            buildConfiguration: buildConfiguration,
            hostname: ProcessInfo.processInfo.hostName
        )
    }

    /// A command's standard output, trimmed ("" when it fails).
    static func output(_ command: [String], in directory: String?) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return "" }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
