import LinecardDSP

/// How an engine runs.
public struct EngineConfiguration: Sendable {
    /// How line time relates to the wall clock on a host-clocked card (the simulated card).
    public enum ClockMode: Sendable, Equatable {
        /// One tick per block period of wall time (demos, soak tests, latency measurements).
        case paced
        /// As fast as the CPU allows. Line time stands still while an event is being handled
        /// or a `ClockHold` is held, so that programs react "instantly" in line time.
        case virtual
    }

    /// Samples per tick: a multiple of 8 from 8 (1 ms, DAHDI's chunk) to 160 (20 ms).
    public var blockSize: Int
    public var clock: ClockMode
    /// In paced mode, ask for SCHED_FIFO and locked memory (logged either way).
    public var realtime: Bool
    /// Tones the ports' call-progress detectors listen for and `toneID(for:)` plays.
    public var tonePlan: TonePlan
    /// Samples each port's playback and record ring holds.
    public var ringCapacity: Int
    public var commandCapacity: Int
    public var eventCapacity: Int
    /// In virtual mode, the longest wall time line time stays held before the engine
    /// goes on regardless (and logs it): a guard against a hold that is never released.
    public var holdLimit: Duration

    public init(blockSize: Int = 160, clock: ClockMode = .virtual, realtime: Bool = true,
                tonePlan: TonePlan = .us, ringCapacity: Int = 16_384, commandCapacity: Int = 1024,
                eventCapacity: Int = 8192, holdLimit: Duration = .seconds(5)) {
        self.blockSize = blockSize
        self.clock = clock
        self.realtime = realtime
        self.tonePlan = tonePlan
        self.ringCapacity = ringCapacity
        self.commandCapacity = commandCapacity
        self.eventCapacity = eventCapacity
        self.holdLimit = holdLimit
    }

    public static let blockSizes = stride(from: 8, through: 160, by: 8)

    func validate() throws {
        guard blockSize >= 8, blockSize <= 160, blockSize % 8 == 0 else {
            throw CardError.invalidBlockSize(blockSize)
        }
    }
}

/// Keeps virtual line time still until released (explicitly or when the hold is freed).
public final class ClockHold: Sendable {
    private let release: @Sendable () -> Void
    private let released = Atomic<Bool>(false)

    init(_ release: @escaping @Sendable () -> Void) { self.release = release }

    public func cancel() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { release() }
    }

    deinit { cancel() }
}

import Synchronization
