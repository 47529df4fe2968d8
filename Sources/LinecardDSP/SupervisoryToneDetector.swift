import CSpanDSP

/// One element of a supervisory tone's cadence, for detection.
public struct ToneElement: Sendable, Equatable {
    /// Frequencies in Hz; 0 for none (both 0 is silence).
    public var frequency1: Int
    public var frequency2: Int
    public var minimumMilliseconds: Int
    /// 0 for no maximum.
    public var maximumMilliseconds: Int

    public init(_ frequency1: Int, _ frequency2: Int = 0, minimum: Int, maximum: Int) {
        self.frequency1 = frequency1
        self.frequency2 = frequency2
        self.minimumMilliseconds = minimum
        self.maximumMilliseconds = maximum
    }

    public static func silence(minimum: Int, maximum: Int) -> ToneElement {
        ToneElement(0, 0, minimum: minimum, maximum: maximum)
    }
}

/// A set of cadenced tones to listen for, as spandsp's `super_tone_rx_descriptor_t`.
public final class SupervisoryToneSet: @unchecked Sendable {
    public let patterns: [[ToneElement]]
    let pointer: OpaquePointer

    /// - Parameter patterns: one cadence per tone; a tone's index in this array is the id the
    ///   detector reports.
    public init(_ patterns: [[ToneElement]]) {
        self.patterns = patterns
        guard let d = super_tone_rx_make_descriptor(nil) else { fatalError("spandsp super_tone_rx_make_descriptor failed") }
        pointer = d
        // spandsp gives each new frequency the next Goertzel bin (frequencies within 10 Hz
        // share one) and reports a dual tone as its two bins in ascending order, but matches
        // patterns with their frequencies in the order given. So: register every frequency
        // first, in a known order, through a placeholder tone that can never match, and give
        // each element its frequencies in bin order.
        var bins = BinAssignment()
        let frequencies = Set(patterns.flatMap { $0.flatMap { [$0.frequency1, $0.frequency2] } }).filter { $0 > 0 }.sorted()
        let placeholder = super_tone_rx_add_tone(d)
        for f in frequencies {
            _ = bins.bin(for: f)
            _ = super_tone_rx_add_element(d, placeholder, Int32(f), 0, 999_999, 999_999)
        }
        for pattern in patterns {
            let tone = super_tone_rx_add_tone(d)
            for e in pattern {
                var (f1, f2) = (e.frequency1, e.frequency2)
                if f1 == 0 { (f1, f2) = (f2, 0) }
                if f2 != 0, bins.bin(for: f2) < bins.bin(for: f1) { (f1, f2) = (f2, f1) }
                // spandsp 0.0.6 marks "no frequency" with 0, although its header says -1.
                _ = super_tone_rx_add_element(
                    d, tone, Int32(f1), Int32(f2), Int32(e.minimumMilliseconds), Int32(e.maximumMilliseconds))
            }
        }
    }

    /// Mirrors spandsp's `add_super_tone_freq`.
    private struct BinAssignment {
        var pitches: [(frequency: Int, bin: Int)] = []
        var monitored = 0

        mutating func bin(for frequency: Int) -> Int {
            if let p = pitches.first(where: { $0.frequency == frequency }) { return p.bin }
            if let near = pitches.first(where: { abs($0.frequency - frequency) <= 10 }) {
                pitches.append((frequency, near.bin))
                return near.bin
            }
            pitches.append((frequency, monitored))
            monitored += 1
            return monitored - 1
        }
    }

    deinit { super_tone_rx_free_descriptor(pointer) }
}

/// Listens for the tones of a `SupervisoryToneSet` with spandsp's `super_tone_rx` and reports
/// when one starts (its index) and when it stops (-1). Safe in the tick.
public final class SupervisoryToneDetector {
    /// Written by the C callback; plain memory (see `DTMFDetector.Pending`).
    struct Pending {
        var count: Int32
        var codes: UnsafeMutablePointer<Int32>
    }

    private let state: OpaquePointer
    private let pending: UnsafeMutablePointer<Pending>
    public let toneSet: SupervisoryToneSet

    public init(_ toneSet: SupervisoryToneSet) {
        self.toneSet = toneSet
        pending = .allocate(capacity: 1)
        let codes = UnsafeMutablePointer<Int32>.allocate(capacity: 8)
        codes.initialize(repeating: 0, count: 8)
        pending.initialize(to: Pending(count: 0, codes: codes))
        guard let s = super_tone_rx_init(nil, toneSet.pointer, supervisoryToneCallback, UnsafeMutableRawPointer(pending))
        else { fatalError("spandsp super_tone_rx_init failed") }
        state = s
    }

    deinit {
        super_tone_rx_free(state)
        pending.pointee.codes.deallocate()
        pending.deinitialize(count: 1)
        pending.deallocate()
    }

    /// Forgets what it has heard so far.
    public func reset() {
        _ = super_tone_rx_init(state, toneSet.pointer, supervisoryToneCallback, UnsafeMutableRawPointer(pending))
        pending.pointee.count = 0
    }

    /// Processes one block; calls `report` with a tone index when a tone is recognised and with
    /// -1 when the recognised tone stops.
    @inline(__always)
    public func process(_ samples: UnsafePointer<Int16>, count: Int, report: (Int) -> Void) {
        _ = super_tone_rx(state, samples, Int32(count))
        let n = Int(pending.pointee.count)
        if n == 0 { return }
        let codes = pending.pointee.codes
        // Index 0 in spandsp is the placeholder tone.
        for i in 0..<min(n, 8) { report(codes[i] < 0 ? -1 : Int(codes[i]) - 1) }
        pending.pointee.count = 0
    }
}

private func supervisoryToneCallback(_ userData: UnsafeMutableRawPointer?, _ code: Int32, _ level: Int32, _ delay: Int32) {
    let pending = userData!.assumingMemoryBound(to: SupervisoryToneDetector.Pending.self)
    let index = Int(pending.pointee.count)
    guard index < 8 else { return }
    pending.pointee.codes[index] = code
    pending.pointee.count += 1
}
