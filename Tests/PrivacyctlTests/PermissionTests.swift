import Foundation
import Testing

/// A vault the running user cannot read is an I/O problem (exit 74) named with the path and
/// the user, never "no vault" or "not a vault" (issue 22, point 5).
@Suite("permission problems")
struct PermissionTests {
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && getpwnam("nobody") != nil,
                   "needs root, setpriv and a nobody user (root itself ignores the mode bits)"))
    func aVaultTheUserCannotReadIsAnIOErrorNamingThePathAndTheUser() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        // The scratch directory is reachable; the vault (root's, 0700) is not, for nobody.
        chmod(v.scratch.path, 0o755)
        chmod(v.vault, 0o700)
        let key = v.scratch.file("nobody.key")
        try FileManager.default.copyItem(atPath: v.keyFile, toPath: key)
        let chown = Process()
        chown.executableURL = URL(fileURLWithPath: "/bin/chown")
        chown.arguments = ["nobody", key]
        try chown.run()
        chown.waitUntilExit()
        let nobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=\(getpwnam("nobody")!.pointee.pw_gid)", "--clear-groups"]
        for arguments in [["keys", "status"], ["records", "get", "--subject", "S1"], ["audit", "verify"]] {
            let result = try CLI.run(arguments + ["--vault", v.vault] + (arguments[0] == "audit" ? [] : ["--key-file", key]), wrapper: nobody)
            #expect(result.status == 74, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("Permission denied") && result.stderr.contains("user nobody") && result.stderr.contains(v.vault),
                    "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("is it a vault") && !result.stderr.contains("no vault"), "\(arguments): \(result.stderr)")
        }
    }
}
