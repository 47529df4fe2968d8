import Synchronization

/// A single-producer, single-consumer ring of 16-bit samples.
///
/// The capacity is a power of two; indices grow without wrapping and are masked on access.
/// The producer publishes with a release store of `head` and the consumer with a release
/// store of `tail`; each side reads the other's index with acquire. Nothing allocates after
/// `init`, so either side may be the tick.
public final class SampleRing: @unchecked Sendable {
    public let capacity: Int
    private let mask: Int
    private let storage: UnsafeMutablePointer<Int16>

    // Written by the producer only.
    private let head = Atomic<Int>(0)
    private let overrunSamples = Atomic<Int>(0)
    // Keeps the two sides' indices on different cache lines.
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    // Written by the consumer only.
    private let tail = Atomic<Int>(0)
    private let underrunCount = Atomic<Int>(0)

    /// - Parameter capacity: samples the ring holds; rounded up to a power of two (at least 8).
    public init(capacity requested: Int) {
        var c = 8
        while c < requested { c <<= 1 }
        capacity = c
        mask = c - 1
        storage = .allocate(capacity: c)
        storage.initialize(repeating: 0, count: c)
    }

    deinit { storage.deallocate() }

    /// Samples waiting to be read (exact for the consumer, a lower bound for the producer).
    public var available: Int { head.load(ordering: .acquiring) - tail.load(ordering: .acquiring) }
    /// Room for writing (exact for the producer, a lower bound for the consumer).
    public var space: Int { capacity - available }
    /// Samples dropped because the ring was full when `writeDroppingExcess` was called.
    public var overruns: Int { overrunSamples.load(ordering: .relaxed) }
    /// Reads by `readBlock` that found fewer samples than a whole block.
    public var underruns: Int { underrunCount.load(ordering: .relaxed) }

    // MARK: Producer side

    /// Writes as many of `count` samples as fit; returns how many were written.
    @discardableResult
    public func write(_ source: UnsafePointer<Int16>, count: Int) -> Int {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        let n = min(count, capacity - (h - t))
        if n <= 0 { return 0 }
        let start = h & mask
        let first = min(n, capacity - start)
        (storage + start).update(from: source, count: first)
        if n > first { storage.update(from: source + first, count: n - first) }
        head.store(h + n, ordering: .releasing)
        return n
    }

    /// Writes what fits and counts the rest as an overrun: for a producer that cannot wait,
    /// such as the tick feeding a recorder.
    @inline(__always)
    public func writeDroppingExcess(_ source: UnsafePointer<Int16>, count: Int) {
        let written = write(source, count: count)
        if written < count { overrunSamples.add(count - written, ordering: .relaxed) }
    }

    // MARK: Consumer side

    /// Reads up to `count` samples; returns how many were read.
    @discardableResult
    public func read(into destination: UnsafeMutablePointer<Int16>, count: Int) -> Int {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        let n = min(count, h - t)
        if n <= 0 { return 0 }
        let start = t & mask
        let first = min(n, capacity - start)
        destination.update(from: storage + start, count: first)
        if n > first { (destination + first).update(from: storage, count: n - first) }
        tail.store(t + n, ordering: .releasing)
        return n
    }

    /// Reads a whole block for a consumer that cannot wait (the tick feeding a line): a short
    /// read counts as an underrun and the rest of the block is filled with silence.
    @inline(__always)
    public func readBlock(into destination: UnsafeMutablePointer<Int16>, count: Int) -> Int {
        let n = read(into: destination, count: count)
        if n < count {
            underrunCount.add(1, ordering: .relaxed)
            (destination + n).update(repeating: 0, count: count - n)
        }
        return n
    }

    /// Drops everything waiting (consumer side).
    public func discardAll() {
        tail.store(head.load(ordering: .acquiring), ordering: .releasing)
    }
}
