#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// A witness file: checkpoints, one JSON object per line, kept where the vault's host cannot
// rewrite them. `privacyctl audit checkpoint --export` appends to one and `audit verify
// --against` reads it back; both go through here so the two sides cannot disagree.
extension AuditCheckpoint {
    /// One line of a witness file.
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a witness file: one checkpoint per line; blank lines are skipped. The error
    /// names the line.
    public static func readWitnessFile(at path: String) throws -> [AuditCheckpoint] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw PrivacyKitError(.invalidInput, "witness file \(path) is a directory, not a file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PrivacyKitError(.notFound, "witness file \(path) does not exist or cannot be read")
        }
        var result: [AuditCheckpoint] = []
        let decoder = JSONDecoder()
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let checkpoint = try? decoder.decode(AuditCheckpoint.self, from: Data(trimmed.utf8)),
                  checkpoint.format == "privacykit-audit-checkpoint"
            else {
                throw PrivacyKitError(.invalidInput, "\(path): line \(index + 1) is not an audit checkpoint")
            }
            guard checkpoint.version <= AuditChain.version else {
                throw PrivacyKitError(.unsupportedVersion, "\(path): line \(index + 1) has checkpoint version \(checkpoint.version); upgrade PrivacyKit")
            }
            result.append(checkpoint)
        }
        // Verifying "against" a witness that holds nothing would pass and prove nothing.
        guard !result.isEmpty else { throw PrivacyKitError(.invalidInput, "witness file \(path) holds no checkpoint, so it cannot vouch for the log") }
        return result
    }

    /// Appends this checkpoint as one line to the witness file at `path` (created 0644 if
    /// missing: it holds nothing secret), and syncs it before returning.
    public func appendToWitnessFile(at path: String) throws {
        let bytes = Array((try jsonLine() + "\n").utf8)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PrivacyKitError(.io, "cannot open witness file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw PrivacyKitError(.io, "cannot append to witness file \(path): \(String(cString: strerror(errno)))")
        }
    }
}
