public import Foundation
import Sodium

/// How a sweep runs.
public struct SweepOptions: Sendable {
    /// The clock the rules are evaluated at (tests and "what if" runs set it).
    public var now: Date
    /// List what would happen; change nothing.
    public var dryRun: Bool
    /// At most this many actions; the rest are counted as due and left for the next run.
    public var limit: Int?
    /// Subjects examined per transaction.
    public var batchSize: Int

    public init(now: Date = Date(), dryRun: Bool = false, limit: Int? = nil, batchSize: Int = 500) {
        self.now = now
        self.dryRun = dryRun
        self.limit = limit
        self.batchSize = batchSize
    }
}

/// Points where tests make a sweep fail as a crash would.
package struct SweepHooks: Sendable {
    /// Inside batch `n`'s transaction, after its actions, before it commits.
    package var insideTransaction: (@Sendable (Int) throws -> Void)?
    /// After batch `n` committed.
    package var afterBatch: (@Sendable (Int) throws -> Void)?
    package static let none = SweepHooks()
    package init() {}
}

/// One action of a sweep (or, in a dry run, one that would be taken).
public struct SweepAction: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        case done, wouldDo = "would-do", held, failed
    }
    public let rule: String
    public let action: RetentionAction
    public let subject: String
    public let category: String?
    /// The fields erased (erase_fields) or kept (anonymize); empty for erase.
    public let fields: [String]
    public let outcome: Outcome
    /// Why it was held or failed.
    public let detail: String?
}

/// Counts of one rule.
public struct SweepCounts: Sendable, Codable, Equatable {
    public var due = 0, acted = 0, held = 0, failed = 0
    /// Due, not held, but left for the next run by `--limit`.
    public var deferred = 0
}

/// What a sweep did.
public struct SweepSummary: Sendable, Codable {
    public let clock: String
    public let dryRun: Bool
    public var due = 0, acted = 0, held = 0, failed = 0, deferred = 0
    public var byRule: [String: SweepCounts] = [:]
    /// The id of a sweep that died before finishing, which this one completed.
    public var resumedRun: Int64?
    /// Whether the store's files are scrubbed of what this sweep (or an earlier erasure)
    /// deleted; nil when there was nothing to scrub. See ``ScrubState``.
    public var scrub: ScrubState?
    /// `scrub == .done` when there was something to scrub.
    public var walScrubbed: Bool?
    public var seconds = 0.0

    enum CodingKeys: String, CodingKey {
        case clock, due, acted, held, failed, deferred, seconds
        case dryRun = "dry_run", byRule = "by_rule", resumedRun = "resumed_run", walScrubbed = "wal_scrubbed", scrub
    }

    mutating func add(_ rule: String, _ outcome: SweepAction.Outcome?, deferred isDeferred: Bool = false) {
        var counts = byRule[rule] ?? SweepCounts()
        counts.due += 1; due += 1
        if isDeferred { counts.deferred += 1; deferred += 1 }
        switch outcome {
        case .done, .wouldDo: counts.acted += 1; acted += 1
        case .held: counts.held += 1; held += 1
        case .failed: counts.failed += 1; failed += 1
        case nil: break
        }
        byRule[rule] = counts
    }
}

/// Progress of a running sweep, after each batch.
public struct SweepProgress: Sendable {
    public let rule: String
    public let summary: SweepSummary
}

/// What is due per rule now and within a horizon (`retention report`).
public struct RetentionReport: Sendable, Codable {
    public struct Rule: Sendable, Codable {
        public let rule: String
        public let category: String
        public let action: RetentionAction
        public let period: String
        public let from: String
        public let dueNow: Int
        public let heldNow: Int
        /// Due within the horizon, not yet now.
        public let dueSoon: Int
        enum CodingKeys: String, CodingKey {
            case rule, category, action, period, from
            case dueNow = "due_now", heldNow = "held_now", dueSoon = "due_soon"
        }
    }
    public let clock: String
    public let horizonDays: Int
    public let rules: [Rule]
    enum CodingKeys: String, CodingKey {
        case clock, rules
        case horizonDays = "horizon_days"
    }
}

