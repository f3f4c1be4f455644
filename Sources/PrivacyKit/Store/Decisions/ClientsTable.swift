import Foundation

/// A row of `clients`, as the clients' leaf reads it (``DecisionRows/Tree/clientRows()``).
struct ClientRow {
    let name: String
    let role: String
    /// Comma-separated purpose names.
    let purposes: String
    let tokenVersion: Int64
    let tokenHash: Data
    let certificateSubject: String?
    let createdAt: String
    let createdBy: String
    let expiresAt: String?
    let revokedAt: String?
    let revokedBy: String?

    /// From a leaf row's values, in ``DecisionRows/Tree/clientRows()``'s column order.
    init(leafValues values: ArraySlice<StoreValue>) {
        let row = StoreRow(columns: [], values: Array(values))
        name = row[0]
        role = row[1]
        purposes = row[2]
        tokenVersion = row[3]
        tokenHash = row[4]
        certificateSubject = row[5]
        createdAt = row[6]
        createdBy = row[7]
        expiresAt = row[8]
        revokedAt = row[9]
        revokedBy = row[10]
    }
}

extension DecisionRows {
    /// `clients`: the services privacyd authenticates. One decision-tree leaf
    /// (``DecisionIntegrity/Leaf/clients``) covers every row, revoked ones included; they
    /// are read only through it (``VaultCore/provenClientRows(_:)``), so what is decided on
    /// is what was proven.
    struct Clients {
        fileprivate let db: StoreDatabase

        func insert(name: String, role: String, purposes: String, tokenHash: Data, certificateSubject: String?, createdAt: String,
                    createdBy: String, expiresAt: String?) throws {
            try db.decisionWillChange(.clients)
            try db.execute(sql: """
                INSERT INTO clients (name, role, purposes, token_version, token_hash, certificate_subject, created_at, created_by, expires_at)
                VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)
                """, arguments: [name, role, purposes, tokenHash, certificateSubject, createdAt, createdBy, expiresAt])
        }

        /// Gives client `name` a new token hash (its version one higher); 0 or 1 rows changed.
        func replaceToken(name: String, version: Int64, tokenHash: Data) throws -> Int {
            try db.decisionWillChange(.clients)
            try db.execute(sql: "UPDATE clients SET token_version = ?, token_hash = ? WHERE name = ? AND revoked_at IS NULL",
                           arguments: [version, tokenHash, name])
            return db.changesCount
        }

        /// Marks client `name` revoked unless it already was; 0 or 1 rows changed.
        func revoke(name: String, at time: String, by actor: String) throws -> Int {
            try db.decisionWillChange(.clients)
            try db.execute(sql: "UPDATE clients SET revoked_at = ?, revoked_by = ? WHERE name = ? AND revoked_at IS NULL",
                           arguments: [time, actor, name])
            return db.changesCount
        }
    }

    var clients: Clients { Clients(db: db) }
}
