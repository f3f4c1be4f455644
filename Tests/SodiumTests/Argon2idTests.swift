import Foundation
import Sodium
import Testing

private func password(_ text: String) throws -> SecureBytes {
    try secureKey(Array(text.utf8))
}

struct Argon2idVector: Sendable, CustomTestStringConvertible {
    let name: String
    let password: String
    let salt: String
    let outputByteCount: Int
    let opsLimit: UInt64
    let memLimit: UInt64
    let output: String
    var testDescription: String { name }
}

@Suite("Argon2id")
struct Argon2idTests {
    // libsodium test/default/pwhash_argon2id.c (functions tv and tv2) with the outputs in
    // pwhash_argon2id.exp, both at commit 58441ad2fdf6 of github.com/jedisct1/libsodium
    // (later revisions of the .c changed tv2's memlimit): crypto_pwhash with
    // crypto_pwhash_alg_default() = Argon2id v1.3, one lane, no secret or associated data.
    // The C test decodes the 32-byte salt_hex into a 16-byte buffer, so the salt is its
    // first 16 bytes; memlimit is in bytes.
    static let libsodiumVectors = [
        Argon2idVector(
            name: "pwhash_argon2id.c tv[6]",
            password: "b540beb016a5366524d4605156493f9874514a5aa58818cd0c6dfffaa9e90205f17b",
            salt: "44071f6d181561670bda728d43fb79b4",
            outputByteCount: 231, opsLimit: 1, memLimit: 1_631_659,
            output: "7fb72409b0987f8190c3729710e98c3f80c5a8727d425fdcde7f3644d467fe973f5b5fee683bd3fc"
                + "e812cb9ae5e9921a2d06c2f1905e4e839692f2b934b682f11a2fe2b90482ea5dd234863516dba6f5"
                + "2dc0702d324ec77d860c2e181f84472bd7104fedce071ffa93c5309494ad51623d214447a7b2b146"
                + "2dc7d5d55a1f6fd5b54ce024118d86f0c6489d16545aaa87b6689dad9f2fb47fda9894f8e12b87d9"
                + "78b483ccd4cc5fd9595cdc7a818452f915ce2f7df95ec12b1c72e3788d473441d884f9748eb14703"
                + "c21b45d82fd667b85f5b2d98c13303b3fe76285531a826b6fc0fe8e3dddecf"),
        Argon2idVector(
            name: "pwhash_argon2id.c tv2[0]",
            password: "a347ae92bce9f80f6f595a4480fc9c2fe7e7d7148d371e9487d75f5c23008ffae0"
                + "65577a928febd9b1973a5a95073acdbeb6a030cfc0d79caa2dc5cd011cef02c08d"
                + "a232d76d52dfbca38ca8dcbd665b17d1665f7cf5fe59772ec909733b24de97d6f5"
                + "8d220b20c60d7c07ec1fd93c52c31020300c6c1facd77937a597c7a6",
            salt: "5541fbc995d5c197ba290346d2c559de",
            outputByteCount: 155, opsLimit: 4, memLimit: 1_397_645,
            output: "2d232f9dc4de96628b2a4c2b39ceb6a813011fb74a3ba1da096761fabe08f563bd91366aba5c5e35"
                + "aecd98643cabc16ce560dca261a963230a1fa2af52f2413a57a827c6ee13bcec0c123d195914a557"
                + "00ccb5756196a86fb9cb4aeacccc0e6dd850f4386b705aaae147ea347543b7fbe24553d9da41f1b3"
                + "35b6e9980cdb966cf7b48520eb42a7269380c885dbefbccf447851fcacbe1753a5b9e1"),
        Argon2idVector(
            name: "pwhash_argon2id.c tv2[1]",
            password: "a347ae92bce9f80f6f595a4480fc9c2fe7e7d7148d371e9487d75f5c23008ffae0"
                + "65577a928febd9b1973a5a95073acdbeb6a030cfc0d79caa2dc5cd011cef02c08d"
                + "a232d76d52dfbca38ca8dcbd665b17d1665f7cf5fe59772ec909733b24de97d6f5"
                + "8d220b20c60d7c07ec1fd93c52c31020300c6c1facd77937a597c7a6",
            salt: "5541fbc995d5c197ba290346d2c559de",
            outputByteCount: 155, opsLimit: 3, memLimit: 1_397_645,
            output: "34b207147fb7ef83e1ca1a97e30aa6e08ea9b6b1048c59c9c13050dff33e76ce3c440d7f018f817e"
                + "6b8593e78f339ba633b9d7ec3519b5eafbcc4bc2d20b5136bbc7e5b7e92ff37d024bbbecf5738f71"
                + "8ab22c8adcdb82ceffc233b8ad61f91850abdfe8bb119775d9c4243ec1ac761dfbd132489228dfea"
                + "b5268c7f0ddc29f56b957d1b76c874cdd77e16139e0df9b847248fd782c9a1147b8480"),
    ]

