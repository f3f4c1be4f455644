import CSodium

/// One-time libsodium initialisation.
///
/// `sodium_init()` must run before any other call; a `static let` runs it exactly once and
/// is thread-safe, so every entry point of this module touches ``ensure()`` first.
enum Library {
    private static let initialized: Bool = sodium_init() >= 0

    static func ensure() {
        // Without a working CSPRNG nothing in this module is safe to use; this is an
        // environment failure (no /dev/urandom, no getrandom), never caused by input.
        precondition(initialized, "libsodium failed to initialise (no usable random source)")
    }
}

/// Calls `body` with a pointer that is never nil, even for an empty array: libsodium's
/// headers mark their pointers `nonnull`, and an empty Swift array may not have storage.
@inline(__always)
func withNonNullBytes<R>(
    _ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) throws -> R
) rethrows -> R {
    try bytes.withUnsafeBufferPointer { buffer in
        if let base = buffer.baseAddress {
            return try body(base, buffer.count)
        }
        var dummy: UInt8 = 0
        return try withUnsafePointer(to: &dummy) { try body($0, 0) }
    }
}

@inline(__always)
func withNonNullBytes<R>(
    _ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>, Int) throws -> R
) rethrows -> R {
    if let base = bytes.baseAddress, bytes.count > 0 {
        return try body(base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
    var dummy: UInt8 = 0
    return try withUnsafePointer(to: &dummy) { try body($0, 0) }
}
