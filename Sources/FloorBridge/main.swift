import ArgumentParser
import Foundation
import SierraFormat

/// `floor-bridge`: a yardstick, not a bridge. It serves the trades of a Sierra Chart folder on
/// `/ws/live_data/{symbol}` doing only what no bridge can avoid per update (one wake-up, one read
/// of the file that changed, one send per client), on one thread with no framework. Beside the
/// reference bridge in one run, its CPU is this machine's floor for the same work
/// (docs/RESULTS.md, "The per-update floor").
struct FloorBridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor-bridge",
        abstract: "The least a bridge can spend per update on this machine: trades on /ws/live_data/{symbol}, /health, nothing else."
    )

    @Option(help: "The Sierra Chart data folder.")
    var dataDir: String

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 8000

    func validate() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataDir, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("--data-dir: no such folder '\(dataDir)'")
        }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
    }

    func run() throws {
        let loop: FloorLoop
        do {
            loop = try FloorLoop(folder: DataFolder(path: dataDir), host: host, port: port)
        } catch {
            throw ValidationError(error.description)
        }
        // One write, unbuffered: the runner and the tests wait for this line.
        FileHandle.standardOutput.write(Data("floor-bridge listening on http://\(host):\(loop.port)\n".utf8))
        loop.run()
    }
}

FloorBridgeCommand.main()
