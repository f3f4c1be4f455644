import Foundation
import Sodium
import Synchronization

/// Authenticated decision state (format 2; `docs/formats.md`, `docs/threat-model.md`).
///
/// Every decision reads rows a store writer can change: consent state, restrictions,
/// legal holds, tombstones. A keyed tag of each subject's rows (and one of all category
/// holds) is a leaf of a sparse Merkle tree of depth 16 (65,536 buckets, a leaf's bucket
/// the first two bytes of its keyed position); the tree's root is what every audit event's
/// MAC commits to. A decision recomputes its subject's tag from the rows it reads and the
/// root from the stored path, and compares it with the root of the newest MACed event:
/// an inserted, edited, deleted or rolled-back row changes the tag, and a vanished hold
/// or tombstone changes it too (the tag is of all the subject's rows, so "no hold" and
/// "hold deleted" differ). Only a whole-store rollback, audit log included, goes
/// unnoticed without a witness.
///
/// Keys and tags use the audit-chain key (labels keep the uses apart); the bucket and node
/// hashes are plain BLAKE2b (their inputs are keyed tags). An empty subtree hashes to
/// nothing, so the stored tree holds only non-empty nodes.
struct DecisionIntegrity: Sendable {
    static let depth = 16
    static let emptyRoot = [UInt8](repeating: 0, count: 32)
    /// Errors from a failed check start with this (the access decision records them).
    static let failurePrefix = "decision state failed its integrity check"

    let key: SecureBytes

    /// What a leaf covers.
    enum Leaf: Hashable, Sendable {
        case subject(String)
        case categoryHolds

        var name: String {
            switch self {
            case .subject(let id): "subject:" + id
            case .categoryHolds: "category-holds"
            }
        }

        var description: String {
            switch self {
            case .subject(let id): "subject \(id)"
            case .categoryHolds: "the category holds"
            }
        }
    }

    struct Position {
        let key: [UInt8]
        let bucket: Int
    }

    func position(_ leaf: Leaf) throws -> Position {
        var c = Canonical("privacykit.state.position.v1")
        c.append(leaf.name)
        let key = try BLAKE2b.hash(c.bytes, key: key)
        return Position(key: key, bucket: Int(key[0]) << 8 | Int(key[1]))
    }

    /// The keyed tag of `leaf`'s rows as they are now; nil when it has none.
    func tag(_ leaf: Leaf, rows tree: DecisionRows.Tree) throws -> [UInt8]? {
        let rows: [DecisionRows.Tree.Row] = switch leaf {
        case .subject(let id): try tree.subjectRows(id)
        case .categoryHolds: try tree.categoryHoldRows().map { ("legal_holds", $0.values[...]) }
        }
        return try tag(leaf, values: rows)
    }

    /// The tag of `leaf` given its rows (read one leaf at a time, or in bulk).
    func tag(_ leaf: Leaf, values rows: [DecisionRows.Tree.Row]) throws -> [UInt8]? {
        guard !rows.isEmpty else { return nil }
        var c = Canonical("privacykit.state.leaf.v1")
        c.append(leaf.name)
        for (table, values) in rows {
            c.append(table)
            c.append(UInt64(values.count))
            for value in values {
                switch value {
                case .null: c.append("n")
                case .integer(let v): c.append("i"); c.append(UInt64(bitPattern: v))
                case .real(let v): c.append("r"); c.append(v.bitPattern)
                case .text(let v): c.append("t"); c.append(v)
                case .blob(let v): c.append("b"); c.append(v)
                }
            }
        }
        return try BLAKE2b.hash(c.bytes, key: key)
    }

    // MARK: - The tree

