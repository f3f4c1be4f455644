import Foundation
@testable import PrivacyKit
import Testing

/// The normalized value, or `nil` (and a recorded issue) when normalization failed.
private func normalized(
    _ value: String, _ kind: FieldKind, region: String? = nil, defaultRegion: String = "US",
    sourceLocation: SourceLocation = #_sourceLocation
) -> NormalizedValue? {
    switch Normalizer.normalize(value, as: kind, region: region, defaultRegion: defaultRegion) {
    case .success(let result):
        return result
    case .failure(let error):
        Issue.record("\(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The error, or `nil` (and a recorded issue) when normalization succeeded.
private func failure(
    _ value: String, _ kind: FieldKind, region: String? = nil, defaultRegion: String = "US",
    sourceLocation: SourceLocation = #_sourceLocation
) -> NormalizationError? {
    switch Normalizer.normalize(value, as: kind, region: region, defaultRegion: defaultRegion) {
    case .success(let result):
        Issue.record("expected a failure, got \(result)", sourceLocation: sourceLocation)
        return nil
    case .failure(let error):
        #expect(error.kind == kind, sourceLocation: sourceLocation)
        return error
    }
}

/// Distinctive values that each fail their rule, with the reason they fail for.
private let canaries: [(FieldKind, String)] = [
    (.email, "zqxwcanary@@vexillum.example"),
    (.email, "zqxwcanary.vexillum.example"),
    (.email, "zqxw canary@vexillum.example"),
    (.email, "zqxwcanary@vexillum"),
    (.email, "zqxwcanary@vexillum.q"),
    (.email, "zqxw..canary@vexillum.example"),
    (.email, "zqxwcanary@vexil_lum.example"),
    (.phone, "555 ZQXW canary 0199"),
    (.phone, "+999 8675 3094"),
    (.phone, "8675 3094 1122 3344 5566 7788"),
    (.phone, "0912-867-53"),
    (.phone, "(0)9173 864 209"),
    (.phone, "#8675309"),
    (.name, "Zqxw\u{7}Vexillum"),
    (.name, String(repeating: "Zqxw Vexillum ", count: 20)),
    (.nationalID, "ZQXW#CANARY"),
    (.nationalID, "ZQXWVEXILLUMCANARY-ZQXWVEXILLUMCANARY"),
    (.nationalID, "ZQ-X"),
    (.date, "2345-06-07"),
    (.date, "3141-59-26"),
    (.date, "1987-02-29"),
    (.date, "1987-06-07T31:41"),
    (.date, "zqxw-vexillum"),
    (.country, "ZQXW"),
    (.text, "zqxw\u{7}vexillum"),
]

@Suite("Normalizer")
struct NormalizerTests {
    // MARK: Field kinds

    @Test func fieldKindsMatchTheSchemaNames() throws {
        #expect(FieldKind.allCases.map(\.rawValue) == ["email", "phone", "name", "national-id", "date", "country", "text"])
        let decoded = try JSONDecoder().decode([FieldKind].self, from: Data(#"["national-id","phone"]"#.utf8))
        #expect(decoded == [.nationalID, .phone])
        #expect(String(decoding: try JSONEncoder().encode(FieldKind.nationalID), as: UTF8.self) == #""national-id""#)
    }

    // MARK: Phone

    struct Phone: Sendable, CustomTestStringConvertible {
        let input: String
        let region: String?
        let defaultRegion: String
        let e164: String
        init(_ input: String, region: String? = nil, default defaultRegion: String = "US", _ e164: String) {
            (self.input, self.region, self.defaultRegion, self.e164) = (input, region, defaultRegion, e164)
        }
        var testDescription: String { "\(input) [\(region ?? "-")/\(defaultRegion)]" }
    }

    @Test(arguments: [
        // Taiwan: mobile and Taipei landline, trunk prefix 0, "(+886)", region from the record.
        Phone("0912-345-678", region: "TW", "+886912345678"),
        Phone("0912 345 678", region: "tw", "+886912345678"),
        Phone("0912345678", default: "TW", "+886912345678"),
        Phone("(+886) 912 345 678", "+886912345678"),
        Phone("+886 912-345-678", region: "GB", "+886912345678"),
        Phone("+886 0912 345 678", "+886912345678"),
        Phone("02-2345-6789", region: "TW", "+886223456789"),
        Phone("(02) 2345 6789", region: "TW", "+886223456789"),
        Phone("+886-2-2345-6789", "+886223456789"),
        Phone("０９１２−３４５−６７８", region: "TW", "+886912345678"), // full-width digits, minus sign
        // China: mobile, Beijing landline with trunk prefix.
        Phone("138 0013 8000", region: "CN", "+8613800138000"),
        Phone("138-0013-8000", default: "CN", "+8613800138000"),
        Phone("+86 138 0013 8000", "+8613800138000"),
        Phone("(+86) 13800138000", "+8613800138000"),
        Phone("010-1234-5678", region: "CN", "+861012345678"),
        Phone("+86 10 1234 5678", "+861012345678"),
        // United States: dots, dashes, parentheses, leading 1, from abroad.
        Phone("415.555.0100", "+14155550100"),
        Phone("(415) 555-0100", "+14155550100"),
        Phone("415-555-0100", region: "US", default: "GB", "+14155550100"),
        Phone("1-415-555-0100", "+14155550100"),
        Phone("1 (415) 555 0100", "+14155550100"),
        Phone("+1 415 555 0100", region: "GB", "+14155550100"),
        Phone("011 44 20 7946 0958", region: "US", "+442079460958"), // US international prefix
        // United Kingdom: trunk prefix 0, "+44 (0)", international prefix 00.
        Phone("020 7946 0958", region: "GB", "+442079460958"),
        Phone("020-7946-0958", default: "GB", "+442079460958"),
        Phone("+44 (0)20 7946 0958", "+442079460958"),
        Phone("+44 (0) 20 7946 0958", region: "DE", "+442079460958"),
        Phone("+44 20 7946 0958", "+442079460958"),
        Phone("0044 20 7946 0958", region: "DE", "+442079460958"),
        Phone("07911 123456", region: "GB", "+447911123456"),
        Phone("0161 496 0000", region: "gb", "+441614960000"),
        // Germany: area code with trunk prefix, slash notation, "+49 (0)".
        Phone("030 123456", region: "DE", "+4930123456"),
        Phone("030/1234567", region: "DE", "+49301234567"),
        Phone("+49 30 1234567", "+49301234567"),
        Phone("+49 (0)30 1234567", region: "TW", "+49301234567"),
        Phone("0151 23456789", region: "DE", "+4915123456789"),
        Phone("0049 151 23456789", region: "GB", "+4915123456789"),
        // The record's region wins over the default; a blank region means the default.
        Phone("030 123456", region: "DE", default: "GB", "+4930123456"),
        Phone("020 7946 0958", region: " ", default: "GB", "+442079460958"),
        Phone("  \u{200B}415 555 0100\u{3000}", "+14155550100"),
    ])
    func phoneNumbersBecomeE164(_ phone: Phone) {
        let result = normalized(phone.input, .phone, region: phone.region, defaultRegion: phone.defaultRegion)
        #expect(result?.stored == phone.e164)
        #expect(result?.key == phone.e164)
    }

    @Test(arguments: [
        (Phone("", ""), "is empty"),
        (Phone("   ", ""), "is empty"),
        (Phone("12", ""), "not a valid number"),
        (Phone("555-0100", ""), "not a valid number"), // US number without its area code
        (Phone("0912-345-67", region: "TW", ""), "not a valid number"), // a digit short
        (Phone("020 7946 095", region: "GB", ""), "not a valid number"),
        (Phone("+1 415 555 01009", ""), "not a valid number"),
        (Phone("+999 123 4567", ""), "country calling code"), // no such calling code
        (Phone("0912345678", region: "TWN", default: "TW", ""), "country calling code"), // malformed record region
        (Phone("0912345678", default: "", ""), "country calling code"),
        (Phone("0912345678", region: "XX", ""), "country calling code"),
        (Phone("123456789012345678901234", ""), "too long"),
        (Phone(String(repeating: "1", count: 300), ""), "too long"),
        (Phone("415-555-0100 ext. 12", ""), "not part of a phone number"),
        (Phone("415-555-0100 x12", ""), "not part of a phone number"),
        (Phone("1-800-FLOWERS", ""), "not part of a phone number"),
        (Phone("call 415 555 0100", ""), "not part of a phone number"),
        (Phone("415#555#0100", ""), "not part of a phone number"),
        (Phone("415\u{0}5550100", ""), "not part of a phone number"),
        (Phone("+ - ( )", ""), "no digits"),
    ])
    func invalidPhoneNumbersFail(_ phone: Phone, mentions: String) {
        let error = failure(phone.input, .phone, region: phone.region, defaultRegion: phone.defaultRegion)
        #expect(error?.reason.contains(mentions) == true, "\(error?.reason ?? "")")
    }

    @Test func phoneLibraryRefusesASmallBufferAndLeavesNoPartialNumber() {
        let ok = Normalizer.libphonenumberE164("0912-345-678", region: "TW")
        #expect(ok.code == 0 && ok.e164 == "+886912345678")
        for capacity in [0, 1, 5, 13] { // "+886912345678" needs 14 bytes with its NUL
            let small = Normalizer.libphonenumberE164("0912-345-678", region: "TW", capacity: capacity)
            #expect(small.code == 3 && small.e164.isEmpty, "capacity \(capacity)")
        }
        #expect(Normalizer.libphonenumberE164("0912-345-678", region: "TW", capacity: 14).e164 == "+886912345678")
        #expect(Normalizer.libphonenumberE164("0912-345-678", region: "").code == 4)
    }

    @Test func phoneNormalizationIsThreadSafe() async {
        let cases = [
            ("0912-345-678", "TW", "+886912345678"), ("020 7946 0958", "GB", "+442079460958"),
            ("138 0013 8000", "CN", "+8613800138000"), ("030 123456", "DE", "+4930123456"),
            ("415.555.0100", "US", "+14155550100"),
        ]
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var bad = 0
                    for i in 0..<200 {
                        let (input, region, expected) = cases[(task + i) % cases.count]
                        let result = Normalizer.normalize(input, as: .phone, region: region)
                        if (try? result.get().stored) != expected { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    // MARK: E-mail

    @Test(arguments: [
        ("alice.smith@example.com", "alice.smith@example.com"),
        ("  Alice.Smith@Example.COM \n", "alice.smith@example.com"),
        ("BOB+News@Mail.Example.co.UK", "bob+news@mail.example.co.uk"),
        ("\u{FEFF}carol@example.org\u{3000}", "carol@example.org"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("first_last-1@sub-domain.example-1.com", "first_last-1@sub-domain.example-1.com"),
        ("info@bücher.de", "info@bücher.de"),
        ("INFO@BÜCHER.DE", "info@bücher.de"),
        ("info@bu\u{308}cher.de", "info@bücher.de"), // decomposed ü
        ("info@xn--bcher-kva.de", "info@xn--bcher-kva.de"), // punycode stays as written
        ("user@例え.jp", "user@例え.jp"),
        ("user@例え。jp", "user@例え.jp"), // ideographic full stop
        ("ｕｓｅｒ＠ｅｘａｍｐｌｅ．ｃｏｍ", "user@example.com"), // full-width
        ("ДМИТРИЙ@ПОЧТА.РФ", "дмитрий@почта.рф"),
        ("用户@例子.广告", "用户@例子.广告"),
        ("info@straße.de", "info@straße.de"), // lower-cased, not case-folded
        ("a@b.xn--p1ai", "a@b.xn--p1ai"),
        (String(repeating: "x", count: 64) + "@example.com", String(repeating: "x", count: 64) + "@example.com"),
    ])
    func emailsAreTrimmedAndLowerCased(input: String, expected: String) {
        let result = normalized(input, .email)
        #expect(result?.stored == expected)
        #expect(result?.key == expected)
    }

    @Test(arguments: [
        ("", "is empty"),
        ("   ", "is empty"),
        ("alice.example.com", "no @"),
        ("alice@@example.com", "more than one @"),
        ("alice@bob@example.com", "more than one @"),
        ("alice@example", "without a top-level domain"),
        ("alice@localhost", "without a top-level domain"),
        ("alice smith@example.com", "white space"),
        ("alice@exa mple.com", "white space"),
        ("Alice <alice@example.com>", "white space"),
        ("alice@example.com\u{0}", "control characters"),
        ("@example.com", "empty local part"),
        ("alice@", "no domain"),
        ("alice@example.c", "top-level domain"),
        ("alice@example.123", "top-level domain"),
        ("alice@-example.com", "hyphen"),
        ("alice@example-.com", "hyphen"),
        ("alice@example..com", "empty label"),
        ("alice@.example.com", "empty label"),
        ("alice@example.com.", "empty label"),
        (".alice@example.com", "dot"),
        ("alice.@example.com", "dot"),
        ("al..ice@example.com", "dot"),
        ("al(ice)@example.com", "quotes"),
        ("alice@exa_mple.com", "letters, digits and hyphens"),
        ("alice@example.com:25", "letters, digits and hyphens"),
        (String(repeating: "x", count: 65) + "@example.com", "64 bytes"),
        ("alice@" + String(repeating: "a", count: 64) + ".com", "63 characters"),
    ])
    func invalidEmailsFail(input: String, mentions: String) {
        let error = failure(input, .email)
        #expect(error?.reason.contains(mentions) == true, "\(error?.reason ?? "")")
    }

    // MARK: Name

    @Test(arguments: [
        ("José García", "José García", "josé garcía"),
        ("Jose\u{301} Garci\u{301}a", "José García", "josé garcía"), // NFD input
        ("JOSÉ GARCÍA", "JOSÉ GARCÍA", "josé garcía"),
        ("  Anna   Maria\tMüller \n", "Anna Maria Müller", "anna maria müller"),
        ("Anna-Maria Mu\u{308}ller", "Anna-Maria Müller", "anna-maria müller"),
        ("ÅSA ÖBERG", "ÅSA ÖBERG", "åsa öberg"),
        ("Nguyễn Văn An", "Nguyễn Văn An", "nguyễn văn an"),
        ("Straße", "Straße", "strasse"),
        ("STRASSE", "STRASSE", "strasse"),
        ("ΣΊΣΥΦΟΣ", "ΣΊΣΥΦΟΣ", "σίσυφοσ"),
        ("Zoë O’Brien", "Zoë O’Brien", "zoë o'brien"),
        ("Jean\u{2010}Luc", "Jean\u{2010}Luc", "jean-luc"),
        ("ＪＯＨＮ　ＳＭＩＴＨ", "JOHN SMITH", "john smith"), // full-width Latin, ideographic space
        ("Ｍａｒｉａ", "Maria", "maria"),
        ("王\u{3000}小明", "王 小明", "王 小明"),
        ("王小明", "王小明", "王小明"),
        ("  山田\u{3000}\u{3000}太郎 ", "山田 太郎", "山田 太郎"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ", "ヤマダ タロウ"), // half-width katakana, voiced mark composed
        ("ｶﾞｯﾂ　ﾊﾟﾝ", "ガッツ パン", "ガッツ パン"),
        ("김민준", "김민준", "김민준"),
        ("Mo\u{200B}hammed", "Mohammed", "mohammed"),
    ])
    func namesAreCleanedAndCaseFolded(input: String, stored: String, key: String) {
        let result = normalized(input, .name)
        #expect(result?.stored == stored)
        #expect(result?.key == key)
        // The blind index hashes bytes: the outputs must be composed, not merely equal as
        // Swift strings (which compare canonically).
        #expect(result.map { Array($0.stored.utf8) } == Array(stored.precomposedStringWithCanonicalMapping.utf8))
        #expect(result.map { Array($0.key.utf8) } == Array(key.precomposedStringWithCanonicalMapping.utf8))
    }

    @Test func composedAndDecomposedNamesGiveIdenticalBytes() {
        let composed = normalized("Zoë Ångström", .name)
        let decomposed = normalized("Zoe\u{308} A\u{30A}ngstro\u{308}m", .name)
        #expect(composed.map { Array($0.stored.utf8) } == decomposed.map { Array($0.stored.utf8) })
        #expect(composed.map { Array($0.key.utf8) } == decomposed.map { Array($0.key.utf8) })
    }

    @Test func namesKeepDiacriticsButIgnoreCase() {
        #expect(normalized("José", .name)?.key != normalized("Jose", .name)?.key)
        #expect(normalized("JOSÉ", .name)?.key == normalized("josé", .name)?.key)
        #expect(normalized("mary ann", .name)?.key == normalized("  MARY   ANN ", .name)?.key)
    }

    @Test func nameLengthLimit() {
        let longest = String(repeating: "é", count: 200)
        #expect(normalized(longest, .name)?.stored == longest)
        // Decomposed, 400 scalars but 200 characters: still allowed.
        #expect(normalized(String(repeating: "e\u{301}", count: 200), .name)?.stored == longest)
        #expect(failure(longest + "e", .name)?.reason == "is longer than 200 characters")
    }

    @Test(arguments: [
        ("", "is empty"),
        ("   ", "is empty"),
        ("\u{3000}\t", "is empty"),
        ("\u{200B}", "is empty"),
        ("Bob\u{7}by", "control characters"),
        ("Bob\u{0}", "control characters"),
        ("Bob\u{1B}[31m", "control characters"),
        ("Bob\u{7F}", "control characters"),
    ])
    func invalidNamesFail(input: String, mentions: String) {
        let error = failure(input, .name)
        #expect(error?.reason.contains(mentions) == true, "\(error?.reason ?? "")")
    }

    // MARK: National ID

    @Test(arguments: [
        ("A123456789", "A123456789"), // Taiwan
        ("a123456789", "A123456789"),
        ("123-45-6789", "123456789"), // US SSN
        ("AB 12 34 56 C", "AB123456C"), // UK National Insurance number
        ("ab123456c", "AB123456C"),
        ("850101-1234567", "8501011234567"), // Korean RRN
        ("12.345.678/0001-95", "12345678000195"), // Brazilian CNPJ
        ("123.456.789-09", "12345678909"), // Brazilian CPF
        ("11010119900307447x", "11010119900307447X"), // Chinese resident ID
        ("１２３４５６７８９", "123456789"), // full-width
        ("  X\u{2013}1234\u{2010}567 ", "X1234567"), // en dash, hyphen
        ("ABCD", "ABCD"),
        (String(repeating: "9", count: 32), String(repeating: "9", count: 32)),
    ])
    func nationalIDsLoseSeparators(input: String, expected: String) {
        let result = normalized(input, .nationalID)
        #expect(result?.stored == expected)
        #expect(result?.key == expected)
    }

    @Test(arguments: [
        ("", "is empty"),
        (" - / . ", "4 to 32"),
        ("12-3", "4 to 32"),
        (String(repeating: "9", count: 33), "4 to 32"),
        ("ABC#1234", "only ASCII letters and digits"),
        ("ÄBC12345", "only ASCII letters and digits"),
        ("ABC_1234", "only ASCII letters and digits"),
        ("ABC\u{7}1234", "control characters"),
    ])
    func invalidNationalIDsFail(input: String, mentions: String) {
        let error = failure(input, .nationalID)
        #expect(error?.reason.contains(mentions) == true, "\(error?.reason ?? "")")
    }

    // MARK: Date

    @Test(arguments: [
        ("2023-05-17", "2023-05-17"),
        ("  2023-05-17 ", "2023-05-17"),
        ("2024-02-29", "2024-02-29"), // leap year
        ("2000-02-29", "2000-02-29"), // divisible by 400
        ("1800-01-01", "1800-01-01"),
        ("2200-12-31", "2200-12-31"),
        ("2023-05-17T10:20:30Z", "2023-05-17"),
        ("2023-05-17T23:30:00-05:00", "2023-05-17"), // date as written, no time-zone conversion
        ("2023-05-17T00:30+08:00", "2023-05-17"),
        ("2023-05-17t10:20:30.123+0800", "2023-05-17"),
        ("2023-05-17T10:20:30,5", "2023-05-17"),
        ("2023-05-17 08:00", "2023-05-17"),
        ("2016-12-31T23:59:60Z", "2016-12-31"), // leap second
        ("２０２３－０５－１７", "2023-05-17"), // full-width
    ])
    func datesKeepTheirCalendarDate(input: String, expected: String) {
        let result = normalized(input, .date)
        #expect(result?.stored == expected)
        #expect(result?.key == expected)
    }

    @Test(arguments: [
        ("", "is empty"),
        ("2023-02-30", "real calendar date"),
        ("2023-02-29", "real calendar date"),
        ("1900-02-29", "real calendar date"), // divisible by 100, not 400
        ("2023-04-31", "real calendar date"),
        ("2023-13-01", "real calendar date"),
        ("2023-00-10", "real calendar date"),
        ("2023-05-00", "real calendar date"),
        ("1799-12-31", "year outside"),
        ("2201-01-01", "year outside"),
        ("0000-01-01", "year outside"),
        ("17/05/2023", "ISO 8601"),
        ("05/17/2023", "ISO 8601"),
        ("20230517", "ISO 8601"),
        ("2023-5-17", "ISO 8601"),
        ("2023/05/17", "ISO 8601"),
        ("yesterday", "ISO 8601"),
        ("2023-05-17T", "time"),
        ("2023-05-17T25:00", "time"),
        ("2023-05-17T10:60", "time"),
        ("2023-05-17T10", "time"),
        ("2023-05-17T10:20:30.", "time"),
        ("2023-05-17T10:20Z junk", "time"),
        ("2023-05-17T10:20+8", "time"),
        ("2023-05-17X10:20", "time"),
        ("2023-05-170", "time"),
    ])
    func invalidDatesFail(input: String, mentions: String) {
        let error = failure(input, .date)
        #expect(error?.reason.contains(mentions) == true, "\(error?.reason ?? "")")
    }

    // MARK: Country

    @Test(arguments: [("tw", "TW"), (" gb\n", "GB"), ("De", "DE"), ("US", "US"), ("ｊｐ", "JP")])
    func countriesAreTwoUpperCaseLetters(input: String, expected: String) {
        #expect(normalized(input, .country) == NormalizedValue(expected))
    }

    @Test(arguments: ["TWN", "T", "1A", "ÜS", "G B", "U.S."])
    func invalidCountriesFail(input: String) {
        #expect(failure(input, .country)?.reason == "is not a two-letter ISO 3166-1 alpha-2 code")
    }

    @Test func emptyCountryFails() {
        #expect(failure(" ", .country)?.reason == "is empty")
    }

    // MARK: Text

    @Test(arguments: [
        ("  hello   world ", "hello world"),
        ("line one\nline two\r\n\tline three", "line one line two line three"),
        ("Cafe\u{301} au lait", "Café au lait"), // NFC
        ("x² ﬁle", "x² ﬁle"), // compatibility forms kept in free text
        ("午後\u{3000}三時", "午後 三時"),
    ])
    func textIsTrimmedAndCollapsed(input: String, expected: String) {
        let result = normalized(input, .text)
        #expect(result == NormalizedValue(expected))
        #expect(result.map { Array($0.stored.utf8) } == Array(expected.precomposedStringWithCanonicalMapping.utf8))
    }

    @Test(arguments: [("", "is empty"), (" \n\t ", "is empty"), ("bell\u{7}", "control characters"), ("nul\u{0}", "control characters")])
    func invalidTextFails(input: String, mentions: String) {
        let error = failure(input, .text)
        #expect(error?.reason.contains(mentions) == true, "\(error?.reason ?? "")")
    }

    // MARK: Idempotence

    /// Stored values are normalized again when compared or re-indexed: that must change nothing.
    @Test(arguments: [
        (FieldKind.phone, "0912-345-678", "TW"), (.phone, "+44 (0)20 7946 0958", nil), (.phone, "138 0013 8000", "CN"),
        (.email, "  INFO@BÜCHER.DE", nil), (.email, "ｕｓｅｒ＠例え。jp", nil),
        (.name, "Jose\u{301}  GARCÍA", nil), (.name, "ﾔﾏﾀﾞ\u{3000}ﾀﾛｳ", nil), (.name, "Zoë O’Brien", nil),
        (.nationalID, "ab 12 34 56 c", nil), (.date, "2023-05-17T10:20:30Z", nil), (.country, " tw", nil),
        (.text, "Cafe\u{301}   au\nlait", nil),
    ] as [(FieldKind, String, String?)])
    func normalizingTheStoredFormChangesNothing(kind: FieldKind, input: String, region: String?) {
        guard let first = normalized(input, kind, region: region) else { return }
        let again = normalized(first.stored, kind, region: region)
        #expect(again.map { Array($0.stored.utf8) } == Array(first.stored.utf8))
        #expect(again.map { Array($0.key.utf8) } == Array(first.key.utf8))
    }

    // MARK: No value in any error

    @Test(arguments: canaries)
    func errorsNeverContainTheValue(kind: FieldKind, input: String) {
        guard let error = failure(input, kind, region: "TW") else { return }
        let texts = [error.reason, error.description, String(describing: error), String(reflecting: error)]
            .map { $0.lowercased() }
        let value = Array(input.lowercased())
        for text in texts {
            #expect(!text.contains(input.lowercased()))
            for length in 4...max(4, value.count) where length <= value.count {
                for start in 0...(value.count - length) {
                    let piece = String(value[start..<start + length])
                    if piece.allSatisfy(\.isWhitespace) { continue }
                    #expect(!text.contains(piece), "error text contains \"\(piece)\"")
                }
            }
        }
    }
}

// MARK: - ASCII fast paths

/// SplitMix64 with a fixed seed, so the generated inputs are the same on every run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generated inputs for the differential test: mostly ASCII (the fast paths' domain), with
/// now and then one of the invisible characters, which every kind drops first.
private struct ASCIIInputs {
    var g: SeededGenerator

    static let invisibles: [Unicode.Scalar] = ["\u{200B}", "\u{2060}", "\u{FEFF}"]
    static let lower = Array("abcdefghijklmnopqrstuvwxyz".unicodeScalars)
    static let upper = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ".unicodeScalars)
    static let digits = Array("0123456789".unicodeScalars)
    static let common = lower + upper + digits + Array(" \t@.-+()/".unicodeScalars)
    /// Every ASCII scalar (controls, CR, LF, all punctuation) and the invisibles.
    static let any = (0..<128).map { Unicode.Scalar(UInt8($0)) } + invisibles
    static let whitespace = Array(" \t\n\r\u{B}\u{C}".unicodeScalars)

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &g) }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items.randomElement(using: &g)! }

    mutating func word(_ alphabet: [Unicode.Scalar], _ length: ClosedRange<Int>) -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<int(length) { s.append(pick(alphabet)) }
        return String(s)
    }

    /// Random mixes of letters, digits, white space and `@ . - + ( ) /`, with a few of any
    /// other ASCII character and the invisibles.
    mutating func noise(_ length: ClosedRange<Int> = 0...24) -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<int(length) { s.append(chance(10) ? pick(Self.any) : pick(Self.common)) }
        return String(s)
    }

    /// White space (and sometimes an invisible) at either end, and sometimes one stray
    /// character inserted or one removed.
    mutating func perturbed(_ value: String) -> String {
        var scalars = Array(value.unicodeScalars)
        if chance(15) { scalars.insert(pick(Self.any), at: int(0...scalars.count)) }
        if chance(5), !scalars.isEmpty { scalars.remove(at: int(0...scalars.count - 1)) }
        if chance(5) { scalars.insert(pick(Self.invisibles), at: int(0...scalars.count)) }
        var s = String(String.UnicodeScalarView(scalars))
        if chance(25) { s = word(Self.whitespace, 1...3) + s }
        if chance(25) { s += word(Self.whitespace, 1...3) }
        return s
    }

    mutating func email() -> String {
        let localChars = Self.lower + Self.upper + Self.digits + Array("._+-'".unicodeScalars)
        let labelChars = Self.lower + Self.upper + Self.digits + ["-"]
        let local = chance(5) ? word(Self.lower, 63...66) : word(localChars, 0...12)
        var labels: [String] = []
        for _ in 0..<int(0...3) { labels.append(chance(3) ? word(Self.lower, 62...64) : word(labelChars, 0...9)) }
        labels.append(chance(50)
            ? pick(["com", "COM", "de", "Org", "c", "123", "x1", "xn--p1ai", "XN--P1AI", "xn--", "xn--1", "co", ""])
            : word(labelChars, 0...6))
        let at = chance(90) ? "@" : pick(["", "@@", " @", "@ ", "."])
        return perturbed(local + at + labels.joined(separator: chance(95) ? "." : pick(["..", "-", " "])))
    }

    mutating func phone() -> String {
        if chance(2) { return String(repeating: "1", count: int(240...260)) }
        let realistic = ["+1 415 555 0100", "(415) 555-0100", "415.555.0100", "0912-345-678", "020 7946 0958",
                         "+44 (0)20 7946 0958", "+49 30 1234567", "030/1234567", "138 0013 8000", "+886 912-345-678",
                         "011 44 20 7946 0958", "[02] 2345 6789", "+ - ( )", "555-0100"]
        if chance(40) { return perturbed(pick(realistic)) }
        var s = pick(["", "+", "+1 ", "+44 (0)", "00", "011 ", "(", "1-", "+886 ", "0"])
        let separators = [" ", "-", ".", "/", "(", ")", "[", "]", "  ", "\t", ""]
        for i in 0..<int(1...5) {
            if i > 0 { s += pick(separators) }
            s += word(Self.digits, 1...5)
        }
        return perturbed(s)
    }

    mutating func region() -> String? {
        pick([nil, "", " ", "US", "us", " gb ", "TW", "tw", "De", "XX", "TWN", "1A", "U", "Tw\t", "\u{200B}US", "ｔｗ"])
    }

    mutating func name() -> String {
        if chance(3) { return word(Self.lower + [" "], 195...205) }
        let nameChars = Self.lower + Self.upper + Array("'-.".unicodeScalars)
        var s = ""
        for i in 0..<int(1...4) {
            if i > 0 { s += chance(70) ? " " : word(Self.whitespace, 1...3) }
            s += word(nameChars, 1...9)
        }
        return perturbed(s)
    }

    mutating func nationalID() -> String {
        let idChars = Self.upper + Self.lower + Self.digits
        var s = ""
        for i in 0..<int(1...5) {
            if i > 0 { s += pick(["", "-", ".", "/", " ", "\t", "--"]) }
            s += word(idChars, 0...9)
        }
        return perturbed(s)
    }

    mutating func date() -> String {
        func two(_ range: ClosedRange<Int>, _ gen: inout ASCIIInputs) -> String {
            let n = gen.int(range)
            return n < 10 ? "0\(n)" : "\(n)"
        }
        var s = "\(int(1790...2210))-\(two(0...13, &self))-\(two(0...32, &self))"
        if chance(40) {
            s += pick(["T", "t", " ", "X", ""]) + two(0...25, &self) + pick([":", "", "-"]) + two(0...61, &self)
            if chance(50) { s += ":" + two(0...61, &self) + (chance(30) ? pick([".", ","]) + word(Self.digits, 0...4) : "") }
            if chance(50) { s += pick(["Z", "z", "+08:00", "-0500", "+8", "+08", "-05:0", " junk", "Z!"]) }
        }
        if chance(10) { s = s.replacingOccurrences(of: "-", with: pick(["/", "", "--"])) }
        return perturbed(s)
    }

    mutating func country() -> String {
        perturbed(word(Self.lower + Self.upper + (chance(10) ? Self.digits : []), 0...3))
    }

    mutating func text() -> String {
        var s = ""
        for i in 0..<int(0...6) {
            if i > 0 { s += chance(60) ? " " : word(Self.whitespace, 1...3) }
            s += word(Self.common, 0...8)
        }
        return perturbed(s)
    }

    mutating func value(for kind: FieldKind) -> String {
        switch kind {
        case .email: email()
        case .phone: phone()
        case .name: name()
        case .nationalID: nationalID()
        case .date: date()
        case .country: country()
        case .text: text()
        }
    }
}

/// Realistic values (mostly from the tests above), tried as every kind.
private let realisticSamples: [String] = [
    "alice.smith@example.com", "  Alice.Smith@Example.COM \n", "BOB+News@Mail.Example.co.UK", "\u{FEFF}carol@example.org",
    "o'brien@example.ie", "first_last-1@sub-domain.example-1.com", "info@xn--bcher-kva.de", "a@b.xn--p1ai",
    "alice@@example.com", "alice@example", "alice smith@example.com", "Alice <alice@example.com>", "alice@example.com\u{0}",
    "@example.com", "alice@", "alice@example.c", "alice@example.123", "alice@-example.com", "alice@example..com",
    ".alice@example.com", "al..ice@example.com", "al(ice)@example.com", "alice@exa_mple.com", "alice@example.com:25",
    String(repeating: "x", count: 64) + "@example.com", String(repeating: "x", count: 65) + "@example.com",
    "alice@" + String(repeating: "a", count: 64) + ".com",
    "0912-345-678", "(+886) 912 345 678", "+886-2-2345-6789", "138-0013-8000", "(415) 555-0100", "1 (415) 555 0100",
    "+44 (0) 20 7946 0958", "030/1234567", "  \u{200B}415 555 0100", "415-555-0100 ext. 12", "1-800-FLOWERS",
    "415#555#0100", "415\u{0}5550100", "+ - ( )", String(repeating: "1", count: 300),
    "Jose Garcia", "  Anna   Maria\tMuller \n", "Anna-Maria Muller", "STRASSE", "Zoe O'Brien", "Mo\u{200B}hammed",
    "Bob\u{7}by", "Bob\u{1B}[31m", "Bob\u{7F}", "\r\n", "a\r\nb", String(repeating: "e", count: 201),
    "A123456789", "123-45-6789", "AB 12 34 56 C", "12.345.678/0001-95", "11010119900307447x", "ABC#1234", "ABC_1234",
    "ABC\u{7}1234", " - / . ", "12-3", String(repeating: "9", count: 33),
    "2023-05-17", "  2023-05-17 ", "2024-02-29", "2023-05-17T10:20:30Z", "2023-05-17T23:30:00-05:00",
    "2023-05-17t10:20:30.123+0800", "2023-05-17T10:20:30,5", "2023-05-17 08:00", "2016-12-31T23:59:60Z",
    "1900-02-29", "2023-13-01", "1799-12-31", "17/05/2023", "20230517", "2023-05-17T", "2023-05-17T10:20Z junk",
    "2023-05-170", "tw", " gb\n", "De", "US", "TWN", "T", "1A", "G B", "U.S.", " ",
    "  hello   world ", "line one\nline two\r\n\tline three", "bell\u{7}", "nul\u{0}", "", "\u{200B}", "\t\u{B}\u{C}",
]

/// A normalization result compared byte for byte (`NormalizedValue`'s `==` compares strings
/// canonically, which would hide a change between NFC and NFD bytes).
private enum Outcome: Equatable {
    case value(stored: [UInt8], key: [UInt8])
    case error(FieldKind, String)

    init(_ result: Result<NormalizedValue, NormalizationError>) {
        switch result {
        case .success(let v): self = .value(stored: Array(v.stored.utf8), key: Array(v.key.utf8))
        case .failure(let e): self = .error(e.kind, e.reason)
        }
    }

    var succeeded: Bool { if case .value = self { true } else { false } }
}

@Suite("Normalizer ASCII fast paths")
struct NormalizerFastPathTests {
    /// The ASCII fast paths must give exactly what the general (Unicode) path gives: the
    /// same bytes, or the same failure with the same reason.
    @Test(arguments: FieldKind.allCases)
    func fastPathsMatchTheGeneralPath(kind: FieldKind) {
        var inputs = ASCIIInputs(g: SeededGenerator(seed: 0x5EED_0000 + UInt64(FieldKind.allCases.firstIndex(of: kind)!)))
        var cases: [(value: String, region: String?, defaultRegion: String)] = []
        let generated = kind == .phone ? 2_000 : 3_000 // libphonenumber is the slow part
        for _ in 0..<generated { cases.append((inputs.value(for: kind), inputs.region(), inputs.pick(["US", "GB", "tw", "", "ZZZ"]))) }
        for _ in 0..<1_000 { cases.append((inputs.noise(), inputs.region(), "US")) }
        for sample in realisticSamples { cases.append((sample, inputs.region(), "US")) }

        var mismatches: [String] = []
        var asciiCount = 0
        var successes = 0
        for (value, region, defaultRegion) in cases {
            if value.unicodeScalars.allSatisfy({ $0.isASCII || ASCIIInputs.invisibles.contains($0) }) { asciiCount += 1 }
            let fast = Outcome(Normalizer.normalize(value, as: kind, region: region, defaultRegion: defaultRegion, asciiFastPaths: true))
            let general = Outcome(Normalizer.normalize(value, as: kind, region: region, defaultRegion: defaultRegion, asciiFastPaths: false))
            if fast.succeeded { successes += 1 }
            if fast != general {
                mismatches.append("\(value.debugDescription) [\(region?.debugDescription ?? "nil")/\(defaultRegion)]: fast \(fast), general \(general)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ, e.g.\n\(mismatches.prefix(10).joined(separator: "\n"))")
        // The inputs must exercise the fast paths, and both outcomes.
        #expect(asciiCount > cases.count * 9 / 10)
        #expect(successes > cases.count / 20, "\(successes) of \(cases.count) succeeded")
        #expect(successes < cases.count * 19 / 20, "\(successes) of \(cases.count) succeeded")
    }

    /// The phone region takes a fast path of its own (regions are ASCII codes).
    @Test func phoneRegionFastPathMatchesTheGeneralPath() {
        var inputs = ASCIIInputs(g: SeededGenerator(seed: 0x5EED_4E61))
        var regions: [String?] = [nil]
        for _ in 0..<3_000 { regions.append(inputs.perturbed(inputs.word(ASCIIInputs.common, 0...3))) }
        for _ in 0..<500 { regions.append(inputs.word(ASCIIInputs.any, 0...3)) }
        for region in regions {
            let fast = Normalizer.phoneRegion(region, asciiFastPaths: true)
            let general = Normalizer.phoneRegion(region, asciiFastPaths: false)
            #expect(fast.map { Array($0.utf8) } == general.map { Array($0.utf8) }, "\(region.debugDescription)")
        }
    }

    @Test func asciiCharacterClassesMatchUnicodeProperties() {
        for byte in UInt8(0)..<128 {
            let scalar = Unicode.Scalar(byte)
            #expect(Normalizer.isASCIIWhitespace(byte) == scalar.properties.isWhitespace, "\(byte)")
            #expect(Normalizer.isASCIIControl(byte) == (scalar.properties.generalCategory == .control), "\(byte)")
        }
    }

    @Test func isASCIIChecksEveryByte() {
        #expect(Normalizer.isASCII(""))
        for length in 1...40 {
            let plain = String(repeating: "a", count: length)
            #expect(Normalizer.isASCII(plain))
            #expect(Normalizer.isASCII(String(repeating: "\u{7F}", count: length)))
            for position in 0..<length {
                for other in ["é", "\u{80}", "\u{200B}", "😀"] {
                    var scalars = Array(plain.unicodeScalars)
                    scalars[position] = other.unicodeScalars.first!
                    #expect(!Normalizer.isASCII(String(String.UnicodeScalarView(scalars))), "\(length) \(position)")
                }
            }
        }
    }

    // MARK: Blank and trimming helpers

    @Test(arguments: [
        ("", true), (" ", true), (" \t\n\r\u{B}\u{C}", true), ("\u{A0}\u{3000}\u{2028}\u{85}\u{1680}", true),
        ("\u{200B}", true), (" \u{FEFF} \u{2060} ", true),
        ("a", false), (" a ", false), ("\u{0}", false), ("\u{7}", false), ("\u{200C}", false), ("\u{200D}", false),
        ("\u{180E}", false), // MONGOLIAN VOWEL SEPARATOR: not White_Space since Unicode 6.3
        (" é ", false), ("\u{301}", false),
    ])
    func isBlank(input: String, expected: Bool) {
        #expect(Normalizer.isBlank(input) == expected)
    }

    @Test(arguments: [
        ("", ""), ("   ", ""), ("abc", "abc"), ("  abc  ", "abc"), ("\t a b \n", "a b"), ("\r\nx\r\n", "x"),
        ("\u{3000}山田 太郎\u{A0}", "山田 太郎"), ("\u{2028}é\u{85}", "é"),
        ("\u{200B} a \u{FEFF}", "\u{200B} a \u{FEFF}"), // invisibles are not white space
        (" e\u{301} ", "e\u{301}"), ("\u{301} ", "\u{301}"), // a leading combining mark stays
    ])
    func trimmedWhitespace(input: String, expected: String) {
        #expect(Array(Normalizer.trimmedWhitespace(input).utf8) == Array(expected.utf8))
    }

    @Test func blankAndTrimmingMatchAScalarByScalarReference() {
        let alphabet: [Unicode.Scalar] = ["a", "Z", "0", "-", "@", " ", "\t", "\n", "\r", "\u{B}", "\u{C}", "\u{0}", "\u{7F}",
                                          "\u{85}", "\u{A0}", "\u{1680}", "\u{2000}", "\u{200A}", "\u{2028}", "\u{2029}",
                                          "\u{202F}", "\u{205F}", "\u{3000}", "\u{200B}", "\u{2060}", "\u{FEFF}", "\u{180E}",
                                          "é", "e", "\u{301}", "山", "😀"]
        let invisibles: Set<Unicode.Scalar> = ["\u{200B}", "\u{2060}", "\u{FEFF}"]
        var g = SeededGenerator(seed: 0xB1A4C)
        for _ in 0..<5_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...8, using: &g) { scalars.append(alphabet.randomElement(using: &g)!) }
            let s = String(scalars)
            let blank = s.unicodeScalars.allSatisfy { $0.properties.isWhitespace || invisibles.contains($0) }
            #expect(Normalizer.isBlank(s) == blank, "\(s.debugDescription)")
            let u = Array(s.unicodeScalars)
            let first = u.firstIndex { !$0.properties.isWhitespace }
            let last = u.lastIndex { !$0.properties.isWhitespace }
            let trimmed = first.map { String(String.UnicodeScalarView(u[$0...last!])) } ?? ""
            #expect(Array(Normalizer.trimmedWhitespace(s).utf8) == Array(trimmed.utf8), "\(s.debugDescription)")
        }
    }
}
