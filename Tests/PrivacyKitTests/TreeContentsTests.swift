@testable import PrivacyKit
import Sodium
import Testing

/// The pages and buckets a vault keeps from its proofs: what they prove must be exactly
/// what the root they hang from commits to.
@Suite("Decision tree contents kept between proofs")
struct TreeContentsTests {
    typealias Integrity = DecisionIntegrity

    static func position(_ n: UInt8, bucket: Int) -> Integrity.Position {
        Integrity.Position(key: [UInt8](repeating: n, count: 32), bucket: bucket)
    }
    static func tag(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 32) }

    let a = position(1, bucket: 0x1234)
    let b = position(2, bucket: 0x1234)  // the same bucket as a
    let c = position(3, bucket: 0xFEDC)

    @Test func provesWhatTheRootCommitsToAndNothingElse() throws {
        let computed = try Integrity.root(of: .init(), setting: [(a, Self.tag(10)), (b, Self.tag(11)), (c, Self.tag(12))])
        let contents = TreeContents()
        #expect(!contents.proves(a, tag: Self.tag(10), root: computed.root), "nothing remembered yet")
        computed.remember(in: contents)
        #expect(contents.proves(a, tag: Self.tag(10), root: computed.root))
        #expect(contents.proves(b, tag: Self.tag(11), root: computed.root))
        #expect(contents.proves(c, tag: Self.tag(12), root: computed.root))
        #expect(!contents.proves(a, tag: Self.tag(11), root: computed.root), "another tag")
        #expect(!contents.proves(a, tag: nil, root: computed.root), "a leaf there claimed absent")
        #expect(!contents.proves(Self.position(4, bucket: 0x1234), tag: Self.tag(10), root: computed.root), "absent leaf claimed present")
        #expect(contents.proves(Self.position(4, bucket: 0x1234), tag: nil, root: computed.root), "absent leaf in a known bucket")
        #expect(contents.proves(Self.position(5, bucket: 0x0001), tag: nil, root: computed.root), "an empty subtree")
        var otherRoot = computed.root
        otherRoot[0] ^= 1
        #expect(!contents.proves(a, tag: Self.tag(10), root: otherRoot), "a root it has not seen")
    }

    /// After a change, the pages off its path still serve proofs under the new root.
    @Test func aChangeKeepsTheRestUseful() throws {
        let before = try Integrity.root(of: .init(), setting: [(a, Self.tag(10)), (c, Self.tag(12))])
        let contents = TreeContents()
        before.remember(in: contents)
        let slice = Integrity.Slice(leaves: before.leaves, pages: before.pages)
        let after = try Integrity.root(of: slice, setting: [(a, Self.tag(20))])
        #expect(!contents.proves(a, tag: Self.tag(20), root: after.root), "the new root's path is not known yet")
        after.remember(in: contents)
        #expect(contents.proves(a, tag: Self.tag(20), root: after.root))
        #expect(!contents.proves(a, tag: Self.tag(10), root: after.root), "the old tag under the new root")
        #expect(contents.proves(a, tag: Self.tag(10), root: before.root), "the old root still proves its own")
        #expect(contents.proves(c, tag: Self.tag(12), root: after.root))
    }
}
