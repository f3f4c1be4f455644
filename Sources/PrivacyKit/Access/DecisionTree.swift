import Foundation
import Sodium

/// The tree of ``DecisionIntegrity``: 65,536 buckets of leaves under four levels of
/// 16-way pages. A page is stored whole (16 child hashes, an empty child as zeros), so a
/// leaf's path is four rows and a change rewrites four pages: a batch of new subjects (an
/// import) rewrites about 1.4 pages each, where a binary tree of the same depth rewrote
/// seven nodes each.
///
/// A proof reads the stored leaves of the buckets it touches and the pages on their
/// paths once, recomputes the root with the claimed tags of its leaves (what the rows say
/// now), and compares it with the committed one; an update computes the new root from the
/// same read, so nothing changed between the check and the write is trusted.
extension DecisionIntegrity {
    static let pageLevels = 4
    static let pageSlots = 16
    static let pageByteCount = pageSlots * 32

    /// The stored position of the page at `level` (0: the root page; 3: pages of buckets)
    /// on `bucket`'s path.
    static func pagePosition(level: Int, bucket: Int) -> Int {
        level << 20 | bucket >> (4 * (pageLevels - level))
    }

    static func pageHash(_ page: [UInt8]) throws -> [UInt8]? {
        guard page.contains(where: { $0 != 0 }) else { return nil }
        var c = Canonical("privacykit.state.page.v1")
        c.append(page)
        return try BLAKE2b.hash(c.bytes)
    }

    /// What a proof over some buckets reads from the stored tree.
    struct Slice {
        var leaves: [Int: [(key: [UInt8], tag: [UInt8])]] = [:]
        var pages: [Int: [UInt8]] = [:]

        static func read(buckets: Set<Int>, tree: DecisionRows.Tree) throws -> Slice {
            var positions: Set<Int> = []
            for bucket in buckets {
                for level in 0..<pageLevels { positions.insert(pagePosition(level: level, bucket: bucket)) }
            }
            if buckets.count == 1, let bucket = buckets.first {
                let path = try tree.path(bucket: bucket, pages: positions.sorted())
                return Slice(leaves: path.leaves.isEmpty ? [:] : [bucket: path.leaves], pages: path.pages)
            }
            return Slice(leaves: try tree.leaves(buckets: buckets.sorted()), pages: try tree.pages(positions.sorted()))
        }
    }

    /// A root computed from a slice, with the pages and buckets on the way and their hashes.
    struct Computed {
        var root: [UInt8]
        var pages: [Int: [UInt8]]
        var leaves: [Int: TreeContents.Members]
        typealias HashedContents = (pages: [(hash: [UInt8], page: [UInt8])], buckets: [(hash: [UInt8], members: TreeContents.Members)])
        /// Only ever set by `root(of:setting:)`, which computed each hash from its content.
        let hashed: HashedContents

        /// Keeps what was hashed on the way for later proofs.
        func remember(in contents: TreeContents?) {
            contents?.remember(pages: hashed.pages, buckets: hashed.buckets)
        }
    }

    /// The root of `slice` with the leaves at `positions` set to the tags given (nil:
    /// absent); the pages and buckets it then has.
    static func root(of slice: Slice, setting changes: [(position: Position, tag: [UInt8]?)]) throws -> Computed {
        var leaves: [Int: [(key: [UInt8], tag: [UInt8])]] = [:]
        for change in changes where leaves[change.position.bucket] == nil {
            leaves[change.position.bucket] = slice.leaves[change.position.bucket] ?? []
        }
        for change in changes {
            leaves[change.position.bucket]!.removeAll { ConstantTime.equals($0.key, change.position.key) }
            if let tag = change.tag { leaves[change.position.bucket]!.append((change.position.key, tag)) }
        }
        var hashed: Computed.HashedContents = ([], [])
        var children: [Int: [UInt8]?] = [:]
        for (bucket, members) in leaves {
            let hash = try bucketHash(members)
            if let hash { hashed.buckets.append((hash, members)) }
            children[bucket] = .some(hash)
        }
        var pages: [Int: [UInt8]] = [:]
        for level in stride(from: pageLevels - 1, through: 0, by: -1) {
            var parents: [Int: [UInt8]?] = [:]
            for (index, members) in Dictionary(grouping: children, by: { $0.key >> 4 }) {
                let position = level << 20 | index
                var page = slice.pages[position] ?? [UInt8](repeating: 0, count: pageByteCount)
                for (child, hash) in members {
                    let offset = (child & 15) * 32
                    page.replaceSubrange(offset..<(offset + 32), with: hash ?? emptyRoot)
                }
                pages[position] = page
                let hash = try pageHash(page)
                if let hash { hashed.pages.append((hash, page)) }
                parents[index] = .some(hash)
            }
            children = parents
        }
        return Computed(root: (children[0] ?? nil) ?? emptyRoot, pages: pages, leaves: leaves, hashed: hashed)
    }