    static func bucketHash(_ leaves: [(key: [UInt8], tag: [UInt8])]) throws -> [UInt8]? {
        guard !leaves.isEmpty else { return nil }
        var c = Canonical("privacykit.state.bucket.v1")
        for leaf in leaves.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            c.append(leaf.key)
            c.append(leaf.tag)
        }
        return try BLAKE2b.hash(c.bytes)
    }

    static func node(_ left: [UInt8]?, _ right: [UInt8]?) throws -> [UInt8]? {
        guard left != nil || right != nil else { return nil }
        var c = Canonical("privacykit.state.node.v1")
        c.append(left ?? emptyRoot)
        c.append(right ?? emptyRoot)
        return try BLAKE2b.hash(c.bytes)
    }

    static func nodePosition(level: Int, index: Int) -> Int { level << 20 | index }

    /// The root of the stored tree with the leaf at `position` set to `tag` (nil: absent),
    /// and the nodes on its path (bucket first, root last) as they would then be.
    func root(setting position: Position, to tag: [UInt8]?, tree: DecisionRows.Tree) throws
        -> (root: [UInt8], path: [(position: Int, hash: [UInt8]?)])
    {
        var leaves = try tree.leaves(bucket: position.bucket).filter { !ConstantTime.equals($0.key, position.key) }
        if let tag { leaves.append((position.key, tag)) }
        var index = position.bucket
        var current = try Self.bucketHash(leaves)
        var path: [(position: Int, hash: [UInt8]?)] = [(Self.nodePosition(level: Self.depth, index: index), current)]
        let siblings = try tree.nodes((1...Self.depth).map { level in
            Self.nodePosition(level: level, index: (position.bucket >> (Self.depth - level)) ^ 1)
        })
        for level in stride(from: Self.depth, to: 0, by: -1) {
            let sibling = siblings[Self.nodePosition(level: level, index: index ^ 1)]
            current = index & 1 == 0 ? try Self.node(current, sibling) : try Self.node(sibling, current)
            index >>= 1
            path.append((Self.nodePosition(level: level - 1, index: index), current))
        }
        return (current ?? Self.emptyRoot, path)
    }

    /// Checks that `leaf`'s rows are the ones `committed` (a root the keyed audit chain
    /// vouches for) covers.
    func verify(_ leaf: Leaf, tag: [UInt8]?, committed: [UInt8], tree: DecisionRows.Tree) throws {
        let computed = try root(setting: try position(leaf), to: tag, tree: tree).root
        guard ConstantTime.equals(computed, committed) else { throw Self.failure(leaf) }
    }

    /// Sets `leaf` to its rows as they are now, given that `committed` is the root before;
    /// checks first that the stored tree agrees with `committed` about the leaf's old tag.
    /// Returns the new root.
    func update(_ leaf: Leaf, oldTag: [UInt8]?, committed: [UInt8], tree: DecisionRows.Tree) throws -> [UInt8] {
        try verify(leaf, tag: oldTag, committed: committed, tree: tree)
        let position = try position(leaf)
        let tag = try tag(leaf, rows: tree)
        let (newRoot, path) = try root(setting: position, to: tag, tree: tree)
        try tree.setLeaf(key: position.key, bucket: position.bucket, tag: tag)
        for node in path { try tree.setNode(node.position, hash: node.hash) }
        return newRoot
    }

    /// Builds the whole tree from the rows and returns its root; with `store`, also writes
    /// it (the upgrade), else only computes the root (`audit verify`, which trusts nothing
    /// stored).
    func build(tree: DecisionRows.Tree, store: Bool) throws -> [UInt8] {
        var leaves: [(position: Position, tag: [UInt8])] = []
        // The subjects' rows in bulk, as a batch of decisions reads them: an audience or the
        // consent counts build this on every call, and a statement per subject made them a
        // quarter slower (20,000 subjects).
        let subjects = try tree.subjectsWithState()
        var start = subjects.startIndex
        while start < subjects.endIndex {
            let chunk = subjects[start..<min(start + 2000, subjects.endIndex)]
            let rows = try tree.subjectRows(among: Array(chunk))
            for id in chunk {
                if let tag = try tag(.subject(id), values: rows[id] ?? []) { leaves.append((try position(.subject(id)), tag)) }
            }
            start = chunk.endIndex
        }
        if let tag = try tag(.categoryHolds, rows: tree) { leaves.append((try position(.categoryHolds), tag)) }
        if store { try tree.clear() }
        var level: [Int: [UInt8]] = [:]
        for (bucket, members) in Dictionary(grouping: leaves, by: \.position.bucket) {
            level[bucket] = try Self.bucketHash(members.map { ($0.position.key, $0.tag) })
            if store { for member in members { try tree.setLeaf(key: member.position.key, bucket: bucket, tag: member.tag) } }
        }
        for depth in stride(from: Self.depth, through: 0, by: -1) {
            if store { for (index, hash) in level { try tree.setNode(Self.nodePosition(level: depth, index: index), hash: hash) } }
            guard depth > 0 else { break }
            var parents: [Int: [UInt8]] = [:]
            for index in Set(level.keys.map { $0 >> 1 }) {
                parents[index] = try Self.node(level[index << 1], level[index << 1 | 1])
            }
            level = parents
        }
        return level[0] ?? Self.emptyRoot
    }

    static func failure(_ leaf: Leaf) -> PrivacyKitError { failure(rowsOf: leaf.description) }

    /// `what`: whose rows (a leaf's description, or "every subject").
    static func failure(rowsOf what: String) -> PrivacyKitError {
        PrivacyKitError(.integrity, "\(failurePrefix): the consent, restriction, hold or tombstone rows of \(what) are not the ones the audit log commits to (changed behind the vault); nothing was decided — run `privacyctl audit verify --with-secret` and restore from a backup")
    }
}

/// The leaves this process has proven under the newest root it saw, with their tags: a
/// service asking about the same subjects again pays for reading their rows and one keyed
/// hash, not for the path. A Merkle root binds one tag to each leaf, so a leaf whose rows
/// still give the proven tag under the same root is proven. A new root empties it; it is
/// bounded, and emptied when full.
final class VerifiedLeaves: Sendable {
    private struct State {
        var root: [UInt8] = []
        var tags: [DecisionIntegrity.Leaf: [UInt8]?] = [:]
    }
    private let state = Mutex(State())
    static let capacity = 100_000

    func contains(_ leaf: DecisionIntegrity.Leaf, tag: [UInt8]?, root: [UInt8]) -> Bool {
        state.withLock { state in
            guard state.root == root, let known = state.tags[leaf] else { return false }
            switch (known, tag) {
            case (nil, nil): return true
            case (let a?, let b?): return ConstantTime.equals(a, b)
            default: return false
            }
        }
    }

    func insert(_ leaf: DecisionIntegrity.Leaf, tag: [UInt8]?, root: [UInt8]) {
        state.withLock { state in
            if state.root != root || state.tags.count >= Self.capacity { state = State(root: root) }
            state.tags[leaf] = .some(tag)
        }
    }
}
