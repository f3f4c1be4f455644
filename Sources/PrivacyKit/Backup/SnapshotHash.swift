import CFileIO
import CZstd
import Foundation
import Sodium
import Synchronization

/// The snapshot's hash in a backup's manifest: BLAKE2b-256 over the BLAKE2b-256 of each
/// 1 MiB leaf, so that two cores can hash one snapshot (BLAKE2b itself is sequential, and at
/// about 0.8 GB/s here it would bound a backup by itself).
///
///     leaf_i = BLAKE2b-256(0x00 ‖ bytes [i MiB, (i+1) MiB) of the snapshot)
///     hash   = BLAKE2b-256(0x01 ‖ "privacykit.backup.snapshot-hash.v1" ‖ u64 BE size ‖ leaf_0 ‖ … ‖ leaf_n−1)
///
/// The prefixes keep leaves and root apart; the size and the fixed leaf length make the leaf
/// list determine the snapshot. docs/formats.md shows it computed with Python's hashlib.
enum SnapshotHash {
    static let leafSize = 1 << 20
    static let label = Array("privacykit.backup.snapshot-hash.v1".utf8)

    /// The hash of one leaf (at most `leafSize` bytes), into `output` (32 bytes).
    static func leaf(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) throws {
        let hasher = try BLAKE2b.Hasher()
        try hasher.update([0x00])
        try hasher.update(bytes: bytes)
        let digest = try hasher.finalize()
        digest.withUnsafeBytes { output.copyMemory(from: $0.baseAddress!, byteCount: 32) }
    }

    /// Folds leaves, in order, into the root.
    final class Root {
        private let hasher: BLAKE2b.Hasher
        init(size: Int64) throws {
            hasher = try BLAKE2b.Hasher()
            try hasher.update([0x01] + label + (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(size) >> (8 * UInt64($0))) })
        }
        func add(leaf: UnsafeRawBufferPointer) throws { try hasher.update(bytes: leaf) }
        func finalize() throws -> [UInt8] { try hasher.finalize() }
    }

    /// The same hash of a snapshot that arrives in pieces of any size (restore's check).
    final class Streaming {
        private var leaves: [UInt8] = []
        private var current = try? BLAKE2b.Hasher()
        private var inLeaf = 0
        private(set) var size: Int64 = 0

        func update(_ bytes: UnsafeRawBufferPointer) throws {
            var at = 0
            while at < bytes.count {
                if inLeaf == 0 {
                    current = try BLAKE2b.Hasher()
                    try current?.update([0x00])
                }
                let n = min(SnapshotHash.leafSize - inLeaf, bytes.count - at)
                try current?.update(bytes: UnsafeRawBufferPointer(rebasing: bytes[at..<at + n]))
                inLeaf += n
                at += n
                if inLeaf == SnapshotHash.leafSize { try closeLeaf() }
            }
            size += Int64(bytes.count)
        }

        private func closeLeaf() throws {
            guard let current else { throw PrivacyKitError(.internal, "BLAKE2b is unavailable") }
            leaves += try current.finalize()
            inLeaf = 0
        }

        func finalize() throws -> [UInt8] {
            if inLeaf > 0 { try closeLeaf() }
            let root = try Root(size: size)
            try leaves.withUnsafeBytes { try root.add(leaf: $0) }
            return try root.finalize()
        }
    }
}
