import Foundation
import GRDB

/// Every nightly run's key figures, in SQLite (`reports/history.sqlite` by default), keyed by
/// commit, date and machine fingerprint, so that a run is compared only with runs on the same kind
/// of machine.
public final class History: Sendable {
    public struct Run: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
        public static let databaseTableName = "run"
        public var id: Int64?
        public var started: String
        public var commit: String
        public var fingerprint: String
        public var suite: String
        /// pass, fail (a KPI), regression, error (harness).
        public var status: String
        public var directory: String
        public var baseline: Bool

        public init(started: String, commit: String, fingerprint: String, suite: String, status: String, directory: String, baseline: Bool = false) {
            self.started = started
            self.commit = commit
            self.fingerprint = fingerprint
            self.suite = suite
            self.status = status
            self.directory = directory
            self.baseline = baseline
        }

        public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    }

    /// One figure of one run: `scenario/arm/metric`, and which way is better.
    public struct Figure: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
        public static let databaseTableName = "figure"
        public var runID: Int64
        public var scenario: String
        public var arm: String
        public var metric: String
        public var value: Double
        /// `lower` or `higher`.
        public var better: String

        public var key: String { "\(scenario)/\(arm)/\(metric)" }

        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case scenario, arm, metric, value, better
        }

        public init(runID: Int64, scenario: String, arm: String, metric: String, value: Double, better: String) {
            self.runID = runID
            self.scenario = scenario
            self.arm = arm
            self.metric = metric
            self.value = value
            self.better = better
        }
    }

    public let path: String
    let queue: DatabaseQueue

    /// Opens (creating and migrating) the history at `path`.
    public init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        queue = try DatabaseQueue(path: path)
        try Self.migrator.migrate(queue)
    }

    /// The schema, one step at a time: a database from any earlier version is brought up to date.
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs and figures") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started", .text).notNull()
                t.column("commit", .text).notNull()
                t.column("fingerprint", .text).notNull()
                t.column("suite", .text).notNull()
                t.column("status", .text).notNull()
                t.column("directory", .text).notNull()
            }
            try db.create(table: "figure") { t in
                t.column("run_id", .integer).notNull().references("run", onDelete: .cascade)
                t.column("scenario", .text).notNull()
                t.column("arm", .text).notNull()
                t.column("metric", .text).notNull()
                t.column("value", .double).notNull()
                t.column("better", .text).notNull()
            }
        }
        migrator.registerMigration("v2: pinned baselines, figure index") { db in
            try db.alter(table: "run") { t in t.add(column: "baseline", .boolean).notNull().defaults(to: false) }
            try db.create(index: "figure_by_key", on: "figure", columns: ["scenario", "arm", "metric"])
        }
        return migrator
    }

    /// Stores a run and its figures; returns the run's id.
    @discardableResult
    public func record(_ run: Run, figures: [(scenario: String, arm: String, metric: String, value: Double, better: String)]) throws -> Int64 {
        try queue.write { db in
            var run = run
            try run.insert(db)
            let id = run.id ?? db.lastInsertedRowID
            for figure in figures where figure.value.isFinite {
                try Figure(runID: id, scenario: figure.scenario, arm: figure.arm, metric: figure.metric, value: figure.value, better: figure.better)
                    .insert(db)
            }
            return id
        }
    }

    /// Runs on this fingerprint, newest first (harness errors left out: their figures are not measurements).
    public func runs(fingerprint: String, limit: Int = 1_000) throws -> [Run] {
        try queue.read { db in
            try Run.filter(Column("fingerprint") == fingerprint && Column("status") != "error").order(Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    public func figures(run id: Int64) throws -> [Figure] {
        try queue.read { db in try Figure.filter(Column("run_id") == id).fetchAll(db) }
    }

    /// Pins run `id` as the reference for its fingerprint (any earlier pin is dropped).
    public func pinBaseline(_ id: Int64) throws {
        try queue.write { db in
            guard let run = try Run.fetchOne(db, key: id) else { throw RunnerError("no run \(id) in the history") }
            try db.execute(sql: "UPDATE run SET baseline = 0 WHERE fingerprint = ?", arguments: [run.fingerprint])
            try db.execute(sql: "UPDATE run SET baseline = 1 WHERE id = ?", arguments: [id])
        }
    }

    public func baseline(fingerprint: String) throws -> Run? {
        try queue.read { db in try Run.filter(Column("fingerprint") == fingerprint && Column("baseline") == true).fetchOne(db) }
    }

    public func run(directory: String) throws -> Run? {
        try queue.read { db in try Run.filter(Column("directory") == directory).order(Column("id").desc).fetchOne(db) }
    }
}
