import Foundation

/// One version of a record field's key, as the subject's row keeps it: the version (in
/// every envelope sealed under it) and the salt the key is derived from with the subject
/// key. A nil salt is a destroyed version: the field was removed, and envelopes of it (in
/// the vault, or kept by a service) no longer open. Rectifying a field makes a new version
/// and destroys the old one; the subject key, and so the subject's other fields, stay.
///
/// The salt is not secret (a store reader sees it): the key needs the subject key as well,
/// which only the KEK unwraps. What deleting it does is make the old key underivable from
/// the live vault; a backup made before keeps the old row, and so the old version, until
/// the backup expires or a restore replays the change (`docs/formats.md`).
package struct FieldKey: Sendable, Equatable {
    static let saltByteCount = 32

    package let version: Int
    package let salt: [UInt8]?

    /// The version that replaces this one (a rectification, a new value after removal).
    var next: Int { version + 1 }

    /// This version destroyed.
    var destroyed: FieldKey { FieldKey(version: version, salt: nil) }
}
