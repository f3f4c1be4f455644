import Foundation

/// Statements on `vault_meta` (migration `v1-vault-meta`): the vault's own key-value
/// bookkeeping (its id, the policy digest, a resumable rebuild's position). Reading the
/// whole table for the store's metadata is `StoreMetadata.values(in:)`.
struct VaultMetaTable {
    let db: StoreDatabase

    func value(_ key: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM vault_meta WHERE key = ?", arguments: [key])
    }

    /// The vault id, as the keyless audit verifier reads it from a store file.
    func vaultID() throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM vault_meta WHERE key = 'vault_id'")
    }

    /// Adds `key`; fails if it is there already.
    func insert(_ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?)", arguments: [key, value])
    }

    /// Sets `key`, adding or replacing it.
    func set(_ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", arguments: [key, value])
    }

    func remove(_ key: String) throws {
        try db.execute(sql: "DELETE FROM vault_meta WHERE key = ?", arguments: [key])
    }

    /// Removes `key` only while it still holds `value` (a mark someone else may have renewed).
    func remove(_ key: String, ifValue value: String) throws {
        try db.execute(sql: "DELETE FROM vault_meta WHERE key = ? AND value = ?", arguments: [key, value])
    }
}
