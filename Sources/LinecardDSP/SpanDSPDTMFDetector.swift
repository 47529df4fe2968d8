import CSpanDSP

/// spandsp 0.0.6's `dtmf_rx`, reporting each digit's start and end like `DTMFDetector`.
///
/// The engine listens with `DTMFDetector`, which meets Q.24 where this one falls short (see
/// docs/DTMF-CONFORMANCE.md). The simulated exchange's telephones and far ends listen with
/// this one, so that every end-to-end test has an independent detector at the other end of
/// the line, as a real exchange would; the conformance tests compare the two.
///
/// Safe inside the tick: reports are collected by the C callback into a fixed buffer owned by
/// the detector and handed to a non-escaping closure after each block.
public final class SpanDSPDTMFDetector: DTMFDetecting {
    public typealias Report = DTMFDetector.Report

    /// Written by the C callback during `dtmf_rx`: the count and the reports in one small
    /// block of plain memory, so that nothing in the callback needs type metadata or
    /// allocates, and checking for reports touches one cache line.
    @usableFromInline
    struct Pending {
        @usableFromInline static let capacity = 8
        /// First, so that the reports start at the block's first byte (checked in `init`).
        var reports: (Report, Report, Report, Report, Report, Report, Report, Report)
        @usableFromInline var count: Int32
    }

    @usableFromInline let state: OpaquePointer
    @usableFromInline let pending: UnsafeMutablePointer<Pending>
    public private(set) var filterDialTone: Bool
    public let twist: Int
    public let reverseTwist: Int
    public let threshold: Int

    /// - Parameters:
    ///   - filterDialTone: notch out 350 and 440 Hz (needed while dial tone may be present).
    ///   - twist / reverseTwist: accepted twist in dB (Q.24: 8 normal, 4 reverse).
    ///   - threshold: minimum level in dBm0.
    public init(filterDialTone: Bool = false, twist: Int = 8, reverseTwist: Int = 4, threshold: Int = -42) {
        pending = .allocate(capacity: 1)
        let zero = Report(digit: 0, level: 0, samples: 0)
        pending.initialize(to: Pending(reports: (zero, zero, zero, zero, zero, zero, zero, zero), count: 0))
        precondition(MemoryLayout<Pending>.offset(of: \Pending.reports) == 0)
        // Touch the reports area once here, so that whatever type metadata a debug build
        // makes for it is made now and not by the tick on its first digit.
        Self.reports(pending)[0] = zero
        guard let s = dtmf_rx_init(nil, nil, nil) else { fatalError("spandsp dtmf_rx_init failed: out of memory") }
        state = s
        self.filterDialTone = filterDialTone
        self.twist = twist
        self.reverseTwist = reverseTwist
        self.threshold = threshold
        configure()
    }

    deinit {
        dtmf_rx_free(state)
        pending.deinitialize(count: 1)
        pending.deallocate()
    }

    private func configure() {
        dtmf_rx_parms(state, filterDialTone ? 1 : 0, Int32(twist), Int32(reverseTwist), Int32(threshold))
        dtmf_rx_set_realtime_callback(state, dtmfReportCallback, UnsafeMutableRawPointer(pending))
    }

    /// Turns the 350/440 Hz notch filters on or off (safe in the tick).
    public func setFilterDialTone(_ on: Bool) {
        filterDialTone = on
        dtmf_rx_parms(state, on ? 1 : 0, -1, -1, -99)
    }

    /// Forgets any digit in progress.
    public func reset() {
        _ = dtmf_rx_init(state, nil, nil)
        pending.pointee.count = 0
        configure()
    }

    /// Processes one block and calls `report` for each confirmed start or end of a digit.
    @inlinable @inline(__always)
    public func process(_ samples: UnsafePointer<Int16>, count: Int, report: (Report) -> Void) {
        _ = dtmf_rx(state, samples, Int32(count))
        let n = Int(pending.pointee.count)
        if n == 0 { return }
        let reports = Self.reports(pending)
        for i in 0..<min(n, Pending.capacity) { report(reports[i]) }
        pending.pointee.count = 0
    }

    /// The reports area as plain memory: a raw pointer, never a tuple access or a key path,
    /// so that no type metadata is made at run time (a debug build would make it, and
    /// allocate, the first time the tick got here).
    @usableFromInline @inline(__always)
    static func reports(_ pending: UnsafeMutablePointer<Pending>) -> UnsafeMutablePointer<Report> {
        UnsafeMutableRawPointer(pending).assumingMemoryBound(to: Report.self)
    }
}

private func dtmfReportCallback(_ userData: UnsafeMutableRawPointer?, _ code: Int32, _ level: Int32, _ delay: Int32) {
    let pending = userData!.assumingMemoryBound(to: SpanDSPDTMFDetector.Pending.self)
    let index = Int(pending.pointee.count)
    guard index < SpanDSPDTMFDetector.Pending.capacity else { return }
    SpanDSPDTMFDetector.reports(pending)[index] = SpanDSPDTMFDetector.Report(digit: UInt8(truncatingIfNeeded: code), level: level, samples: delay)
    pending.pointee.count += 1
}