extension VaultRetention {
    static let sweepLockName = ".sweep.lock"

    /// Applies the retention policy: finds every subject whose rule is due at
    /// `options.now`, skips those under a legal hold, and applies the rules' actions in
    /// batches (one transaction each, with one `retention.action` audit event per action).
    ///
    /// A sweep decides from the store's state, so it is idempotent and resumable: a sweep
    /// killed half-way lost at most its open batch (rolled back whole), and the next run
    /// finds what is still due and finishes; nothing is done twice. Only one sweep runs per
    /// vault (a lock the kernel drops when its process dies).
    ///
    /// - Parameters:
    ///   - options: the clock, dry run, action limit and batch size.
    ///   - context: who runs it (a role with the `retention` action), recorded in every event.
    ///   - onAction: each action (done, would do, held, failed), in order.
    ///   - progress: after each batch.
    /// - Throws: `.busy` if another sweep is running; `.denied` without the `retention` action.
    public func sweep(
        _ options: SweepOptions = SweepOptions(), context: AccessContext,
        onAction: (SweepAction) -> Void = { _ in }, progress: (SweepProgress) -> Void = { _ in }
    ) throws -> SweepSummary {
        try sweep(options, context: context, hooks: .none, onAction: onAction, progress: progress)
    }

    package func sweep(
        _ options: SweepOptions, context: AccessContext, hooks: SweepHooks,
        onAction: (SweepAction) -> Void = { _ in }, progress: (SweepProgress) -> Void = { _ in }
    ) throws -> SweepSummary {
        guard options.batchSize > 0, options.limit.map({ $0 >= 0 }) ?? true else {
            throw PrivacyKitError(.invalidInput, "the batch size must be positive and the limit not negative")
        }
        _ = try authorize(AccessRequest(.retention, event: .retentionSweep), context: context)
        let lock = try SweepLock(directory: directory.path)
        defer { lock.release() }
        // The vault directory is one host's: a shared server store has its own lock.
        guard let storeLock = try store.tryJobLock("sweep") else {
            throw PrivacyKitError(.busy, "another host is sweeping the store \(store.location); this sweep did not start")
        }
        defer { storeLock.release() }
        // The candidates are chosen by queries over rows the sweep does not read back, so
        // the whole state is checked too: every decision row against the committed root,
        // every record's MAC. The check reads its own snapshot on a thread of its own while
        // the batches run (each batch proves its candidates before it acts on them, so none
        // waits for it); its answer is taken at the end. Forged decision rows then fail the
        // sweep closed; a record whose MAC fails either came up as a candidate (and failed
        // its action, as below) or was hidden from the sweep, which then fails closed.
        let stateCheck = Handoff<Set<String>>(capacity: 1)
        Thread.detachNewThread { [core] in
            _ = stateCheck.put(Result { try core.store.read { db in try core.checkEveryRecordAndDecision(db) } })
            stateCheck.finish()
        }
        defer { stateCheck.cancel() }
        var failedSubjects: Set<String> = []
        let started = Date()
        let clock = Timestamp.precise(options.now)
        var summary = SweepSummary(clock: clock, dryRun: options.dryRun)

        var runID: Int64?
        if !options.dryRun {
            // Under the lock no other sweep runs: an unfinished run is one that died.
            (runID, summary.resumedRun) = try perform(context, AccessRequest(.retention, event: .retentionSweep)) { tx, _ in
                let runs = tx.db.sweepRuns
                let dead = try runs.lastUnfinished()
                try runs.markUnfinishedInterrupted(at: Timestamp.precise(Date()))
                guard let id = try runs.start(startedAt: Timestamp.precise(started), clock: clock, pid: Int(getpid()), actor: context.actor)
                else { throw PrivacyKitError(.internal, "no id for a sweep run") }
                tx.record(AuditEntry(.retentionSweep, reason: "sweep \(id) started, clock \(clock)\(dead.map { ", finishing interrupted sweep \($0)" } ?? "")"))
                return (id, dead)
            }
        }

        let holds = try store.read { db in try db.decisions.holds.all() }.filter { $0.isActive(at: clock) }
        var acted = 0
        var batchNumber = 0
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }

