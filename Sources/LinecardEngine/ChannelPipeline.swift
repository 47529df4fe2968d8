import LinecardDSP

/// One port's receive and transmit processing, owned by the tick once the engine runs.
///
/// Everything is created up front; per tick it only reads flags, calls spandsp and copies
/// samples. Output that the rest of the program wants (recordings, levels) leaves through
/// rings and atomics.
final class ChannelPipeline {
    let port: Int
    var active = false

    // Receive side
    var detectingDigits = false
    var lastDigit: UInt8 = 0
    let digitDetector: DTMFDetector
    var detectingCallProgress = false
    let callProgressDetector: SupervisoryToneDetector
    let callProgressOrder: [CallProgressTone]
    var metering = false
    // Activity (voice or tone versus silence), judged per block by its mean square.
    var detectingActivity = false
    var activityThreshold: Int64 = 0      // mean square per sample
    var activityStartSamples = 0
    var activityStopSamples = 0
    var active_ = false
    var activityRun = 0
    var detectingBeeps = false
    let beepDetector = BeepDetector()
    var detectingCallerID = false
    let callerIDReceiver: CallerIDReceiver
    var detectingFaxTones = false
    let faxToneDetector = FaxToneDetector()
    let receiveMeter = PowerMeter()
    var recording = false
    var recordHighReported = false
    let recordRing: SampleRing

    // Transmit side
    var listeningTo: Int = -1
    var patchedTo: Int = -1
    var lockstep = false
    var playing = false
    var finishingPlayback = false
    var playbackLowReported = false
    let playbackRing: SampleRing
    var toneActive = false
    var toneSamplesLeft: Int64 = 0
    let toneGenerator: ToneGenerator
    var sendingDigits = false
    let digitGenerator = DTMFGenerator()
    /// Our own digits echo back from the hybrid, loud enough to detect, and an application
    /// must not read them as the far end's. The digits queued to the generator, the one whose
    /// tone is (or was last) on the line, and the line time until which hearing that digit
    /// is taken for its echo.
    let ownDigitQueue: UnsafeMutablePointer<UInt8>
    static let ownDigitQueueCapacity = 64
    var ownDigitQueueHead = 0
    var ownDigitQueueCount = 0
    var ownDigit: UInt8 = 0
    var ownToneOn = false
    var ownDigitGuardUntil: Int64 = 0
    /// A detected start that was our own echo, so that its end is dropped too.
    var suppressingOwnDigit = false
    /// How long after our last tone its echo may still be confirmed: the echo path's delay
    /// (up to 64 ms, an echo canceller's usual tail) plus the detector's two blocks, less the
    /// shortest tone. A person pressing back what they heard is later than this.
    static let ownDigitEchoSamples: Int64 = 600

    func queueOwnDigits(_ characters: UnsafePointer<UInt8>, count: Int) {
        var i = 0
        while i < count, ownDigitQueueCount < Self.ownDigitQueueCapacity {
            ownDigitQueue[(ownDigitQueueHead + ownDigitQueueCount) % Self.ownDigitQueueCapacity] = characters[i]
            ownDigitQueueCount += 1
            i += 1
        }
    }

    /// Called with each block the generator made: a tone starting takes the next queued digit.
    @inline(__always)
    func noteOwnDigits(_ samples: UnsafePointer<Int16>, count: Int, lineTime: Int64) {
        let tone = Self.carriesTone(samples, count: count)
        if tone {
            if !ownToneOn, ownDigitQueueCount > 0 {
                ownDigit = ownDigitQueue[ownDigitQueueHead]
                ownDigitQueueHead = (ownDigitQueueHead + 1) % Self.ownDigitQueueCapacity
                ownDigitQueueCount -= 1
            }
            ownDigitGuardUntil = lineTime + Int64(count) + Self.ownDigitEchoSamples
        }
        ownToneOn = tone
    }

    func forgetOwnDigits() {
        ownDigitQueueHead = 0
        ownDigitQueueCount = 0
        ownToneOn = false
    }

    /// Whether a block the DTMF generator made is tone rather than the gap between digits
    /// (three samples suffice: the gap is exact zeros; a missed block is covered by its
    /// neighbours' guard).
    @inline(__always)
    static func carriesTone(_ samples: UnsafePointer<Int16>, count: Int) -> Bool {
        count > 0 && (samples[0] | samples[count / 2] | samples[count - 1]) != 0
    }

