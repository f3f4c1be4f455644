import CFileIO
import CZstd
import Foundation
import Sodium
import Synchronization

/// One zstd frame, compressed block by block; the output is cut into chunks of exactly
/// `chunkSize` bytes but the last.
final class ZstdCompressor {
    private let context: OpaquePointer
    private let chunkSize: Int
    private let staging: UnsafeMutableRawPointer
    private let stagingCapacity: Int
    private var pending = 0

    init(level: Int32, chunkSize: Int) throws {
        guard let context = ZSTD_createCCtx() else { throw PrivacyKitError(.internal, "zstd: cannot create a compression context") }
        self.context = context
        self.chunkSize = chunkSize
        stagingCapacity = 2 * chunkSize
        staging = .allocate(byteCount: stagingCapacity, alignment: 64)
        guard ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)) == 0 else {
            throw PrivacyKitError(.invalidInput, "zstd refuses compression level \(level)")
        }
        // A checksum of the frame (XXH64, nearly free): a second check behind the chunks' MACs.
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    }

    deinit {
        memset(staging, 0, stagingCapacity)
        staging.deallocate()
        ZSTD_freeCCtx(context)
    }

    /// Compresses `data`; `emit` gets every full chunk, and with `end` the frame's last chunk
    /// (tagged final: never empty, as a frame ends with at least a block header).
    func compress(_ data: UnsafeRawBufferPointer, end: Bool, emit: (UnsafeRawBufferPointer, Bool) throws -> Void) throws {
        var input = ZSTD_inBuffer(src: data.baseAddress, size: data.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: staging + pending, size: stagingCapacity - pending, pos: 0)
            let left = ZSTD_compressStream2(context, &output, &input, end ? ZSTD_e_end : ZSTD_e_continue)
            guard ZSTD_isError(left) == 0 else {
                throw PrivacyKitError(.internal, "zstd compression failed: \(String(cString: ZSTD_getErrorName(left)))")
            }
            pending += output.pos
            // Keep at least one byte back, so the final chunk is never empty.
            while pending > chunkSize {
                try emit(UnsafeRawBufferPointer(start: staging, count: chunkSize), false)
                pending -= chunkSize
                memmove(staging, staging + chunkSize, pending)
            }
            let drained = end ? left == 0 : input.pos == input.size
            if drained { break }
        }
        if end { try emit(UnsafeRawBufferPointer(start: staging, count: pending), true) }
    }
}

/// Decompresses one zstd frame fed in pieces, handing the output on in blocks.
final class ZstdDecompressor {
    private let context: OpaquePointer
    private let buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 20
    private var frameEnded = false
    private(set) var produced: Int64 = 0

    init() throws {
        guard let context = ZSTD_createDCtx() else { throw PrivacyKitError(.internal, "zstd: cannot create a decompression context") }
        self.context = context
        buffer = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        memset(buffer, 0, capacity)
        buffer.deallocate()
        ZSTD_freeDCtx(context)
    }

    func feed(_ data: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var input = ZSTD_inBuffer(src: data.baseAddress, size: data.count, pos: 0)
        while input.pos < input.size || !frameEnded {
            var output = ZSTD_outBuffer(dst: buffer, size: capacity, pos: 0)
            let hint = ZSTD_decompressStream(context, &output, &input)
            guard ZSTD_isError(hint) == 0 else {
                throw PrivacyKitError(.integrity, "the backup's compressed snapshot is damaged: \(String(cString: ZSTD_getErrorName(hint)))")
            }
            if hint == 0 { frameEnded = true }
            if output.pos > 0 {
                produced += Int64(output.pos)
                try sink(UnsafeRawBufferPointer(start: buffer, count: output.pos))
            }
            if frameEnded && input.pos < input.size {
                throw PrivacyKitError(.integrity, "the backup's compressed snapshot has data after its end")
            }
            // Nothing more can come out until more input arrives.
            if output.pos < output.size && input.pos == input.size { break }
        }
    }

    /// Throws unless the frame ended.
    func finish() throws {
        guard frameEnded else { throw PrivacyKitError(.integrity, "the backup's compressed snapshot ends early") }
    }
}