        for rule in retention.rules {
            let query = RetentionQuery(rule: rule, policy: retention, cutoff: rule.period.before(options.now), dialect: store.dialect)
            var after = ""
            while true {
                // One batch: read the next due candidates and act on them in one transaction.
                let (count, last) = try perform(context, AccessRequest(.retention, event: .retentionAction)) { tx, _ -> (Int, String?) in
                    let candidates = try tx.db.decisions.candidates(query, after: after, limit: options.batchSize)
                    // The batch's leaf rows, records included, read and proven in one pass; if
                    // that fails, each load below reads and proves its own subject, so one
                    // forged record fails alone.
                    let leaves = try? core.provenLeafRows(tx.db, subjects: candidates.map(\.id), allRecords: true)
                    let records = RecordStore(core: core)
                    for candidate in candidates {
                        let stored: RecordStore.Stored
                        do {
                            if let leaves {
                                guard let row = try leaves[candidate.id]?.record() else { continue }
                                stored = try records.decode(row, subjectID: candidate.id)
                            } else {
                                guard let loaded = try records.load(tx.db, subjectID: candidate.id) else { continue }
                                stored = loaded
                            }
                        } catch let error as PrivacyKitError where error.code == .integrity {
                            failedSubjects.insert(candidate.id)
                            tx.record(AuditEntry(.retentionAction, subjectID: candidate.id, outcome: .failed,
                                                 reason: "rule \(rule.name): \(rule.action.rawValue) failed: \(error.code.name)"))
                            summary.add(rule.name, .failed)
                            onAction(SweepAction(rule: rule.name, action: rule.action, subject: candidate.id, category: nil, fields: [],
                                                 outcome: .failed, detail: error.message))
                            continue
                        }
                        let category = retentionCategory(plain: stored.plain)
                        var fields: [String] = []
                        switch rule.action {
                        case .erase: break
                        case .eraseFields:
                            fields = rule.fields.filter { stored.sealed[$0] != nil || stored.plain[$0] != nil }
                            if fields.isEmpty { continue }  // done before: not due
                        case .anonymize:
                            fields = rule.keep.filter { stored.plain[$0] != nil }
                        }
                        func report(_ outcome: SweepAction.Outcome, _ detail: String? = nil) {
                            onAction(SweepAction(rule: rule.name, action: rule.action, subject: candidate.id, category: category,
                                                 fields: fields, outcome: outcome, detail: detail))
                        }
                        if let hold = holds.first(where: { $0.subject == candidate.id || ($0.category != nil && $0.category == category) }) {
                            summary.add(rule.name, .held)
                            report(.held, hold.id)
                            continue
                        }
                        if let limit = options.limit, acted >= limit {
                            summary.add(rule.name, nil, deferred: true)
                            continue
                        }
                        acted += 1
                        if options.dryRun {
                            summary.add(rule.name, .wouldDo)
                            report(.wouldDo)
                            continue
                        }
                        do {
                            try tx.db.inSavepoint {
                                try apply(rule, to: candidate.id, stored: stored, category: category, kept: fields, tx: tx, cipher: cipher,
                                          context: context, now: Timestamp.precise(Date()))
                            }
                            summary.add(rule.name, .done)
                            report(.done)
                        } catch let error as PrivacyKitError where error.code != .busy && error.code != .io {
                            // This subject's action failed (damaged record, …): recorded, counted,
                            // and the sweep goes on; the exit status says so.
                            tx.record(AuditEntry(.retentionAction, subjectID: candidate.id, outcome: .failed,
                                                 reason: "rule \(rule.name): \(rule.action.rawValue) failed: \(error.code.name)"))
                            summary.add(rule.name, .failed)
                            report(.failed, error.message)
                        }
                    }
                    try hooks.insideTransaction?(batchNumber)
                    return (candidates.count, candidates.last?.id)
                }
                try hooks.afterBatch?(batchNumber)
                batchNumber += 1
                progress(SweepProgress(rule: rule.name, summary: summary))
                guard let last, count == options.batchSize else { break }
                after = last
            }
        }

