import CSodium

/// Wiping transient copies of secrets.
public enum Memory {
    /// Zeroes `bytes` with `sodium_memzero`, which the optimiser may not remove.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 { sodium_memzero(base, buffer.count) }
        }
    }

    /// Zeroes memory this process does not own as an array (a C string from `getenv`).
    public static func wipe(bytesAt buffer: UnsafeMutableRawBufferPointer) {
        if let base = buffer.baseAddress, buffer.count > 0 { sodium_memzero(base, buffer.count) }
    }
}

/// Constant-time comparison of byte strings.
public enum ConstantTime {
    /// True when `a` and `b` hold the same bytes. The time taken depends only on the
    /// length, never on where the first difference is. Different lengths are unequal
    /// (lengths are not secret).
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        Library.ensure()
        guard a.count == b.count else { return false }
        return withNonNullBytes(a) { pa, n in
            withNonNullBytes(b) { pb, _ in sodium_memcmp(pa, pb, n) == 0 }
        }
    }
}

/// Base64 with the URL- and filename-safe alphabet and no padding (RFC 4648 §5), through
/// libsodium's constant-time codec so that encoding key material leaks nothing by timing.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        var text = bytes.withUnsafeBytes { encode(bytes: $0) }
        defer { Memory.wipe(&text) }
        return String(decoding: text, as: UTF8.self)
    }

    /// Encodes raw bytes into ASCII bytes (no NUL), so a caller encoding a secret can wipe
    /// the result with ``Memory/wipe(_:)`` when done.
    public static func encode(bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Library.ensure()
        let capacity = pk_base64_encoded_len(bytes.count)  // includes the NUL
        let variant = Int32(pk_base64_urlsafe_no_padding_variant())
        var out = [UInt8](repeating: 0, count: capacity)
        out.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                withNonNullBytes(bytes) { p, n in
                    _ = sodium_bin2base64(chars.baseAddress!, capacity, p, n, variant)
                }
            }
        }
        out.removeLast()  // the NUL terminator
        return out
    }

    /// Decodes `text`; padding, white space, other alphabets and trailing garbage are
    /// rejected with ``SodiumError/Code/invalidEncoding``.
    public static func decode(_ text: String) throws -> [UInt8] {
        let input = Array(text.utf8)
        var out = [UInt8](repeating: 0, count: input.count * 3 / 4 + 1)
        let written = try input.withUnsafeBytes { source in
            try out.withUnsafeMutableBytes { try decode(source, into: $0) }
        }
        // Shrunk in place, not copied: a caller decoding a secret can wipe what it gets.
        out.removeLast(out.count - written)
        return out
    }

    /// Decodes the ASCII text in `text` into `output` and returns the number of bytes
    /// written, with no copy of either on the heap: for key material that must go from a
    /// locked buffer to a locked buffer.
    ///
    /// - Throws: ``SodiumError/Code/invalidEncoding`` when `text` is not unpadded base64url,
    ///   or decodes to more than `output.count` bytes.
    public static func decode(_ text: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        Library.ensure()
        guard let input = text.baseAddress, !text.isEmpty else { return 0 }
        let variant = Int32(pk_base64_urlsafe_no_padding_variant())
        var written = 0
        var dummy: UInt8 = 0
        // No end pointer: libsodium then fails unless the whole input is valid, instead
        // of stopping at the first bad character and reporting success for the prefix.
        let status = withUnsafeMutablePointer(to: &dummy) { fallback in
            sodium_base642bin(
                output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback, output.count,
                input.assumingMemoryBound(to: CChar.self), text.count, nil, &written, nil, variant)
        }
        guard status == 0 else {
            let tooLong = output.count < text.count * 3 / 4 ? ", or more than the \(output.count) bytes expected" : ""
            throw SodiumError(.invalidEncoding, "not unpadded base64url text (\(text.count) characters)\(tooLong)")
        }
        return written
    }
}

/// Lower-case hexadecimal, for fingerprints and test vectors.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes the hex digits in `text` (either case) into `output` and returns the number
    /// of bytes written, through libsodium's constant-time codec and with no copy of either
    /// on the heap: for key material that must go from a locked buffer to a locked buffer.
    ///
    /// - Throws: ``SodiumError/Code/invalidEncoding`` when `text` is not an even number of
    ///   hex digits, or decodes to more than `output.count` bytes.
    public static func decode(_ text: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        Library.ensure()
        guard let input = text.baseAddress, !text.isEmpty else { return 0 }
        var written = 0
        var dummy: UInt8 = 0
        // No end pointer: libsodium then fails unless every character was a digit.
        let status = withUnsafeMutablePointer(to: &dummy) { fallback in
            sodium_hex2bin(
                output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback, output.count,
                input.assumingMemoryBound(to: CChar.self), text.count, nil, &written, nil)
        }
        guard status == 0 else {
            throw SodiumError(.invalidEncoding, "not hex text (\(text.count) characters), or more than the \(output.count) bytes expected")
        }
        return written
    }

    public static func decode(_ text: String) throws -> [UInt8] {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else {
            throw SodiumError(.invalidEncoding, "hex text has an odd number of digits (\(chars.count))")
        }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else {
                throw SodiumError(.invalidEncoding, "not a hex digit at position \(i)")
            }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
