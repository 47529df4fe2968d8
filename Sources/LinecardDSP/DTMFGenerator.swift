import CSpanDSP

/// Generates DTMF digits with spandsp's `dtmf_tx`.
///
/// Created outside the tick; `enqueue(_:count:)`, `generate(into:count:)` and `reset()` are
/// safe inside it (no allocation: spandsp reinitialises the same state in place).
public final class DTMFGenerator {
    /// The digits spandsp can queue at once (`MAX_DTMF_DIGITS`).
    public static let queueCapacity = 128
    /// Characters a DTMF generator can send.
    public static let validDigits: Set<Character> = Set("0123456789ABCD*#")

    @usableFromInline let state: OpaquePointer
    public private(set) var level: Int
    public private(set) var twist: Int
    public private(set) var onTimeMilliseconds: Int
    public private(set) var offTimeMilliseconds: Int

    /// - Parameters:
    ///   - level: level of the low tone in dBm0 (spandsp default -10).
    ///   - twist: how much louder the high tone is, in dB.
    ///   - onTimeMilliseconds / offTimeMilliseconds: tone and gap lengths (default 50/55 ms).
    public init(level: Int = -10, twist: Int = 0, onTimeMilliseconds: Int = 50, offTimeMilliseconds: Int = 55) {
        guard let s = dtmf_tx_init(nil) else { fatalError("spandsp dtmf_tx_init failed: out of memory") }
        state = s
        self.level = level
        self.twist = twist
        self.onTimeMilliseconds = onTimeMilliseconds
        self.offTimeMilliseconds = offTimeMilliseconds
        applySettings()
    }

    deinit { dtmf_tx_free(state) }

    private func applySettings() {
        dtmf_tx_set_level(state, Int32(level), Int32(twist))
        dtmf_tx_set_timing(state, Int32(onTimeMilliseconds), Int32(offTimeMilliseconds))
    }

    /// Changes level and timing; takes effect from the next digit.
    public func configure(level: Int, twist: Int, onTimeMilliseconds: Int, offTimeMilliseconds: Int) {
        self.level = level
        self.twist = twist
        self.onTimeMilliseconds = onTimeMilliseconds
        self.offTimeMilliseconds = offTimeMilliseconds
        applySettings()
    }

    /// Drops queued digits and any digit in progress.
    public func reset() {
        _ = dtmf_tx_init(state)
        applySettings()
    }

    /// Queues ASCII digits; returns how many were accepted (fewer when the queue is full).
    @discardableResult
    public func enqueue(_ digits: UnsafePointer<UInt8>, count: Int) -> Int {
        let accepted = dtmf_tx_put(state, UnsafeRawPointer(digits).assumingMemoryBound(to: CChar.self), Int32(count))
        // spandsp returns the number of digits that did not fit.
        return count - Int(accepted)
    }

    /// Queues digits from a string (outside the tick).
    @discardableResult
    public func enqueue(_ digits: String) -> Int {
        var bytes = Array(digits.utf8)
        return bytes.withUnsafeMutableBufferPointer { enqueue($0.baseAddress!, count: $0.count) }
    }

    /// Writes up to `count` samples; returns how many were generated. Fewer than `count` means
    /// the queue ran dry during this block: the rest of the buffer is left untouched.
    @inlinable @inline(__always)
    public func generate(into samples: UnsafeMutablePointer<Int16>, count: Int) -> Int {
        Int(dtmf_tx(state, samples, Int32(count)))
    }
}
