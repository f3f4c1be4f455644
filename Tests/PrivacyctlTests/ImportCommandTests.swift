import Foundation
import Testing

/// `privacyctl import` fails loudly (issue 22, point 3): above --max-rejects it exits 65
/// after importing the good rows and writing the report, and its one JSON line says why.
@Suite("privacyctl import")
struct ImportCommandTests {
    @Test func tooManyRejectsExit65WithTheSummaryAndTheError() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        var text = "id,email\n"
        for n in 1...8 { text += "c\(n),c\(n)@example.com\n" }
        text += "c9,not-an-email\nc10,also-not\n"
        let csv = v.scratch.file("export.csv")
        try Data(text.utf8).write(to: URL(fileURLWithPath: csv))

        let failed = try CLI.run(["import", csv, "--json"], environment: v.environment())
        #expect(failed.status == 65, "\(failed.stderr)")
        #expect(failed.stdout.split(separator: "\n").count == 1)
        let answer = try failed.json()
        #expect(answer["ok"] as? Bool == false && answer["reject_limit_exceeded"] as? Bool == true)
        #expect(answer["created"] as? Int == 8 && answer["rejected"] as? Int == 2, "the good rows are in: \(answer)")
        let error = try #require(answer["error"] as? [String: Any])
        #expect(error["exit_code"] as? Int == 65 && (error["message"] as? String)?.contains("2 of 10 rows rejected (20.0%)") == true, "\(error)")
        #expect(failed.stderr.contains("--max-rejects 5%") && !failed.stderr.contains("not-an-email"))

        let allowed = try CLI.run(["import", csv, "--max-rejects", "20%"], environment: v.environment())
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let counted = try CLI.run(["import", csv, "--max-rejects", "1"], environment: v.environment())
        #expect(counted.status == 65)
        let bad = try CLI.run(["import", csv, "--max-rejects", "lots"], environment: v.environment())
        #expect(bad.status == 64 && bad.stderr.contains("--max-rejects"))
    }

    @Test func aLatin1FileIsNamedThenReadWithEncoding() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let csv = v.scratch.file("latin1.csv")
        try Data(Array("id;full_name\nc1;Jos".utf8) + [0xE9] + Array("\nc2;Fran".utf8) + [0xE7, 0x6F, 0x69, 0x73, 0x0A]).write(to: URL(fileURLWithPath: csv))
        let refused = try CLI.run(["import", csv], environment: v.environment())
        #expect(refused.status == 65 && refused.stderr.contains("--encoding latin1"), "\(refused.stderr)")
        let read = try CLI.run(["import", csv, "--encoding", "latin1", "--json"], environment: v.environment())
        let answer = try read.json()
        #expect(read.status == 0 && answer["created"] as? Int == 2 && answer["delimiter"] as? String == ";" && answer["encoding"] as? String == "latin1",
                "\(read.stdout) \(read.stderr)")
        let name = try CLI.run(["records", "get", "--subject", "c2", "--field", "full_name", "--json"], environment: v.environment()).json()
        #expect((name["fields"] as? [String: String])?["full_name"] == "François", "\(name)")
    }
}
