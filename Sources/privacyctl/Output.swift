import ArgumentParser
import Foundation
import PrivacyKit

/// `--json`: shared by every command.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON object on standard output instead of text.")
    var json = false
}

enum Output {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func standardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func standardOutput(lines: [String]) { lines.forEach(standardOutput) }

    /// `--json`'s answer: one object on one line, so `>>log.jsonl` and the journal get one
    /// record per run (the house rule; issue 22's first point).
    /// Every answer carries `ok` (true here; a failure's comes from ``jsonError``), whether or
    /// not the command's own result type names it: one place keeps the contract.
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any], object["ok"] == nil else {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return
        }
        object["ok"] = true
        let line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        FileHandle.standardOutput.write(line + Data("\n".utf8))
    }

    /// One JSON object on one line (also for streams of JSON lines).
    static func jsonLine(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }

    /// Runs a command body, turning every failure into a message on standard error (and a
    /// JSON error object with `--json`) and the documented exit code.
    static func run(json: Bool, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as CLIError {
            throw report(status: error.status, code: error.status.name, message: error.message, json: json)
        } catch let error as PrivacyKitError {
            let body = ErrorBody(error)
            throw report(status: ExitStatus(error.code), code: body.code, message: body.message, json: json)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw report(status: .failure, code: "failure", message: "unexpected error: \(error)", json: json)
        }
    }

    /// An error as every `--json` answer states it: the command's, or one item's of a batch.
    struct ErrorBody: Encodable {
        let code: String
        let exitCode: Int32
        let message: String
        enum CodingKeys: String, CodingKey {
            case code, message
            case exitCode = "exit_code"
        }

        init(status: ExitStatus, code: String, message: String) {
            self.code = code
            self.exitCode = status.rawValue
            self.message = message
        }

        init(_ error: PrivacyKitError) {
            self.init(status: ExitStatus(error.code), code: error.code.name, message: error.description)
        }
    }

    private struct ErrorReport: Encodable {
        let ok = false
        let error: ErrorBody
    }

    private static func report(status: ExitStatus, code: String, message: String, json: Bool) -> ExitCode {
        standardError("privacyctl: error: \(message)")
        if json { jsonError(status: status, code: code, message: message) }
        return ExitCode(status.rawValue)
    }

    /// `{"ok": false, "error": {"code", "exit_code", "message"}}` on standard output.
    static func jsonError(status: ExitStatus, code: String, message: String) {
        try? Output.json(ErrorReport(error: ErrorBody(status: status, code: code, message: message)))
    }
}
