#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Foundation
public import Sodium

public enum SubjectExport {
    public static let format = "privacykit-subject-export"
    /// Version 1 throughout: files are only ever added (`about.json` and `about.txt` were),
    /// each listed in the manifest, and a reader takes the file list from the manifest, so an
    /// older PrivacyKit still opens a newer package and this one opens packages without them.
    /// A change to an existing file's meaning, or a file a reader must have, needs version 2.
    public static let formatVersion = 1
    public static let manifestName = "manifest.json"
    public static let sumsName = "SHA256SUMS"
    public static let readmeName = "README.txt"
    public static let sealedSuffix = ".sealed"
    /// The data files, in the order they are written and listed.
    public static let dataFileNames = [
        "record.json", "record.csv", "consent.json", "consent.csv", "access-log.json", "access-log.csv", "about.json", "about.txt",
    ]

    /// Hex BLAKE2b-128 of the key bytes (as the vault's own key fingerprints).
    public static func fingerprint(_ key: SealedBox.PublicKey) -> String {
        (try? KeyFingerprint.of(key.bytes)) ?? ""
    }

    // MARK: The package's contents

    struct Record {
        struct Field: Encodable {
            let field: String
            let value: String
            let category: String
            let masked: Bool
        }
        var fields: [Field] = []
        var masked: [String] = []
        var withheld: [String] = []
    }

    struct Package {
        let files: [(name: String, bytes: [UInt8])]

        init(subject: String, record: Record, consent: [ConsentEvent], accessLog: [AuditEvent], about: SubjectExportAbout) {
            struct RecordDocument: Encodable {
                let subject: String
                let fields: [Record.Field]
                let withheld: [String]
            }
            struct EventsDocument<Event: Encodable>: Encodable {
                let subject: String
                let events: [Event]
            }
            files = [
                ("record.json", SubjectExport.json(RecordDocument(subject: subject, fields: record.fields, withheld: record.withheld))),
                ("record.csv", CSV.document(header: ["field", "value", "category"], rows: record.fields.map { [$0.field, $0.value, $0.category] })),
                ("consent.json", SubjectExport.json(EventsDocument(subject: subject, events: consent))),
                ("consent.csv", CSV.document(
                    header: ["id", "purpose", "kind", "time", "channel", "notice_version", "expires_at", "evidence_hash"],
                    rows: consent.map { [String($0.id), $0.purpose, $0.kind.rawValue, $0.time, $0.channel, $0.noticeVersion ?? "", $0.expiresAt ?? "", $0.evidenceHash ?? ""] })),
                ("access-log.json", SubjectExport.json(EventsDocument(subject: subject, events: accessLog))),
                ("access-log.csv", CSV.document(
                    header: ["seq", "time", "actor", "role", "action", "purpose", "fields", "outcome", "reason"],
                    rows: accessLog.map {
                        [String($0.seq), $0.time, $0.actor, $0.role, $0.action, $0.purpose ?? "", $0.fields.joined(separator: " "), $0.outcome, $0.reason ?? ""]
                    })),
                ("about.json", SubjectExport.json(about)),
                ("about.txt", Array(about.plainText.utf8)),
            ]
        }
    }

    /// Pretty-printed JSON with sorted keys, unescaped slashes and a final newline.
    static func json(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and arrays of them: encoding cannot fail.
        return Array((try? encoder.encode(value)) ?? Data()) + [0x0A]
    }

    /// `sha256sum` lines (`HEX  NAME`) for `files`.
    static func sums(_ files: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        Array(files.map { Hex.encode(SHA256.hash($0.bytes)) + "  " + $0.name + "\n" }.joined().utf8)
    }

    /// RFC 4180 CSV: CRLF line ends; a field with a comma, quote, CR or LF is quoted, and
    /// its quotes doubled. Values are written exactly (no spreadsheet-formula escaping).
    enum CSV {
        static func field(_ value: String) -> String {
            guard value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }

        static func document(header: [String], rows: [[String]]) -> [UInt8] {
            Array(([header] + rows).map { $0.map(field).joined(separator: ",") + "\r\n" }.joined().utf8)
        }
    }

