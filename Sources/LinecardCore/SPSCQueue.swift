import Synchronization

/// A bounded single-producer, single-consumer queue of plain values, preallocated.
/// `push` and `pop` neither allocate nor lock.
public final class SPSCQueue<Element: BitwiseCopyable>: @unchecked Sendable {
    public let capacity: Int
    private let mask: Int
    private let storage: UnsafeMutablePointer<Element>
    private let head = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    private let tail = Atomic<Int>(0)

    public init(capacity requested: Int) {
        var c = 2
        while c < requested { c <<= 1 }
        capacity = c
        mask = c - 1
        storage = .allocate(capacity: c)
    }

    deinit { storage.deallocate() }

    /// Items waiting.
    public var count: Int { head.load(ordering: .acquiring) - tail.load(ordering: .acquiring) }
    /// Items refused because the queue was full.
    public var droppedCount: Int { dropped.load(ordering: .relaxed) }

    /// Producer side. Returns false (and counts a drop) when full.
    @discardableResult
    @inline(__always)
    public func push(_ element: Element) -> Bool {
        let h = head.load(ordering: .relaxed)
        if h - tail.load(ordering: .acquiring) >= capacity {
            dropped.add(1, ordering: .relaxed)
            return false
        }
        (storage + (h & mask)).initialize(to: element)
        head.store(h + 1, ordering: .releasing)
        return true
    }

    /// Consumer side.
    @inline(__always)
    public func pop() -> Element? {
        let t = tail.load(ordering: .relaxed)
        if t == head.load(ordering: .acquiring) { return nil }
        let element = storage[t & mask]
        tail.store(t + 1, ordering: .releasing)
        return element
    }
}

/// Many producers, one consumer: producers take a lock among themselves; the consumer (the
/// tick) never does.
public final class CommandQueue<Element: BitwiseCopyable>: Sendable {
    private let queue: SPSCQueue<Element>
    private let producers = Mutex(())

    public init(capacity: Int) { queue = SPSCQueue(capacity: capacity) }

    /// Returns false when the queue is full.
    public func push(_ element: Element) -> Bool {
        producers.withLock { _ in queue.push(element) }
    }

    @inline(__always)
    public func pop() -> Element? { queue.pop() }

    public var count: Int { queue.count }
}