        let checked = stateCheck.take() ?? .failure(PrivacyKitError(.internal, "the sweep's state check gave no answer"))
        let forged = try? checked.get()
        // Records that fail their MAC and no rule picked: an edit may have hidden them (a
        // date made recent, a category changed). Each is recorded as failed, and the sweep
        // fails closed once its run is closed.
        let hidden = (forged ?? []).subtracting(failedSubjects).sorted()
        if !hidden.isEmpty {
            try perform(context, AccessRequest(.retention, event: .retentionAction)) { tx, _ in
                for subject in hidden {
                    tx.record(AuditEntry(.retentionAction, subjectID: subject, outcome: .failed,
                                         reason: "the record fails its MAC: it may have been hidden from the sweep"))
                }
            }
            summary.failed += hidden.count
        }
        summary.seconds = Date().timeIntervalSince(started)
        if let runID {
            // A scrub an earlier erasure left pending is finished here too.
            if summary.acted > 0 || (try? core.scrubIsPending()) == true {
                let scrub = core.scrubDeleted()
                summary.scrub = scrub
                summary.walScrubbed = scrub == .done
            }
            let text = String(data: (try? JSONEncoder().encode(summary)) ?? Data(), encoding: .utf8) ?? ""
            let final = summary
            try perform(context, AccessRequest(.retention, event: .retentionSweep)) { tx, _ in
                try tx.db.sweepRuns.finish(id: runID, at: Timestamp.precise(Date()), summary: text)
                tx.record(AuditEntry(.retentionSweep, outcome: final.failed > 0 || forged == nil ? .failed : .allowed,
                                     reason: "sweep \(runID) finished: due \(final.due), acted \(final.acted), held \(final.held), failed \(final.failed), deferred \(final.deferred)"))
            }
        }
        // Forged decision rows: audited as a failed sweep, then thrown.
        _ = try auditingDecisionFailures(context, AccessRequest(.retention, event: .retentionSweep)) { try checked.get() }
        if let first = hidden.first {
            throw DecisionIntegrity.failure(rowsOf: "subject \(first)" + (hidden.count > 1 ? " and \(hidden.count - 1) more (records whose MAC fails, not swept)" : " (its record's MAC fails; not swept)"))
        }
        return summary
    }

    /// One rule's action on one subject, in the batch's transaction.
    private func apply(
        _ rule: RetentionRule, to subject: String, stored: RecordStore.Stored, category: String?, kept: [String],
        tx: AuditedTransaction, cipher: FieldCipher, context: AccessContext, now: String
    ) throws {
        let reason = "retention rule \(rule.name) (\(rule.action.rawValue)): \(rule.legalReason)"
        switch rule.action {
        case .erase:
            _ = try eraseInTransaction(tx, subject: subject, stored: stored, reason: reason, rule: rule.name, context: context, now: now, event: .retentionAction)
        case .anonymize:
            var plain: [String: String] = [:]
            for field in kept { plain[field] = stored.plain[field] }
            try tx.db.anonymizedRecords.insert(rule: rule.name, category: category ?? "", at: now, plain: RecordStore.json(plain))
            _ = try eraseInTransaction(tx, subject: subject, stored: stored, reason: reason, rule: rule.name, context: context, now: now, event: .retentionAction)
        case .eraseFields:
            let result = try RecordStore(core: core).upsert(tx.db, subjectID: subject, values: Dictionary(uniqueKeysWithValues: kept.map { ($0, "") }),
                                                             cipher: cipher, now: now)
            if result.change != .unchanged { try core.markScrubPending(tx.db) }
            tx.record(AuditEntry(.retentionAction, subjectID: subject, fields: result.changedFields, reason: "rule \(rule.name): erase_fields"))
        }
    }

    /// What is due per rule at `now` and within `horizonDays` after it. Reads only; holds
    /// are counted, not applied.
    public func report(now: Date = Date(), horizonDays: Int = 30, context: AccessContext) throws -> RetentionReport {
        guard (0...3650).contains(horizonDays) else { throw PrivacyKitError(.invalidInput, "the horizon is 0 to 3650 days") }
        _ = try authorize(AccessRequest(.retention, event: .retentionSweep), context: context)
        let clock = Timestamp.precise(now)
        return try store.read { db in
                RetentionReport(clock: clock, horizonDays: horizonDays, rules: try retentionRules(db, now: now, horizonDays: horizonDays))
            }
    }

    /// The per-rule figures of ``retentionReport(now:horizonDays:context:)``, inside the
    /// caller's transaction.
    func retentionRules(_ db: StoreDatabase, now: Date, horizonDays: Int) throws -> [RetentionReport.Rule] {
        let clock = Timestamp.precise(now)
        let horizon = Calendar(identifier: .gregorian).date(byAdding: .day, value: horizonDays, to: now) ?? now
        let holds = try db.decisions.holds.all().filter { $0.isActive(at: clock) }
        var rules: [RetentionReport.Rule] = []
        for rule in retention.rules {
            // Due by the horizon, then split: due now or only later.
            let query = RetentionQuery(rule: rule, policy: retention, cutoff: rule.period.before(horizon), dialect: store.dialect)
            let nowCutoff = rule.period.before(now)
            var dueNow = 0, heldNow = 0, dueSoon = 0
            var after = ""
            while true {
                let candidates = try db.decisions.candidates(query, after: after, limit: 1000)
                try? checkDecisionStates(db, subjects: candidates.map(\.id))
                for candidate in candidates {
                    guard let stored = try RecordStore(core: core).load(db, subjectID: candidate.id) else { continue }
                    if rule.action == .eraseFields && !rule.fields.contains(where: { stored.sealed[$0] != nil || stored.plain[$0] != nil }) { continue }
                    guard candidate.eventDay <= RetentionQuery.julianDay(nowCutoff) else { dueSoon += 1; continue }
                    let category = retentionCategory(plain: stored.plain)
                    if holds.contains(where: { $0.subject == candidate.id || ($0.category != nil && $0.category == category) }) {
                        heldNow += 1
                    } else {
                        dueNow += 1
                    }
                }
                guard let last = candidates.last, candidates.count == 1000 else { break }
                after = last.id
            }
            rules.append(.init(rule: rule.name, category: rule.category ?? RetentionPolicy.anyCategory, action: rule.action,
                               period: rule.period.description, from: rule.from.description, dueNow: dueNow, heldNow: heldNow, dueSoon: dueSoon))
        }
        return rules
    }
}

/// The vault's sweep lock: `flock` on `<vault>/.sweep.lock`, which the kernel releases when
/// the holding process dies, so a crashed sweep never blocks the next. The file holds the
/// holder's pid and start time, for the message another sweep gets.
final class SweepLock {
    private var fd: Int32

    init(directory: String) throws {
        let path = directory + "/" + VaultRetention.sweepLockName
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PrivacyKitError(.io, "cannot open the sweep lock \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 128)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            fd = -1
            let holder = n > 0 ? String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
            throw PrivacyKitError(.busy, "another sweep is running on this vault (\(holder)); try again when it has finished")
        }
        let text = Array("pid \(getpid()) since \(Timestamp.now())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
    }

    func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
