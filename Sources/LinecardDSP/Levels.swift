import Foundation
import CSpanDSP

/// A running power meter (spandsp `power_meter_t`), reading in dBm0. Safe in the tick.
public final class PowerMeter {
    private let state: UnsafeMutablePointer<power_meter_t>

    /// - Parameter damping: spandsp's shift; 5 averages over about 32 samples, 7 over 128.
    public init(damping: Int = 7) {
        guard let s = power_meter_init(nil, Int32(damping)) else { fatalError("spandsp power_meter_init failed") }
        state = s
    }

    deinit { power_meter_free(state) }

    @inline(__always)
    public func update(_ samples: UnsafePointer<Int16>, count: Int) {
        for i in 0..<count { _ = power_meter_update(state, samples[i]) }
    }

    /// The current level in dBm0 (about -96 for silence).
    public var dBm0: Double { Double(power_meter_current_dbm0(state)) }

    /// The level of a whole signal in dBm0, by its mean square.
    public static func level(of samples: [Int16]) -> Double {
        guard !samples.isEmpty else { return -96 }
        var sum = 0.0
        for s in samples { sum += Double(s) * Double(s) }
        let rms = (sum / Double(samples.count)).squareRoot()
        return rmsToDBm0(rms)
    }

    /// spandsp's reference: a full-scale sine (32767 peak) is +3.14 dBm0.
    public static func rmsToDBm0(_ rms: Double) -> Double {
        guard rms > 0 else { return -96 }
        return 20 * log10(rms / (32767.0 / 2.0.squareRoot())) + 3.14
    }
}

/// White Gaussian noise at a level in dBm0 (spandsp `awgn`). Safe in the tick.
public final class NoiseGenerator {
    private let state: OpaquePointer
    public let level: Double

    public init(level dBm0: Double, seed: Int32 = 1234567) {
        guard let s = awgn_init_dbm0(nil, seed, Float(dBm0)) else { fatalError("spandsp awgn_init_dbm0 failed") }
        state = s
        level = dBm0
    }

    deinit { awgn_free(state) }

    /// Adds noise to the block, saturating.
    @inline(__always)
    public func add(to samples: UnsafeMutablePointer<Int16>, count: Int) {
        for i in 0..<count {
            let v = Int32(samples[i]) + Int32(awgn(state))
            samples[i] = Int16(clamping: v)
        }
    }
}

