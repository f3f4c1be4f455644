import Foundation
@testable import PrivacyKit
import Testing

/// What a killed backup or restore leaves (found by the crash suite: `.partial` files and
/// staging directories stayed for good, each a copy of vault data) is removed by the next
/// run; what a live run holds is not.
@Suite("Work files of killed runs")
struct WorkFileClaimTests {
    /// Holds an flock on `path` as a live run would.
    final class LiveHolder {
        let fd: Int32
        init(_ path: String) throws {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        }
        deinit { close(fd) }
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func age(_ path: String, hours: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-hours * 3600)], ofItemAtPath: path)
    }

    @Test func aBackupRemovesAbandonedPartialsAndSnapshotsButNotLiveOnes() throws {
        let s = try BackupTests.Setup(subjects: 3)
        _ = try s.backup()
        let backups = s.vault.directory.path + "/Backups"
        let abandoned = backups + "/.bk-00000000deadbeef.pkb.partial"
        let live = backups + "/.bk-11111111cafef00d.pkb.partial"
        let freshStarting = backups + "/.bk-2222222222222222.pkb.partial.starting"
        let oldStarting = backups + "/.bk-3333333333333333.pkb.partial.starting"
        let snapshot = s.vault.directory.path + "/.backup-snapshot-bk-4444444444444444.sqlite"
        for path in [abandoned, live, freshStarting, oldStarting, snapshot] {
            try Data("work".utf8).write(to: URL(fileURLWithPath: path))
        }
        try Self.age(oldStarting, hours: 2)
        let holder = try LiveHolder(live)

        let second = try s.backup()
        #expect(!Self.exists(abandoned) && !Self.exists(oldStarting) && !Self.exists(snapshot))
        #expect(Self.exists(live) && Self.exists(freshStarting))
        #expect(Self.exists(second.file))
        // The backup's own partial went: only the two final files and the kept ones remain.
        let names = try FileManager.default.contentsOfDirectory(atPath: backups).sorted()
        #expect(names.filter { $0.hasSuffix(".pkb") }.count == 2)
        #expect(names.filter { $0.hasPrefix(".") } == [".bk-11111111cafef00d.pkb.partial", ".bk-2222222222222222.pkb.partial.starting"])
        withExtendedLifetime(holder) {}
    }

    @Test func aRestoreRemovesItsTargetsAbandonedStagingDirectories() throws {
        let s = try BackupTests.Setup(subjects: 3)
        let backup = try s.backup()
        let parent = s.dir.path
        let abandoned = parent + "/.restored.restoring-deadbeef"
        let live = parent + "/.restored.restoring-cafef00d"
        let otherTarget = parent + "/.elsewhere.restoring-deadbeef"
        for directory in [abandoned, live, otherTarget] {
            try FileManager.default.createDirectory(atPath: directory + "/Keys", withIntermediateDirectories: true)
            try Data("store".utf8).write(to: URL(fileURLWithPath: directory + "/vault.sqlite"))
        }
        let holder = try LiveHolder(live)

        let (summary, _) = try s.restore(backup.file, to: "restored")
        #expect(summary.subjects == 3)
        #expect(!Self.exists(abandoned))
        #expect(Self.exists(live) && Self.exists(otherTarget))
        // No staging directory of this restore is left either.
        let staging = try FileManager.default.contentsOfDirectory(atPath: parent).filter { $0.hasPrefix(".restored.") }.sorted()
        #expect(staging == [".restored.restoring-cafef00d"])
        withExtendedLifetime(holder) {}
    }

    /// A file still under its `.starting` name whose maker on this host is gone (killed
    /// before it locked it) is removed at once; one whose maker lives, or another host's,
    /// waits out the age.
    @Test func aStartingFileGoesAtOnceWhenItsMakerIsGone() throws {
        let dir = try TempDirectory()
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let base = dir.file(".bk-6666666666666666.pkb.partial")
        let gone = base + ".starting-" + WorkFileClaim.hostTag + "-" + String(finished.processIdentifier)
        let alive = WorkFileClaim.startingName(dir.file(".bk-7777777777777777.pkb.partial"))
        let elsewhere = dir.file(".bk-8888888888888888.pkb.partial.starting-otherhost-") + String(finished.processIdentifier)
        for path in [gone, alive, elsewhere] { try Data("work".utf8).write(to: URL(fileURLWithPath: path)) }
        #expect(WorkFileClaim.removeAbandoned(in: dir.path, prefix: ".bk-", suffix: ".pkb.partial") == 1)
        #expect(!Self.exists(gone) && Self.exists(alive) && Self.exists(elsewhere))
    }

    @Test func aClaimedWorkFileIsLockedUntilReleasedAndNeverSeenUnlockedUnderItsName() throws {
        let dir = try TempDirectory()
        let path = dir.file(".bk-5555555555555555.pkb.partial")
        let (claim, made) = try WorkFileClaim.claim(path) { starting in
            // Made under its .starting name, which a sweep leaves alone while its maker lives.
            #expect(starting == path + ".starting-" + WorkFileClaim.hostTag + "-" + String(getpid()))
            try Data("x".utf8).write(to: URL(fileURLWithPath: starting))
            #expect(WorkFileClaim.removeAbandoned(in: dir.path, prefix: ".bk-", suffix: ".pkb.partial") == 0)
            return 7
        }
        #expect(made == 7 && Self.exists(path) && !Self.exists(WorkFileClaim.startingName(path)))
        #expect(WorkFileClaim.removeAbandoned(in: dir.path, prefix: ".bk-", suffix: ".pkb.partial") == 0)
        #expect(Self.exists(path))
        claim.release()
        #expect(WorkFileClaim.removeAbandoned(in: dir.path, prefix: ".bk-", suffix: ".pkb.partial") == 1)
        #expect(!Self.exists(path))
    }
}