    /// What goes to disk: the data files, the manifest and SHA256SUMS; sealed, each as
    /// `NAME.sealed` (sealed here, in memory), and a README naming the key.
    static func diskFiles(
        _ data: [(name: String, bytes: [UInt8])], manifest: SubjectExportManifest, sealedTo recipient: SealedBox.PublicKey?
    ) throws -> [(name: String, bytes: [UInt8])] {
        var files = data + [(manifestName, json(manifest))]
        files.append((sumsName, sums(files)))
        guard let recipient else { return files }
        var sealed: [(name: String, bytes: [UInt8])] = []
        for index in files.indices {
            sealed.append((files[index].name + sealedSuffix, try SealedBox.seal(files[index].bytes, to: recipient)))
            Memory.wipe(&files[index].bytes)
        }
        sealed.append((readmeName, Array(readme(fingerprint: fingerprint(recipient), createdAt: manifest.createdAt).utf8)))
        return sealed
    }

    static let fingerprintLabel = "Sealed to public key (fingerprint): "

    static func readme(fingerprint: String, createdAt: String) -> String {
        """
        PrivacyKit subject export (sealed), created \(createdAt)

        \(fingerprintLabel)\(fingerprint)

        Every other file in this directory is sealed with libsodium's crypto_box_seal
        (X25519, XSalsa20-Poly1305) to the public key above (the fingerprint is the hex
        BLAKE2b-128 of its 32 bytes). Only the holder of the matching secret key can open
        them; nothing here is readable without it.

        Inside: your fields (record), your consent history (consent), every access to
        your data (access-log), as JSON and CSV, and about.json with about.txt: what is done
        with your data and why (purposes and lawful basis, recipients, transfers abroad,
        how long it is kept, where it came from, automated decisions), your rights and
        whom to complain to.

        To open the package:

            privacyctl export open THIS-DIRECTORY --secret-key YOUR.key --out NEW-DIRECTORY

        This opens every NAME.sealed into NEW-DIRECTORY/NAME and checks each file against
        the SHA-256 hashes in manifest.json; in NEW-DIRECTORY, `sha256sum -c SHA256SUMS`
        checks them again. Without privacyctl: NAME is crypto_box_seal_open(NAME.sealed)
        under your key pair.

        """
    }

    // MARK: Writing a directory whole

    /// A package directory assembled in a hidden sibling of its target and renamed into
    /// place at the end (the target must not exist or be empty; its parent must exist).
    final class Staging {
        let target: String
        let path: String
        private var finished = false