    let transmitMeter = PowerMeter()

    // Timers in line time: a small fixed table, scanned only while any is set.
    static let timerCapacity = 16
    let timerIDs = UnsafeMutablePointer<Int32>.allocate(capacity: timerCapacity)
    let timerDeadlines = UnsafeMutablePointer<Int64>.allocate(capacity: timerCapacity)
    var timerCount = 0

    /// Levels published for readers outside the tick, in hundredths of a dBm0.
    let levels: LevelReadout

    /// The rings are made by the caller, apart from the small DSP state that every tick
    /// touches, so that all ports' hot state stays close together in memory.
    init(port: Int, toneSet: SupervisoryToneSet, silence: ToneDescriptor, recordRing: SampleRing, playbackRing: SampleRing,
         callerID: CallerIDStandard) {
        self.port = port
        ownDigitQueue = .allocate(capacity: Self.ownDigitQueueCapacity)
        ownDigitQueue.initialize(repeating: 0, count: Self.ownDigitQueueCapacity)
        callerIDReceiver = CallerIDReceiver(callerID)
        digitDetector = DTMFDetector()
        callProgressDetector = SupervisoryToneDetector(toneSet)
        callProgressOrder = TonePlan.detectionOrder
        self.recordRing = recordRing
        self.playbackRing = playbackRing
        toneGenerator = ToneGenerator(silence)
        levels = LevelReadout()
        timerIDs.initialize(repeating: 0, count: Self.timerCapacity)
        timerDeadlines.initialize(repeating: 0, count: Self.timerCapacity)
    }

    deinit {
        ownDigitQueue.deallocate()
        timerIDs.deallocate()
        timerDeadlines.deallocate()
    }

    /// Returns false when the table is full.
    func setTimer(id: Int32, lineTime: Int64) -> Bool {
        cancelTimer(id: id)
        guard timerCount < Self.timerCapacity else { return false }
        timerIDs[timerCount] = id
        timerDeadlines[timerCount] = lineTime
        timerCount += 1
        return true
    }

    func cancelTimer(id: Int32) {
        var i = 0
        while i < timerCount {
            if timerIDs[i] == id {
                timerCount -= 1
                timerIDs[i] = timerIDs[timerCount]
                timerDeadlines[i] = timerDeadlines[timerCount]
            } else {
                i += 1
            }
        }
    }

    /// Calls `fire` for each timer due by `lineTime` and removes it.
    @inline(__always)
    func fireTimers(dueBy lineTime: Int64, _ fire: (Int32) -> Void) {
        var i = 0
        while i < timerCount {
            if timerDeadlines[i] <= lineTime {
                let id = timerIDs[i]
                timerCount -= 1
                timerIDs[i] = timerIDs[timerCount]
                timerDeadlines[i] = timerDeadlines[timerCount]
                fire(id)
            } else {
                i += 1
            }
        }
    }

    func reset() {
        detectingDigits = false
        detectingCallProgress = false
        metering = false
        detectingActivity = false
        detectingBeeps = false
        beepDetector.reset()
        detectingCallerID = false
        detectingFaxTones = false
        faxToneDetector.reset()
        active_ = false
        activityRun = 0
        recording = false
        listeningTo = -1
        patchedTo = -1
        lockstep = false
        playing = false
        finishingPlayback = false
        toneActive = false
        sendingDigits = false
        forgetOwnDigits()
        ownDigit = 0
        ownDigitGuardUntil = 0
        suppressingOwnDigit = false
        digitDetector.reset()
        digitDetector.setFilterDialTone(false)
        callProgressDetector.reset()
        digitGenerator.reset()
        timerCount = 0
    }
}

import Synchronization

/// Receive and transmit levels of a port, written by the tick and read by anyone.
public final class LevelReadout: Sendable {
    private let receive = Atomic<Int>(-9600)
    private let transmit = Atomic<Int>(-9600)

    func publish(receive r: Double, transmit t: Double) {
        receive.store(Int(r * 100), ordering: .relaxed)
        transmit.store(Int(t * 100), ordering: .relaxed)
    }

    /// dBm0 of what the port hears.
    public var receiveLevel: Double { Double(receive.load(ordering: .relaxed)) / 100 }
    /// dBm0 of what the port sends.
    public var transmitLevel: Double { Double(transmit.load(ordering: .relaxed)) / 100 }
}
