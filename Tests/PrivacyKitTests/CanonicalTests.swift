@testable import PrivacyKit
import Testing

/// The encoding under every MAC, tag and associated data: a stored vault depends on its
/// exact bytes, so they are pinned here.
@Suite("Canonical encoding")
struct CanonicalTests {
    @Test func fieldsAreLengthPrefixedBigEndian() {
        var c = Canonical("ab")
        c.append([0xff])
        c.append(UInt64(0x0102_0304_0506_0708))
        c.append([UInt8]())
        c.append("é")
        c.append(([9, 8, 7] as [UInt8])[1...])
        #expect(c.bytes == [0, 0, 0, 2, 0x61, 0x62,
                            0, 0, 0, 1, 0xff,
                            0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
                            0, 0, 0, 0,
                            0, 0, 0, 2, 0xc3, 0xa9,
                            0, 0, 0, 2, 8, 7])
    }
}
