import Foundation
import Sodium

/// The decision state of one audited transaction (see ``DecisionIntegrity``).
///
/// Before a writer in `Store/Decisions` changes a leaf's rows, the rows as they are must be
/// the ones the committed root covers: a change is never built on a forged state (a hold a
/// store writer deleted is not laundered by the next hold placed on that subject). Each
/// audit append writes the changes so far into the tree and commits its events to the new
/// root; a change with no event after it in its transaction is a bug, refused.
final class DecisionGuard {
    let integrity: DecisionIntegrity
    /// The root the stored tree has now: the committed one, then after each append the
    /// one its events commit to. Read from the log only when a decision needs it.
    var root: [UInt8] {
        get throws {
            if let resolved { return resolved }
            let committed = try resolveCommitted()
            resolved = committed
            return committed
        }
    }
    private var resolved: [UInt8]?
    /// Set while an append is certain to follow in this transaction (an event is queued
    /// for its end): an append before it commits its events to the root as it stands, and
    /// the last one writes every change into the tree at once. Sound because the
    /// transaction is atomic: no reader sees the events in between without the last.
    var laterAppendCertain = false
    private let resolveCommitted: () throws -> [UInt8]
    private var pending: [(leaf: DecisionIntegrity.Leaf, old: [UInt8]?)] = []
    private var pendingLeaves: Set<DecisionIntegrity.Leaf> = []
    private var changed: Set<DecisionIntegrity.Leaf> = []
    /// Tags this transaction proved under `root` before changing the leaf (a decision's
    /// check, an import's bulk proof): a writer's check of the same leaf is then a lookup.
    private var proven: [DecisionIntegrity.Leaf: [UInt8]?] = [:]

    init(integrity: DecisionIntegrity, committed: @escaping () throws -> [UInt8]) {
        self.integrity = integrity
        self.resolveCommitted = committed
    }

    /// Whether this transaction read or changed the decision state (if not, its events
    /// commit to the root the log's head already has).
    var isInvolved: Bool { resolved != nil }

    /// Whether this transaction changed `leaf`'s rows (its reads of them need no check).
    func hasChanged(_ leaf: DecisionIntegrity.Leaf) -> Bool { changed.contains(leaf) }

    var hasPendingChanges: Bool { !pending.isEmpty }

    func willChange(_ leaf: DecisionIntegrity.Leaf, tree: DecisionRows.Tree) throws {
        try willChange([leaf], tree: tree)
    }

    /// ``willChange(_:tree:)`` for many leaves at once (an import's new subjects): their
    /// rows read in bulk, their tags proven in one pass over the tree.
    func willChange(_ leaves: [DecisionIntegrity.Leaf], tree: DecisionRows.Tree) throws {
        changed.formUnion(leaves)
        let new = leaves.filter { pendingLeaves.insert($0).inserted }
        let known = new.filter { proven[$0] != nil }
        pending += known.map { (leaf: $0, old: proven[$0]!) }
        let unknown = new.filter { proven[$0] == nil }
        guard !unknown.isEmpty else { return }
        let old = try integrity.tags(unknown, tree: tree)
        let claims = Array(zip(unknown, old))
        try integrity.verify(claims.map { (leaf: $0.0, tag: $0.1) }, committed: try root, tree: tree)
        pending += claims.map { (leaf: $0.0, old: $0.1) }
    }

    /// Notes that `leaf` was proven to have `tag` under the current root, before this
    /// transaction changed it.
    func noteProven(_ leaf: DecisionIntegrity.Leaf, tag: [UInt8]?, root proofRoot: [UInt8]) {
        guard !changed.contains(leaf), let resolved, ConstantTime.equals(resolved, proofRoot) else { return }
        proven[leaf] = .some(tag)
    }

    /// Writes the changes so far into the tree; returns the new root.
    func commit(tree: DecisionRows.Tree) throws -> [UInt8] {
        let current = try integrity.update(pending.map { (leaf: $0.leaf, tag: $0.old) }, committed: try root, tree: tree)
        resolved = current
        pending = []
        pendingLeaves = []
        proven = [:]
        return current
    }
}

extension StoreDatabase {
    /// Called by every writer of a decision table before it changes `leaf`'s rows.
    func decisionWillChange(_ leaf: DecisionIntegrity.Leaf) throws {
        guard let decisionGuard else {
            throw PrivacyKitError(.internal, "decision rows of \(leaf.description) changed outside an audited transaction")
        }
        try decisionGuard.willChange(leaf, tree: decisions.tree)
    }
}