        init(target url: URL, verb: String) throws {
            target = url.standardizedFileURL.path
            let fm = FileManager.default
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: target, isDirectory: &isDirectory),
               !isDirectory.boolValue || (try? fm.contentsOfDirectory(atPath: target))?.isEmpty != true {
                throw PrivacyKitError(.alreadyExists, "\(target) already exists and is not an empty directory; choose a new directory")
            }
            let parent = SecureFiles.parent(of: target)
            guard fm.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PrivacyKitError(.notFound, "the parent directory \(parent) does not exist")
            }
            path = parent + "/." + (target as NSString).lastPathComponent + ".\(verb)-" + Hex.encode(Random.bytes(count: 4))
            try SecureFiles.makeDirectory(path, mode: 0o700)
        }

        /// Writes each file (mode 0600, fsynced); returns names and sizes.
        func write(_ files: [(name: String, bytes: [UInt8])]) throws -> [(name: String, bytes: Int)] {
            for file in files { try SecureFiles.createNew(file.bytes, at: path + "/" + file.name, mode: 0o600) }
            return files.map { ($0.name, $0.bytes.count) }
        }

        /// Renames the staging directory to the target.
        func finish() throws {
            // rename(2) replaces an empty directory, and fails on a non-empty one.
            guard rename(path, target) == 0 else {
                let err = errno
                if err == ENOTEMPTY || err == EEXIST || err == ENOTDIR || err == EISDIR {
                    throw PrivacyKitError(.alreadyExists, "\(target) appeared while the package was being written; nothing was put there")
                }
                throw PrivacyKitError(.io, "cannot move the package into \(target): \(String(cString: strerror(err)))")
            }
            finished = true
            try SecureFiles.syncDirectory(SecureFiles.parent(of: target))
        }

        /// Removes the staging directory unless it was moved into place.
        func discard() {
            if !finished { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    // MARK: Opening a sealed package

    /// Opens a sealed package in `directory` with the requester's key pair into `output`
    /// (which must not exist or be empty): every `NAME.sealed` becomes `NAME`, and each
    /// file is checked against the manifest's size and SHA-256, and SHA256SUMS against
    /// them all, before anything is written. Nothing is written if any check fails.
    ///
    /// - Throws: `.notFound` (no sealed manifest), `.wrongKey` (sealed to another key),
    ///   `.integrity` (a file altered, missing, unlisted, or not matching the manifest),
    ///   `.unsupportedVersion`, `.alreadyExists` for a non-empty `output`.
    @discardableResult
    public static func openSealed(_ directory: URL, keyPair: SealedBox.KeyPair, to output: URL) throws -> SubjectExportManifest {
        let source = directory.standardizedFileURL.path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: source) else {
            throw PrivacyKitError(.notFound, "no directory \(source) to open")
        }
        let staging = try Staging(target: output, verb: "opening")
        defer { staging.discard() }
        guard names.contains(manifestName + sealedSuffix) else {
            throw PrivacyKitError(.notFound, "\(source) has no \(manifestName + sealedSuffix): not a sealed subject export")
        }
        func open(_ name: String) throws -> [UInt8] {
            let path = source + "/" + name + sealedSuffix
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PrivacyKitError(.integrity, "\(name + sealedSuffix) is missing from \(source)")
            }
            do {
                return try SealedBox.open([UInt8](data), with: keyPair)
            } catch {
                throw PrivacyKitError(.integrity, "\(name + sealedSuffix) does not open with this key: it was altered or damaged")
            }
        }

        let mine = fingerprint(keyPair.publicKey)
        let manifestBytes: [UInt8]
        do {
            manifestBytes = try open(manifestName)
        } catch {
            let readme = FileManager.default.contents(atPath: source + "/" + readmeName).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let named = readme.split(separator: "\n").first { $0.hasPrefix(fingerprintLabel) }.map { String($0.dropFirst(fingerprintLabel.count)) }
            if let named, named != mine {
                throw PrivacyKitError(.wrongKey, "the package is sealed to key \(named), not to this key (\(mine))")
            }
            throw error
        }
        let manifest: SubjectExportManifest
        do {
            manifest = try JSONDecoder().decode(SubjectExportManifest.self, from: Data(manifestBytes))
        } catch {
            throw PrivacyKitError(.integrity, "\(manifestName) in \(source) is not a subject export manifest")
        }
        guard manifest.format == format else {
            throw PrivacyKitError(.integrity, "\(manifestName) in \(source) is not a subject export manifest (format \(manifest.format))")
        }
        guard manifest.formatVersion <= formatVersion else {
            throw PrivacyKitError(.unsupportedVersion, "the package has format version \(manifest.formatVersion); this PrivacyKit reads up to \(formatVersion)")
        }
        guard manifest.sealedTo == mine else {
            throw PrivacyKitError(.integrity, "the manifest says the package is sealed to \(manifest.sealedTo ?? "no key"), but it opened with \(mine)")
        }

        var files: [(name: String, bytes: [UInt8])] = []
        for entry in manifest.files {
            guard isPackageFileName(entry.name), !files.contains(where: { $0.name == entry.name }),
                  ![manifestName, sumsName, readmeName].contains(entry.name)
            else {
                throw PrivacyKitError(.integrity, "the manifest lists a file name a package cannot have")
            }
            let bytes = try open(entry.name)
            guard bytes.count == entry.bytes, Hex.encode(SHA256.hash(bytes)) == entry.sha256 else {
                throw PrivacyKitError(.integrity, "\(entry.name) does not match the SHA-256 and size in the manifest")
            }
            files.append((entry.name, bytes))
        }
        files.append((manifestName, manifestBytes))
        let sums = try open(sumsName)
        guard sums == self.sums(files) else {
            throw PrivacyKitError(.integrity, "\(sumsName) does not match the manifest and files")
        }
        files.append((sumsName, sums))
        let expected = Set(files.map { $0.name + sealedSuffix } + [readmeName])
        if let extra = names.sorted().first(where: { !expected.contains($0) }) {
            throw PrivacyKitError(.integrity, "\(extra) in \(source) is not part of the package (not in its manifest)")
        }
        _ = try staging.write(files)
        try staging.finish()
        return manifest
    }

    /// A plain file name: ASCII letters, digits, `.`, `_`, `-`, not starting with a dot
    /// (a manifest cannot send a file elsewhere).
    static func isPackageFileName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-".utf8)
        return !name.hasPrefix(".") && (1...100).contains(name.utf8.count) && name.utf8.allSatisfy(allowed.contains)
    }

    // MARK: The requester's keys

    /// Makes an X25519 key pair for a requester: `PREFIX.key` (the secret key, base64url,
    /// mode 0600) and `PREFIX.pub` (the public key, base64url and a newline, mode 0644).
    /// Refuses to overwrite either file.
    public static func generateKeyPair(prefix: String) throws -> SubjectExportKeyFiles {
        try generateKeyPair(prefix: prefix, secretTrailer: "")
    }

    /// The same, with `secretTrailer` (public text: a recovery key's pin) after the secret key.
    static func generateKeyPair(prefix: String, secretTrailer: String) throws -> SubjectExportKeyFiles {
        let secretPath = prefix + ".key"
        let publicPath = prefix + ".pub"
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw PrivacyKitError(.alreadyExists, "\(path) already exists; refusing to overwrite it")
        }
        let pair = try SealedBox.KeyPair.generate()
        var encoded = pair.secretKey.withUnsafeBytes { Base64URL.encode(bytes: $0) }
        defer { Memory.wipe(&encoded) }
        // Reserved at once: a growing array would leave a copy of the secret behind.
        var text = [UInt8]()
        text.reserveCapacity(encoded.count + secretTrailer.utf8.count)
        text += encoded
        text += Array(secretTrailer.utf8)
        defer { Memory.wipe(&text) }
        try SecureFiles.createNew(text, at: secretPath, mode: 0o600)
        do {
            try SecureFiles.createNew(Array((Base64URL.encode(pair.publicKey.bytes) + "\n").utf8), at: publicPath, mode: 0o644)
        } catch {
            unlink(secretPath)
            throw error
        }
        return SubjectExportKeyFiles(publicKeyPath: publicPath, secretKeyPath: secretPath, fingerprint: fingerprint(pair.publicKey))
    }

    /// Reads a public key: 32 bytes as base64url (43 characters) or hex (64 digits) text,
    /// white space around it ignored, or 32 raw bytes.
    public static func readPublicKey(at path: String) throws -> SealedBox.PublicKey {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PrivacyKitError(.notFound, "public key file \(path) does not exist")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path), data.count <= 4096 else {
            throw PrivacyKitError(.invalidInput, "public key file \(path) is not a small regular file")
        }
        var raw = [UInt8](data)
        if raw.count != SealedBox.publicKeyByteCount {
            raw = Array(String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        }
        // Decoded as a secret key is (the bytes are public: the locked copy costs nothing).
        guard let decoded = raw.withUnsafeBytes(decodeKey), let key = try? SealedBox.PublicKey(bytes: decoded.withUnsafeBytes { Array($0) }),
              (try? SealedBox.seal([], to: key)) != nil  // rejects keys libsodium cannot seal to (low order points)
        else {
            throw PrivacyKitError(.invalidInput, "public key file \(path) must hold an X25519 public key: 32 bytes as base64url or hex text (privacyctl export keypair makes one)")
        }
        return key
    }

    /// Reads a secret key file that ``generateKeyPair(prefix:)`` wrote (or 32 raw bytes,
    /// or hex), with or without line ends after the text. It must not be accessible by group
    /// or others.
    ///
    /// The file is read into locked memory and decoded from there into the key's own, so no
    /// copy of the key or of its text is left on the heap.
    public static func readSecretKey(at path: String) throws -> SealedBox.KeyPair {
        let file = try SecureFiles.readSecretLocked(at: path, what: "secret key file", maxBytes: 4096)
        let key = file.withUnsafeBytes { raw in
            decodeKey(raw.count == SealedBox.secretKeyByteCount ? raw : SecureFiles.dropLineEnds(raw, all: true))
        }
        guard let key else {
            throw PrivacyKitError(.invalidInput, "secret key file \(path) must hold a 32-byte X25519 secret key, raw or as base64url or hex text (privacyctl export keypair makes one)")
        }
        return try SealedBox.KeyPair(secretKey: key)
    }

    /// 32 raw bytes, or their base64url or hex text, decoded straight into locked memory
    /// (no `String`, no array of the key or its text); nil for anything else.
    static func decodeKey(_ raw: UnsafeRawBufferPointer) -> SecureBytes? {
        let size = SealedBox.secretKeyByteCount
        return try? SecureBytes(count: size) { out in
            var written = 0
            switch raw.count {
            case size: out.copyMemory(from: raw); written = size
            case 43: written = try Base64URL.decode(raw, into: out)
            case 64: written = try Hex.decode(raw, into: out)
            default: break
            }
            guard written == size else { throw PrivacyKitError(.invalidInput, "not a key") }
        }
    }
}
