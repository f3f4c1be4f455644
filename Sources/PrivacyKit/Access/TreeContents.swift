import Sodium
import Synchronization

/// Pages and buckets of the decision tree this process has hashed, each kept under the
/// hash it computed of it: a proof walks from the committed root down these instead of
/// reading and hashing the stored path again.
///
/// Sound whatever the store holds: an entry is only ever reached by its own hash, so the
/// walk from a root visits exactly the contents that root commits to (a store writer can
/// change what is stored, not what hashed to a value). Entries of older roots stay useful
/// after a change: a change rewrites the pages on its paths, every other page keeps its
/// hash. Bounded; emptied when full. A walk that finds a piece missing, or a tag other than
/// the claimed one, proves nothing, and the stored path decides.
final class TreeContents: Sendable {
    typealias Members = [(key: [UInt8], tag: [UInt8])]

    /// A 32-byte hash as four words: hashed and compared as such, where an array of bytes
    /// is hashed byte by byte (most of a cached proof's cost before).
    struct Key: Hashable {
        let a, b, c, d: UInt64

        init(_ bytes: UnsafeRawBufferPointer) {
            a = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            b = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            c = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            d = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        }

        init(_ hash: [UInt8]) { self = hash.withUnsafeBytes { Key($0) } }

        /// The child hash in slot `offset / 32` of a page.
        init(page: [UInt8], offset: Int) {
            self = page.withUnsafeBytes { Key(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + 32)])) }
        }

        var isEmpty: Bool { a | b | c | d == 0 }
    }

    private struct State {
        var pages: [Key: [UInt8]] = [:]
        var buckets: [Key: Members] = [:]
        var bytes = 0
    }
    private let state = Mutex(State())
    /// Every page of a full tree (2.4 MB) and the buckets of about 200,000 leaves: a long
    /// sweep or import, whose every change leaves old pages behind, stays within it.
    static let byteCapacity = 16 << 20

    /// Whether the tree under `root` has `tag` at `position` (nil: no leaf there).
    func proves(_ position: DecisionIntegrity.Position, tag: [UInt8]?, root: [UInt8]) -> Bool {
        guard root.count == 32 else { return false }
        return state.withLock { state in
            var hash = Key(root)
            for level in 0..<DecisionIntegrity.pageLevels {
                if hash.isEmpty { return tag == nil }
                guard let page = state.pages[hash] else { return false }
                hash = Key(page: page, offset: (position.bucket >> (4 * (DecisionIntegrity.pageLevels - 1 - level)) & 15) * 32)
            }
            if hash.isEmpty { return tag == nil }
            guard let members = state.buckets[hash] else { return false }
            let member = members.first { ConstantTime.equals($0.key, position.key) }
            switch (member, tag) {
            case (nil, nil): return true
            case (let member?, let tag?): return ConstantTime.equals(member.tag, tag)
            default: return false
            }
        }
    }

    /// Keeps pages and buckets under the hashes computed of them.
    func remember(pages: [(hash: [UInt8], page: [UInt8])], buckets: [(hash: [UInt8], members: Members)]) {
        let bytes = pages.count * (DecisionIntegrity.pageByteCount + 32)
            + buckets.reduce(0) { $0 + 32 + $1.members.count * 64 }
        state.withLock { state in
            if state.bytes + bytes > Self.byteCapacity { state = State() }
            for (hash, page) in pages where state.pages.updateValue(page, forKey: Key(hash)) == nil {
                state.bytes += DecisionIntegrity.pageByteCount + 32
            }
            for (hash, members) in buckets where state.buckets.updateValue(members, forKey: Key(hash)) == nil {
                state.bytes += 32 + members.count * 64
            }
        }
    }
}
