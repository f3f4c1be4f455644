#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sodium

/// Reading a secret from the controlling terminal with echo off.
enum Terminal {
    /// Asks for a secret on `/dev/tty`; nil when there is no terminal (cron, CI, a pipe).
    static func readSecret(prompt: String) throws -> SecureBytes? {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ECHONL)
        // Echo goes off before the prompt appears, so nothing typed in answer to it is
        // ever echoed; TCSAFLUSH drops anything typed (and echoed) before the prompt.
        tcsetattr(fd, TCSAFLUSH, &quiet)
        defer { tcsetattr(fd, TCSAFLUSH, &saved) }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }

        var line = [UInt8]()
        line.reserveCapacity(1025)
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") {
            // Reserve up front and refuse to grow: a reallocation would leave a copy of
            // the secret behind in freed memory.
            guard line.count < 1024 else {
                Memory.wipe(&line)
                throw CLIError(.invalidInput, "the passphrase is longer than 1024 bytes")
            }
            line.append(byte)
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard !line.isEmpty else {
            throw CLIError(.invalidInput, "the passphrase is empty")
        }
        return try SecureBytes(takingBytes: &line)
    }
}
