import Foundation
@testable import PrivacyKit
import Testing

/// The hand parser of the `plain` column must read exactly what a JSON decoder reads.
@Suite("Plain fields")
struct PlainFieldsTests {
    @Test(arguments: [
        [:], ["city": "Taipei"], ["a": "", "b": "x"], ["segment": "vip", "city": "台北市"],
        ["note": "a \"quoted\" \\ back\nslash\ttab\u{1}"], ["k": "}{,:"],
    ] as [[String: String]])
    func whatTheWriterWritesReadsBack(_ plain: [String: String]) {
        #expect(PlainFields.decode(RecordStore.json(plain)) == plain)
    }

    @Test func otherJSONGoesToTheDecoder() {
        #expect(PlainFields.decode(#"{ "a" : "b" }"#) == ["a": "b"])
        #expect(PlainFields.decode(#"{"a":"\u0041"}"#) == ["a": "A"])
        #expect(PlainFields.decode(#"{"a":1}"#) == nil)
        #expect(PlainFields.decode(#"{"a":"b""#) == nil)
        #expect(PlainFields.decode(#"{"a":"b"} x"#) == nil)
        #expect(PlainFields.decode("") == nil)
        // A key twice: whatever the decoder makes of it, never a silent pick by the fast path.
        let twice = PlainFields.decode(#"{"a":"1","a":"2"}"#)
        #expect(twice == (try? JSONDecoder().decode([String: String].self, from: Data(#"{"a":"1","a":"2"}"#.utf8))))
    }
}
