import Foundation
import Sodium

/// A record's own MAC and revision, at the head of its `sealed` column:
/// `00 | revision (u32 BE) | MAC (32) | field entries`.
///
/// The MAC (keyed BLAKE2b under the audit-chain key) covers the whole row — id, KEK and key
/// versions, wrapped key, field entries, plain fields, invalid list, timestamps, revision —
/// so a field removed, a plain field edited, or a row copied under another id fails when
/// read. It cannot tell an old row of the same subject from the current one: that is the
/// subject's leaf's work (``DecisionIntegrity``), which covers the record from its first
/// change on (revision 1). A record as created (revision 0) has no earlier state to roll
/// back to, so it stays out of the leaf, and an import of new subjects writes no tree.
struct RecordSeal {
    static let layoutMarker: UInt8 = 0
    static let headerByteCount = 1 + 4 + 32

    let key: SecureBytes

    struct Row {
        let id: String
        let kekVersion: Int
        let keyVersion: Int
        let wrappedKey: [UInt8]
        let entries: [UInt8]
        let plain: String
        let invalid: String
        let createdAt: String
        let updatedAt: String
        let revision: Int
    }

    /// What the MAC of a stored row covers, its field entries and revision given (and, for
    /// a re-wrap, its key wrapped anew).
    static func row(id: String, _ row: SubjectRow, entries: [UInt8], revision: Int, rewrapped: (kekVersion: Int, wrappedKey: [UInt8])? = nil) -> Row {
        Row(id: id, kekVersion: rewrapped?.kekVersion ?? row.kekVersion, keyVersion: row.keyVersion, wrappedKey: rewrapped?.wrappedKey ?? row.wrappedKey,
            entries: entries, plain: row.plain, invalid: row.invalid, createdAt: row.createdAt, updatedAt: row.updatedAt, revision: revision)
    }

    func mac(_ row: Row) throws -> [UInt8] {
        var c = Canonical("privacykit.record.v1")
        c.append(row.id)
        c.append(UInt64(row.kekVersion))
        c.append(UInt64(row.keyVersion))
        c.append(row.wrappedKey)
        c.append(row.entries)
        c.append(row.plain)
        c.append(row.invalid)
        c.append(row.createdAt)
        c.append(row.updatedAt)
        c.append(UInt64(row.revision))
        return try BLAKE2b.hash(c.bytes, key: key)
    }

    /// The `sealed` column of `row`: header, then its entries.
    func sealed(_ row: Row) throws -> [UInt8] {
        var out = [Self.layoutMarker]
        out.reserveCapacity(Self.headerByteCount + row.entries.count)
        out += [UInt8(truncatingIfNeeded: row.revision >> 24), UInt8(truncatingIfNeeded: row.revision >> 16),
                UInt8(truncatingIfNeeded: row.revision >> 8), UInt8(truncatingIfNeeded: row.revision)]
        out += try mac(row)
        out += row.entries
        return out
    }

    /// The revision and MAC at the head of a `sealed` column; nil for the layout before
    /// record MACs (a store not yet upgraded).
    static func header(_ sealed: [UInt8]) -> (revision: Int, mac: ArraySlice<UInt8>, entries: ArraySlice<UInt8>)? {
        guard sealed.count >= headerByteCount, sealed[0] == layoutMarker else { return nil }
        let revision = Int(UInt32(sealed[1]) << 24 | UInt32(sealed[2]) << 16 | UInt32(sealed[3]) << 8 | UInt32(sealed[4]))
        return (revision, sealed[5..<headerByteCount], sealed[headerByteCount...])
    }

    /// Checks the MAC of a row as read; returns its revision and field entries.
    func check(_ row: SubjectRow, id: String) throws -> (revision: Int, entries: [UInt8]) {
        let sealed = [UInt8](row.sealed)
        guard let header = Self.header(sealed) else {
            throw PrivacyKitError(.integrity, "\(DecisionIntegrity.failurePrefix): the record of subject \(id) has no MAC (written behind the vault, or a store not upgraded)")
        }
        let entries = Array(header.entries)
        let expected = try mac(Self.row(id: id, row, entries: entries, revision: header.revision))
        guard ConstantTime.equals(expected, Array(header.mac)) else {
            throw PrivacyKitError(.integrity, "\(DecisionIntegrity.failurePrefix): the record of subject \(id) is not the one the vault wrote (its MAC fails: a field removed, a value edited, or a row moved) — run `privacyctl audit verify --with-secret` and restore from a backup")
        }
        return (header.revision, entries)
    }
}

extension RecordSeal {
    /// Gives every record written before record MACs its MAC, at revision 0 (the upgrade to
    /// format 2: what format 1 left is taken as it stands, as the decision rows are).
    /// Returns how many.
    func upgrade(_ db: StoreDatabase) throws -> Int {
        var count = 0
        try Self.forEachRow(db) { id, row in
            guard Self.header([UInt8](row.sealed)) == nil else { return true }
            let fields = try RecordStore.decodeFields([UInt8](row.sealed), subjectID: id, keyed: false)
            let entries = RecordStore.encodeFields(envelopes: fields.envelopes, keys: [:])
            try db.decisions.subjects.setSealedForUpgrade(id: id, sealed: Data(try sealed(Self.row(id: id, row, entries: entries, revision: 0))))
            count += 1
            return true
        }
        return count
    }

    /// Every stored row, in id order, a thousand at a time, until `body` says stop.
    private static func forEachRow(_ db: StoreDatabase, _ body: (_ id: String, _ row: SubjectRow) throws -> Bool) throws {
        var after = ""
        while true {
            let rows = try db.decisions.subjects.rows(after: after, limit: 1000)
            guard let last = rows.last else { return }
            for (id, row) in rows where try !body(id, row) { return }
            after = last.id
        }
    }
}

extension RecordSeal {
    /// The first subject (in id order) whose record's MAC fails, if any (`audit verify`).
    func firstForged(_ db: StoreDatabase) throws -> String? { try forged(db, limit: 1).first }

    /// The subjects (in id order) whose record's MAC fails, up to `limit`.
    func forged(_ db: StoreDatabase, limit: Int = .max) throws -> [String] {
        var forged: [String] = []
        try Self.forEachRow(db) { id, row in
            do { _ = try check(row, id: id) } catch let error as PrivacyKitError where error.code == .integrity { forged.append(id) }
            return forged.count < limit
        }
        return forged
    }
}