    /// Checks that the leaves have these tags under `committed`; names the leaf when one
    /// alone was asked about (a batch that fails is checked leaf by leaf to name one).
    func verify(_ claims: [(leaf: Leaf, tag: [UInt8]?)], committed: [UInt8], tree: DecisionRows.Tree) throws {
        guard !claims.isEmpty else { return }
        let changes = try claims.map { (position: try position($0.leaf), tag: $0.tag) }
            .filter { contents?.proves($0.position, tag: $0.tag, root: committed) != true }
        guard !changes.isEmpty else { return }
        let slice = try Slice.read(buckets: Set(changes.map(\.position.bucket)), tree: tree)
        let computed = try Self.root(of: slice, setting: changes)
        guard ConstantTime.equals(computed.root, committed) else {
            if claims.count > 1 {
                for claim in claims { try verify([claim], committed: committed, tree: tree) }
            }
            throw Self.failure(claims[0].leaf)
        }
        computed.remember(in: contents)
    }

    /// Sets the leaves to their rows as they are now, given that `committed` is the root
    /// before and `old` their tags then; checks the old tags first, from the same read of
    /// the stored tree the new root is computed from. Returns the new root.
    func update(_ old: [(leaf: Leaf, tag: [UInt8]?)], committed: [UInt8], tree: DecisionRows.Tree) throws -> [UInt8] {
        guard !old.isEmpty else { return committed }
        let positions = try old.map { try position($0.leaf) }
        let slice = try Slice.read(buckets: Set(positions.map(\.bucket)), tree: tree)
        guard ConstantTime.equals(try Self.root(of: slice, setting: zip(positions, old).map { ($0, $1.tag) }).root, committed) else {
            try verify(old, committed: committed, tree: tree)
            throw Self.failure(old[0].leaf)
        }
        let now = try tags(old.map(\.leaf), tree: tree)
        let computed = try Self.root(of: slice, setting: zip(positions, now).map { ($0, $1) })
        let (root, pages) = (computed.root, computed.pages)
        for (position, tag) in zip(positions, now) {
            try tree.setLeaf(key: position.key, bucket: position.bucket, tag: tag)
        }
        for (position, page) in pages.sorted(by: { $0.key < $1.key }) {
            try tree.setPage(position, page: page.contains { $0 != 0 } ? page : nil)
        }
        computed.remember(in: contents)
        return root
    }

    /// The tags of `leaves` as their rows are now, the subjects' rows read in bulk.
    func tags(_ leaves: [Leaf], tree: DecisionRows.Tree) throws -> [[UInt8]?] {
        let subjects = leaves.compactMap { if case .subject(let id) = $0 { id } else { nil } }
        let rows = subjects.count > 1 ? try tree.subjectRows(among: subjects, allRecords: false) : [:]
        return try leaves.map { leaf in
            if case .subject(let id) = leaf, subjects.count > 1 { return try tag(leaf, values: rows[id] ?? []) }
            return try tag(leaf, rows: tree)
        }
    }

    /// Builds the whole tree from the rows and returns its root; with `store`, also writes
    /// it (the upgrade), else only computes the root (`audit verify`, which trusts nothing
    /// stored).
    func build(tree: DecisionRows.Tree, store: Bool) throws -> [UInt8] {
        var leaves: [(position: Position, tag: [UInt8]?)] = []
        let all = try tree.subjectsWithState().map(Leaf.subject) + [.categoryHolds, .clients]
        var start = 0
        while start < all.count {
            let chunk = Array(all[start..<min(start + 200, all.count)])
            for (leaf, tag) in zip(chunk, try tags(chunk, tree: tree)) where tag != nil {
                leaves.append((try position(leaf), tag))
            }
            start += chunk.count
        }
        let computed = try Self.root(of: Slice(), setting: leaves)
        let (root, pages, buckets) = (computed.root, computed.pages, computed.leaves)
        if store {
            try tree.clear()
            for (bucket, members) in buckets {
                for member in members { try tree.setLeaf(key: member.key, bucket: bucket, tag: member.tag) }
            }
            for (position, page) in pages.sorted(by: { $0.key < $1.key }) where page.contains(where: { $0 != 0 }) {
                try tree.setPage(position, page: page)
            }
        }
        return root
    }
}
