import CSpanDSP

/// Finds beeps (an answering machine's record tone): one steady frequency between 350 and
/// 2100 Hz holding most of the received energy. spandsp Goertzel filters 50 Hz apart are
/// read every 20 ms; a beep is two or more blocks in a row whose energy sits in the same
/// pair of neighbouring filters. Speech spreads its energy over harmonics and glides in
/// pitch, DTMF splits it between two far-apart tones, so neither passes.
///
/// Safe inside the tick: the filters are made once; `process` calls spandsp and reports
/// through a non-escaping closure.
public final class BeepDetector {
    public enum Report: Sendable, Equatable {
        /// A beep was confirmed (after 40 ms); `frequency` in Hz, `level` in dBm0.
        case started(frequency: Int32, level: Int32)
        /// The beep ended; it lasted `milliseconds`.
        case ended(milliseconds: Int32)
    }

    public static let lowestFrequency = 350
    public static let spacing = 50
    public static let filterCount = 36          // 350 … 2100 Hz
    static let blockSize = 160                  // 20 ms: the filters' bins fall on multiples of 50 Hz
    /// Share of a block's energy the best pair of neighbouring filters must hold.
    static let tonalShare = 0.7
    static let minimumLevel = -40.0

    private let descriptors: UnsafeMutablePointer<goertzel_descriptor_t>
    private let filters: UnsafeMutablePointer<goertzel_state_t>
    private var filled = 0
    private var energy = 0.0
    private var candidate = -1
    private var candidateBlocks = 0
    private var inBeep = false
    private var beepBlocks = 0
    private var quietBlocks = 0

    public init() {
        descriptors = .allocate(capacity: Self.filterCount)
        filters = .allocate(capacity: Self.filterCount)
        for k in 0..<Self.filterCount {
            make_goertzel_descriptor(descriptors + k, Float(Self.lowestFrequency + k * Self.spacing), Int32(Self.blockSize))
            goertzel_init(filters + k, descriptors + k)
        }
    }

    deinit {
        descriptors.deallocate()
        filters.deallocate()
    }

    public func reset() {
        for k in 0..<Self.filterCount { goertzel_reset(filters + k) }
        filled = 0
        energy = 0
        candidate = -1
        candidateBlocks = 0
        inBeep = false
        beepBlocks = 0
        quietBlocks = 0
    }

    /// Feeds `count` received samples.
    @inline(__always)
    public func process(_ samples: UnsafePointer<Int16>, count: Int, _ report: (Report) -> Void) {
        var offset = 0
        while offset < count {
            let take = min(count - offset, Self.blockSize - filled)
            for k in 0..<Self.filterCount {
                _ = goertzel_update(filters + k, samples + offset, Int32(take))
            }
            for i in offset..<offset + take {
                let x = Double(samples[i])
                energy += x * x
            }
            filled += take
            offset += take
            if filled == Self.blockSize { endBlock(report) }
        }
    }

    private func endBlock(_ report: (Report) -> Void) {
        var best = 0.0, bestIndex = 0, previous = Double(goertzel_result(filters))
        var strongest = previous, strongestIndex = 0
        for k in 1..<Self.filterCount {
            let power = Double(goertzel_result(filters + k))
            if previous + power > best { best = previous + power; bestIndex = k - 1 }
            if power > strongest { strongest = power; strongestIndex = k }
            previous = power
        }
        // spandsp's Goertzel result for a sine on the filter's own bin is 2·(A·N/2)², and the
        // block's energy is A²·N/2: their ratio is N for a pure tone.
        let share = energy > 0 ? best / (energy * Double(Self.blockSize)) : 0
        let level = PowerMeter.rmsToDBm0((energy / Double(Self.blockSize)).squareRoot())
        let tonal = share >= Self.tonalShare && level >= Self.minimumLevel
        filled = 0
        energy = 0
        if tonal {
            quietBlocks = 0
            if candidate >= 0, abs(bestIndex - candidate) <= 1 {
                candidateBlocks += 1
            } else {
                if inBeep { finishBeep(report) }
                candidate = bestIndex
                candidateBlocks = 1
            }
            if inBeep {
                beepBlocks += 1
            } else if candidateBlocks >= 2 {
                inBeep = true
                beepBlocks = candidateBlocks
                let frequency = Int32(Self.lowestFrequency + strongestIndex * Self.spacing)
                report(.started(frequency: frequency, level: Int32(level.rounded())))
            }
        } else {
            candidate = -1
            candidateBlocks = 0
            if inBeep {
                // One odd block (a click, a dropout) does not end a beep.
                quietBlocks += 1
                if quietBlocks >= 2 { finishBeep(report) }
            }
        }
    }

    private func finishBeep(_ report: (Report) -> Void) {
        inBeep = false
        report(.ended(milliseconds: Int32(beepBlocks * 20)))
        beepBlocks = 0
        quietBlocks = 0
    }
}