    @Test(arguments: libsodiumVectors)
    func libsodiumKnownAnswer(_ v: Argon2idVector) throws {
        let key = try Argon2id.deriveKey(
            from: secureKey(Hex.decode(v.password)), salt: Hex.decode(v.salt),
            limits: Argon2id.Limits(opsLimit: v.opsLimit, memLimit: v.memLimit), byteCount: v.outputByteCount)
        #expect(key.count == v.outputByteCount)
        #expect(holds(key, try Hex.decode(v.output)), "Argon2id output differs from pwhash_argon2id.exp")
    }

    static let salt: [UInt8] = Array(0..<16)

    @Test func saltSizeIs16() {
        #expect(Argon2id.saltByteCount == 16)
    }

    @Test func deterministicForSameInputs() throws {
        let a = try Argon2id.deriveKey(from: password("correct horse"), salt: Self.salt, limits: .minimum)
        let b = try Argon2id.deriveKey(from: password("correct horse"), salt: Self.salt, limits: .minimum)
        #expect(a.count == 32)
        #expect(a == b)
    }

    @Test func differsOnSalt() throws {
        var otherSalt = Self.salt
        otherSalt[15] ^= 1
        let a = try Argon2id.deriveKey(from: password("correct horse"), salt: Self.salt, limits: .minimum)
        let b = try Argon2id.deriveKey(from: password("correct horse"), salt: otherSalt, limits: .minimum)
        #expect(a != b)
    }

    @Test func differsOnPassword() throws {
        let a = try Argon2id.deriveKey(from: password("correct horse"), salt: Self.salt, limits: .minimum)
        let b = try Argon2id.deriveKey(from: password("correct horsf"), salt: Self.salt, limits: .minimum)
        let c = try Argon2id.deriveKey(from: password("correct horse "), salt: Self.salt, limits: .minimum)
        #expect(a != b)
        #expect(a != c)
    }

    @Test func differsOnLimits() throws {
        let base = try Argon2id.deriveKey(from: password("pw"), salt: Self.salt, limits: .minimum)
        let moreOps = try Argon2id.deriveKey(
            from: password("pw"), salt: Self.salt,
            limits: Argon2id.Limits(opsLimit: Argon2id.Limits.minOpsLimit + 1, memLimit: Argon2id.Limits.minMemLimit))
        let moreMem = try Argon2id.deriveKey(
            from: password("pw"), salt: Self.salt,
            limits: Argon2id.Limits(opsLimit: Argon2id.Limits.minOpsLimit, memLimit: 2 * Argon2id.Limits.minMemLimit))
        #expect(base != moreOps)
        #expect(base != moreMem)
        #expect(moreOps != moreMem)
    }

    @Test func emptyPasswordWorks() throws {
        let a = try Argon2id.deriveKey(from: nil, salt: Self.salt, limits: .minimum)
        let b = try Argon2id.deriveKey(from: nil, salt: Self.salt, limits: .minimum)
        #expect(a.count == 32)
        #expect(a == b)
        let nonEmpty = try Argon2id.deriveKey(from: password("\u{0}"), salt: Self.salt, limits: .minimum)
        #expect(a != nonEmpty)
        var otherSalt = Self.salt
        otherSalt[0] ^= 0xff
        #expect(try Argon2id.deriveKey(from: nil, salt: otherSalt, limits: .minimum) != a)
    }

    @Test(arguments: [16, 32, 64, 1024])
    func outputLengthIsHonoured(count: Int) throws {
        let key = try Argon2id.deriveKey(from: password("pw"), salt: Self.salt, limits: .minimum, byteCount: count)
        #expect(key.count == count)
    }

