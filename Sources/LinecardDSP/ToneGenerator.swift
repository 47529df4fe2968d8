import CSpanDSP

/// A cadenced one- or two-frequency tone, as spandsp's `tone_gen_descriptor_t`.
///
/// Descriptors are built outside the tick and shared read-only by generators.
public final class ToneDescriptor: @unchecked Sendable {
    public let spec: ToneSpec
    let pointer: OpaquePointer

    public init(_ spec: ToneSpec) {
        self.spec = spec
        let secondFrequency = spec.modulated ? -spec.frequency2 : spec.frequency2
        let c = spec.cadenceMilliseconds
        guard let p = tone_gen_descriptor_init(
            nil, Int32(spec.frequency1), Int32(spec.level1), Int32(secondFrequency), Int32(spec.level2),
            Int32(c.0), Int32(c.1), Int32(c.2), Int32(c.3), spec.repeats ? 1 : 0)
        else { fatalError("spandsp tone_gen_descriptor_init failed: out of memory") }
        pointer = p
    }

    deinit { tone_gen_descriptor_free(pointer) }
}

/// What a tone sounds like: up to two frequencies, summed or amplitude-modulated, switched on
/// and off by a cadence of up to two on/off pairs.
public struct ToneSpec: Sendable, Hashable {
    public var frequency1: Int
    /// Level of `frequency1` in dBm0.
    public var level1: Int
    /// 0 for a single frequency.
    public var frequency2: Int
    /// Level of `frequency2` in dBm0, or the modulation depth in percent when `modulated`.
    public var level2: Int
    /// `frequency2` modulates `frequency1` instead of being added to it.
    public var modulated: Bool
    /// On, off, on, off in milliseconds. An on time with zero off times is a continuous tone.
    public var cadenceMilliseconds: (Int, Int, Int, Int)
    public var repeats: Bool

    public init(frequency1: Int, level1: Int, frequency2: Int = 0, level2: Int = 0, modulated: Bool = false,
                cadence: [Int] = [], repeats: Bool = true) {
        self.frequency1 = frequency1
        self.level1 = level1
        self.frequency2 = frequency2
        self.level2 = frequency2 == 0 && !modulated ? 0 : level2
        self.modulated = modulated
        let c = cadence + Array(repeating: 0, count: max(0, 4 - cadence.count))
        // spandsp plays the first on-segment forever when it is the only one.
        self.cadenceMilliseconds = cadence.isEmpty ? (Int(Int32.max / 16), 0, 0, 0) : (c[0], c[1], c[2], c[3])
        self.repeats = repeats
    }

    /// A continuous tone.
    public static func continuous(_ f1: Int, _ f2: Int = 0, level: Int) -> ToneSpec {
        ToneSpec(frequency1: f1, level1: level, frequency2: f2, level2: level)
    }

    /// A cadenced tone (on/off times in milliseconds).
    public static func cadenced(_ f1: Int, _ f2: Int = 0, level: Int, _ cadence: Int...) -> ToneSpec {
        ToneSpec(frequency1: f1, level1: level, frequency2: f2, level2: level, cadence: cadence)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(frequency1)
        hasher.combine(level1)
        hasher.combine(frequency2)
        hasher.combine(level2)
        hasher.combine(modulated)
        hasher.combine(cadenceMilliseconds.0)
        hasher.combine(cadenceMilliseconds.1)
    }

    public static func == (a: ToneSpec, b: ToneSpec) -> Bool {
        a.frequency1 == b.frequency1 && a.level1 == b.level1 && a.frequency2 == b.frequency2
            && a.level2 == b.level2 && a.modulated == b.modulated && a.repeats == b.repeats
            && a.cadenceMilliseconds == b.cadenceMilliseconds
    }
}

/// Plays a `ToneDescriptor` with spandsp's `tone_gen`. `start(_:)` and `generate` are safe in
/// the tick: the generator's state is reinitialised in place.
public final class ToneGenerator {
    private let state: OpaquePointer
    /// Kept so that the descriptor outlives its use by the generator.
    public private(set) var descriptor: ToneDescriptor

    public init(_ descriptor: ToneDescriptor) {
        self.descriptor = descriptor
        guard let s = tone_gen_init(nil, descriptor.pointer) else { fatalError("spandsp tone_gen_init failed: out of memory") }
        state = s
    }

    deinit { tone_gen_free(state) }

    /// Restarts the cadence from its beginning with `descriptor`.
    @inline(__always)
    public func start(_ descriptor: ToneDescriptor) {
        self.descriptor = descriptor
        _ = tone_gen_init(state, descriptor.pointer)
    }

    /// Writes up to `count` samples; fewer means a non-repeating cadence has ended.
    @inline(__always)
    public func generate(into samples: UnsafeMutablePointer<Int16>, count: Int) -> Int {
        Int(tone_gen(state, samples, Int32(count)))
    }

    /// Renders `milliseconds` of the tone (outside the tick).
    public static func render(_ spec: ToneSpec, milliseconds: Int) -> [Int16] {
        let generator = ToneGenerator(ToneDescriptor(spec))
        var samples = [Int16](repeating: 0, count: milliseconds * 8)
        samples.withUnsafeMutableBufferPointer { _ = generator.generate(into: $0.baseAddress!, count: $0.count) }
        return samples
    }
}
