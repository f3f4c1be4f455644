import Foundation
import Sodium
import Synchronization

/// Authenticated decision state (format 2; `docs/formats.md`, `docs/threat-model.md`).
///
/// Every decision reads rows a store writer can change: consent state, restrictions,
/// legal holds, tombstones, and the subject's record itself (its wrapped key and fields).
/// A keyed tag of each subject's rows (and one of all category holds) is a leaf of a
/// sparse Merkle tree (65,536 buckets, a leaf's bucket the first two bytes of its keyed
/// position, under four levels of 16-way pages: `DecisionTree.swift`); the tree's root is
/// what every audit event's MAC commits to. A decision recomputes its subject's tag from the rows it reads and the
/// root from the stored path, and compares it with the root of the newest MACed event:
/// an inserted, edited, deleted or rolled-back row changes the tag, and a vanished hold
/// or tombstone changes it too (the tag is of all the subject's rows, so "no hold" and
/// "hold deleted" differ). Only a whole-store rollback, audit log included, goes
/// unnoticed without a witness.
///
/// Keys and tags use the audit-chain key (labels keep the uses apart); the bucket and node
/// and page hashes are plain BLAKE2b (their inputs are keyed tags). An empty subtree hashes
/// to nothing, so the stored tree holds only non-empty pages.
struct DecisionIntegrity: Sendable {
    static let emptyRoot = [UInt8](repeating: 0, count: 32)
    /// Errors from a failed check start with this (the access decision records them).
    static let failurePrefix = "decision state failed its integrity check"

    let key: SecureBytes
    /// Pages and buckets hashed before (a long-lived vault's; nil for a one-off check).
    let contents: TreeContents?

    init(key: SecureBytes, remembering contents: TreeContents? = nil) {
        self.key = key
        self.contents = contents
    }

    /// What a leaf covers.
    enum Leaf: Hashable, Sendable {
        case subject(String)
        case categoryHolds
        /// privacyd's clients (``VaultClients``).
        case clients

        var name: String {
            switch self {
            case .subject(let id): "subject:" + id
            case .categoryHolds: "category-holds"
            case .clients: "clients"
            }
        }

        var description: String {
            switch self {
            case .subject(let id): "subject \(id)"
            case .categoryHolds: "the category holds"
            case .clients: "the clients"
            }
        }
    }

    struct Position {
        let key: [UInt8]
        let bucket: Int
    }

    func position(_ leaf: Leaf) throws -> Position {
        var c = Canonical("privacykit.state.position.v1")
        c.append(leaf.name)
        let key = try BLAKE2b.hash(c.bytes, key: key)
        return Position(key: key, bucket: Int(key[0]) << 8 | Int(key[1]))
    }

    /// The keyed tag of `leaf`'s rows as they are now; nil when it has none.
    func tag(_ leaf: Leaf, rows tree: DecisionRows.Tree) throws -> [UInt8]? {
        let rows: [DecisionRows.Tree.Row] = switch leaf {
        case .subject(let id): try tree.subjectRows(id, allRecords: false)
        case .categoryHolds: try tree.categoryHoldRows().map { ("legal_holds", $0.values[...]) }
        case .clients: try tree.clientRows()
        }
        return try tag(leaf, values: rows)
    }

    /// The tag of `leaf` given its rows (read one leaf at a time, or in bulk).
    func tag(_ leaf: Leaf, values rows: [DecisionRows.Tree.Row]) throws -> [UInt8]? {
        // A record as created (revision 0) is not part of the leaf (see RecordSeal).
        let rows = rows.filter { row in
            guard row.table == "subjects" else { return true }
            guard case .blob(let sealed)? = row.values.last else { return true }
            return SubjectRow.isRevised(sealed: sealed)
        }
        guard !rows.isEmpty else { return nil }
        var c = Canonical("privacykit.state.leaf.v1")
        c.append(leaf.name)
        for (table, values) in rows {
            c.append(table)
            c.append(UInt64(values.count))
            for value in values {
                switch value {
                case .null: c.append("n")
                case .integer(let v): c.append("i"); c.append(UInt64(bitPattern: v))
                case .real(let v): c.append("r"); c.append(v.bitPattern)
                case .text(let v): c.append("t"); c.append(v)
                case .blob(let v): c.append("b"); c.append(v)
                }
            }
        }
        return try BLAKE2b.hash(c.bytes, key: key)
    }

    // MARK: - The tree

    static func bucketHash(_ leaves: [(key: [UInt8], tag: [UInt8])]) throws -> [UInt8]? {
        guard !leaves.isEmpty else { return nil }
        var c = Canonical("privacykit.state.bucket.v1")
        for leaf in leaves.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            c.append(leaf.key)
            c.append(leaf.tag)
        }
        return try BLAKE2b.hash(c.bytes)
    }

    static func failure(_ leaf: Leaf) -> PrivacyKitError {
        guard leaf != .clients else {
            return PrivacyKitError(.integrity, "\(failurePrefix): the client rows are not the ones the audit log commits to (a client added, changed or un-revoked behind the vault); no client is authenticated — run `privacyctl audit verify --with-secret` and restore from a backup")
        }
        return failure(rowsOf: leaf.description)
    }

    /// `what`: whose rows (a leaf's description, or "every subject").
    static func failure(rowsOf what: String) -> PrivacyKitError {
        PrivacyKitError(.integrity, "\(failurePrefix): the record, consent, restriction, hold or tombstone rows of \(what) are not the ones the audit log commits to (changed behind the vault); nothing was decided — run `privacyctl audit verify --with-secret` and restore from a backup")
    }
}