    @Test func longerOutputIsNotAnExtensionOfShorter() throws {
        let short = try Argon2id.deriveKey(from: password("pw"), salt: Self.salt, limits: .minimum, byteCount: 32)
        let long = try Argon2id.deriveKey(from: password("pw"), salt: Self.salt, limits: .minimum, byteCount: 64)
        #expect(!holds(short, long.withUnsafeBytes { Array($0.prefix(32)) }))
    }

    @Test(arguments: [0, 8, 15, 17, 32])
    func wrongSaltLengthIsInvalidLength(count: Int) throws {
        let error = #expect(throws: SodiumError.self) {
            try Argon2id.deriveKey(from: password("pw"), salt: [UInt8](repeating: 1, count: count), limits: .minimum)
        }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [0, 15, 1025])
    func outputLengthOutOfRangeIsInvalidLength(count: Int) throws {
        let error = #expect(throws: SodiumError.self) {
            try Argon2id.deriveKey(from: password("pw"), salt: Self.salt, limits: .minimum, byteCount: count)
        }
        #expect(error?.code == .invalidLength)
    }

    // MARK: Limits

    @Test func minimumLimitsAreLibsodiumsMinimum() throws {
        #expect(Argon2id.Limits.minOpsLimit == 1)
        #expect(Argon2id.Limits.minMemLimit == 8192)
        #expect(Argon2id.Limits.minimum.opsLimit == Argon2id.Limits.minOpsLimit)
        #expect(Argon2id.Limits.minimum.memLimit == Argon2id.Limits.minMemLimit)
        #expect(try Argon2id.Limits(opsLimit: 1, memLimit: 8192) == .minimum)
    }

    @Test func presetLimitsAreOrderedAndValid() throws {
        let presets: [Argon2id.Limits] = [.minimum, .interactive, .moderate, .sensitive]
        for (weaker, stronger) in zip(presets, presets.dropFirst()) {
            #expect(weaker.opsLimit <= stronger.opsLimit)
            #expect(weaker.memLimit < stronger.memLimit)
        }
        for preset in presets {
            // Every preset is accepted by the validating initializer (and so from a file).
            #expect(try Argon2id.Limits(opsLimit: preset.opsLimit, memLimit: preset.memLimit) == preset)
        }
    }

    @Test(arguments: [
        (UInt64(0), UInt64(8192)),
        (UInt64(33), UInt64(8192)),
        (UInt64.max, UInt64(8192)),
        (UInt64(1), UInt64(0)),
        (UInt64(1), UInt64(8191)),
        (UInt64(1), UInt64(4 << 30) + 1),
        (UInt64(1), UInt64.max),
    ])
    func limitsOutOfRangeAreInvalidParameter(ops: UInt64, mem: UInt64) {
        let error = #expect(throws: SodiumError.self) { try Argon2id.Limits(opsLimit: ops, memLimit: mem) }
        #expect(error?.code == .invalidParameter)
    }

    @Test func limitsAtTheUpperBoundsAreAccepted() throws {
        let limits = try Argon2id.Limits(opsLimit: Argon2id.Limits.maxOpsLimit, memLimit: Argon2id.Limits.maxMemLimit)
        #expect(limits.opsLimit == 32)
        #expect(limits.memLimit == 4 << 30)
    }

    @Test func limitsEncodeWithLowercaseKeysAndRoundTrip() throws {
        let limits = try Argon2id.Limits(opsLimit: 3, memLimit: 65536)
        let data = try JSONEncoder().encode(limits)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(object?["opslimit"] as? Int == 3)
        #expect(object?["memlimit"] as? Int == 65536)
        #expect(object?.count == 2)
        #expect(try JSONDecoder().decode(Argon2id.Limits.self, from: data) == limits)
    }

    @Test(arguments: [
        #"{"opslimit": 0, "memlimit": 65536}"#,
        #"{"opslimit": 3, "memlimit": 1024}"#,
        #"{"opslimit": 1000, "memlimit": 65536}"#,
        #"{"opslimit": 3, "memlimit": 1099511627776}"#,
    ])
    func decodingOutOfRangeLimitsIsInvalidParameter(json: String) {
        let error = #expect(throws: SodiumError.self) {
            try JSONDecoder().decode(Argon2id.Limits.self, from: Data(json.utf8))
        }
        #expect(error?.code == .invalidParameter)
    }

    @Test func decodingRequiresBothKeys() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Argon2id.Limits.self, from: Data(#"{"opslimit": 3}"#.utf8))
        }
    }
}
