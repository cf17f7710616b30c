import NIOCore
import NIOPosix

// Swift concurrency's tasks run on the event loops' own threads: Hummingbird handles each HTTP
// connection in a task, and on the default pool every request hopped between an I/O thread and a
// pool thread several times (a short `/health` spent more time switching threads than answering).
// This has to happen before the first task exists, so the arguments are parsed here first: the
// loops' count (`--event-loops`) sizes the one group that runs both.
let command: BridgeCommand
do {
    command = try BridgeCommand.parse()
} catch {
    BridgeCommand.exit(withError: error)
}
if command.swiftTasks == "event-loops" {
    if let loops = command.eventLoops { NIOSingletons.groupLoopCountSuggestion = loops }
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
do {
    try await command.serve()
} catch {
    BridgeCommand.exit(withError: error)
}
