import Foundation

/// `sweep_runs`: one row per retention sweep that changed the store, finished or not (a
/// row left unfinished is a sweep that died, which the next one completes).
struct SweepRunRows {
    let db: StoreDatabase

    /// The last run that never finished, if any.
    func lastUnfinished() throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT max(id) FROM sweep_runs WHERE finished_at IS NULL")
    }

    /// Marks every unfinished run finished at `time` as interrupted.
    func markUnfinishedInterrupted(at time: String) throws {
        try db.execute(sql: "UPDATE sweep_runs SET finished_at = ?, summary = 'interrupted' WHERE finished_at IS NULL", arguments: [time])
    }

    /// Starts a run; returns its id.
    func start(startedAt: String, clock: String, pid: Int, actor: String) throws -> Int64? {
        try Int64.fetchOne(db, sql: "INSERT INTO sweep_runs (started_at, clock, pid, actor) VALUES (?, ?, ?, ?) RETURNING id",
                           arguments: [startedAt, clock, pid, actor])
    }

    func finish(id: Int64, at time: String, summary: String) throws {
        try db.execute(sql: "UPDATE sweep_runs SET finished_at = ?, summary = ? WHERE id = ?", arguments: [time, summary, id])
    }
}

/// `anonymized_records`: the plain fields a retention rule kept of an erased subject, with
/// no id.
struct AnonymizedRecordRows {
    let db: StoreDatabase

    func insert(rule: String, category: String, at time: String, plain: String) throws {
        try db.cachedStatement(sql: "INSERT INTO anonymized_records (rule, category, anonymized_at, plain) VALUES (?, ?, ?, ?)")
            .execute(arguments: [rule, category, time, plain])
    }
}

extension StoreDatabase {
    var sweepRuns: SweepRunRows { SweepRunRows(db: self) }
    var anonymizedRecords: AnonymizedRecordRows { AnonymizedRecordRows(db: self) }
}
