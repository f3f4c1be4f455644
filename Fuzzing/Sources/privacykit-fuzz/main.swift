// The libFuzzer driver: `privacykit-fuzz <target> [libFuzzer options] [corpus dirs]`, or
// `privacykit-fuzz seeds <dir>` to write the seed corpus. See Fuzzing/README.md.
import CLibFuzzer
import Foundation

let arguments = CommandLine.arguments
if arguments.count == 3, arguments[1] == "seeds" {
    do {
        try Seeds.write(to: arguments[2])
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("privacykit-fuzz: cannot write the seeds: \(error)\n".utf8))
        exit(1)
    }
}

// The target name is taken off the command line and kept in the environment: libFuzzer's
// -fork, -jobs and -merge modes re-run this binary with its own copy of the arguments.
let targetVariable = "PRIVACYKIT_FUZZ_TARGET"
var passed = arguments
if passed.count >= 2, FuzzTargets.all[passed[1]] != nil {
    setenv(targetVariable, passed[1], 1)
    passed.remove(at: 1)
}
guard let name = ProcessInfo.processInfo.environment[targetVariable], let target = FuzzTargets.all[name] else {
    FileHandle.standardError.write(Data("""
        usage: privacykit-fuzz <target> [libFuzzer options] [corpus dirs]
               privacykit-fuzz seeds <dir>
        targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))

        """.utf8))
    exit(2)
}
FuzzTargets.selected = target
target.prepare()

var cArguments: [UnsafeMutablePointer<CChar>?] = passed.map { strdup($0) } + [nil]
var count = CInt(passed.count)
let status = cArguments.withUnsafeMutableBufferPointer { buffer in
    var argv = buffer.baseAddress
    return LLVMFuzzerRunDriver(&count, &argv) { data, size in
        FuzzTargets.selected.run(data.map { Data(bytes: $0, count: size) } ?? Data())
        return 0
    }
}
exit(status)
