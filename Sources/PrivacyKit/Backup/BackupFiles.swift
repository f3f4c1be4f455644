import Foundation

/// How backup files are named in a backup directory, and found there again by id.
///
/// A finished backup is `<UTC time without colons>-<backup id>.pkb`, so names sort by age;
/// one being written is hidden (`.<backup id>.pkb.partial`) and never listed.
public enum BackupFiles {
    /// Every backup id starts with this.
    public static let idPrefix = "bk-"
    static let suffix = ".pkb"
    static let partialSuffix = ".pkb.partial"

    /// The file name of a finished backup made at `time`.
    static func name(backupID: String, time: Date) -> String {
        ISOTime.string(time).replacingOccurrences(of: ":", with: "") + "-" + backupID + suffix
    }

    /// The hidden name a backup has while it is written.
    static func partialName(backupID: String) -> String { "." + backupID + partialSuffix }

    /// The finished backups in `directory`, newest first (full paths); none when the
    /// directory cannot be read.
    public static func list(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(suffix) && !$0.hasPrefix(".") }.sorted(by: >).map { directory + "/" + $0 }
    }

    /// The file of backup `id` in `directory`, if there is one.
    public static func find(id: String, in directory: String) -> String? {
        guard id.hasPrefix(idPrefix) else { return nil }
        return list(in: directory).first { $0.hasSuffix("-" + id + suffix) }
    }
}
