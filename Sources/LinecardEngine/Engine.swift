import Foundation
import LinecardDSP
import Logging
import Synchronization

/// The real-time audio engine of one card: one tick loop on its own thread that reads every
/// open port's block, runs each port's receive and transmit pipeline, and writes every block.
///
/// The tick allocates nothing, takes no lock, logs nothing and uses no Swift concurrency. The
/// rest of the program reaches it only through preallocated lock-free queues and rings:
/// `submit` for commands, an event handler (called on the dispatcher thread, never on the
/// tick) for events, and each port's playback and record rings for audio.
///
/// Without `start()`, `runTicks` steps the same tick synchronously on the caller's thread,
/// which tests and benchmarks use.
public final class Engine: @unchecked Sendable {
    public let card: any CardBackend
    public let configuration: EngineConfiguration
    public var blockSize: Int { configuration.blockSize }

    private let logger = Logger(label: "linecard.engine")
    private let pipelines: [ChannelPipeline]
    /// The tick's view of `pipelines`: unretained references, and the active ports in order,
    /// so that a tick touches no reference counts and skips closed ports.
    private let pipelineTable: UnsafeMutableBufferPointer<Unmanaged<ChannelPipeline>>
    private let activePorts: UnsafeMutablePointer<Int32>
    private var activeCount = 0
    /// Ports in lockstep (tick thread only).
    private var lockstepPorts = 0
    private let commands: CommandQueue<EngineCommand>
    private let events: SPSCQueue<EngineEvent>
    private let receiveBlocks: UnsafeMutablePointer<Int16>
    private let transmitBlocks: UnsafeMutablePointer<Int16>
    private let scratch: UnsafeMutablePointer<Int16>

    // Tones: descriptors live in `toneStore` (kept alive); the tick reads `toneSlots`.
    private static let toneCapacity = 256
    private let toneSlots: UnsafeMutablePointer<Unmanaged<ToneDescriptor>?>
    private let toneStore = Mutex<[ToneDescriptor]>([])
    private var callProgressTones: [CallProgressTone: ToneID] = [:]

    // Line time and statistics.
    private let lineTimeCounter = Atomic<Int64>(0)
    private var tickLineTime: Int64 = 0
    private let tickCount = Atomic<Int>(0)
    private let deadlineMisses = Atomic<Int>(0)
    private let worstLateness = Atomic<Int>(0)
    private let longestTick = Atomic<Int>(0)
    private let droppedCommands = Atomic<Int>(0)

    // Virtual clock: line time waits while events are undelivered or holds are taken.
    private let undeliveredEvents = Atomic<Int>(0)
    private let holds = Atomic<Int>(0)

    private enum Life { case stopped, running, closed }
    private let life = Mutex<Life>(.stopped)
    private let running = Atomic<Bool>(false)
    private var tickThread: TickThread?
    private var dispatcherThread: TickThread?
    private let openPorts = Mutex<Set<Int>>([])

    /// Whether the tick thread got real-time scheduling (nil before start or when not asked).
    public private(set) var realtimeProblems: [String]?

    public init(card: any CardBackend, configuration: EngineConfiguration = EngineConfiguration()) throws {
        try configuration.validate()
        self.card = card
        self.configuration = configuration
        let portCount = card.ports.count
        let bs = configuration.blockSize
        receiveBlocks = .allocate(capacity: max(1, portCount) * bs)
        receiveBlocks.initialize(repeating: 0, count: max(1, portCount) * bs)
        transmitBlocks = .allocate(capacity: max(1, portCount) * bs)
        transmitBlocks.initialize(repeating: 0, count: max(1, portCount) * bs)
        scratch = .allocate(capacity: bs)
        scratch.initialize(repeating: 0, count: bs)
        toneSlots = .allocate(capacity: Self.toneCapacity)
        toneSlots.initialize(repeating: nil, count: Self.toneCapacity)
        // Room for two ticks' worth of commands, whatever the configuration asks.
        commands = CommandQueue(capacity: max(configuration.commandCapacity, 64 * configuration.blockSize))
        events = SPSCQueue(capacity: configuration.eventCapacity)

        let silence = ToneDescriptor(.continuous(0, level: -99))
        let toneSet = configuration.tonePlan.makeDetectionSet()
        let rings = (0..<portCount).map { _ in
            (SampleRing(capacity: configuration.ringCapacity), SampleRing(capacity: configuration.ringCapacity))
        }
        pipelines = (0..<portCount).map {
            ChannelPipeline(port: $0, toneSet: toneSet, silence: silence, recordRing: rings[$0].0, playbackRing: rings[$0].1,
                            callerID: configuration.tonePlan.country == .us ? .bellcore : .etsi)
        }
        pipelineTable = .allocate(capacity: max(1, portCount))
        for (i, pipeline) in pipelines.enumerated() { pipelineTable[i] = Unmanaged.passUnretained(pipeline) }
        activePorts = .allocate(capacity: max(1, portCount))
        activePorts.initialize(repeating: 0, count: max(1, portCount))
        var ids: [CallProgressTone: ToneID] = [:]
        for tone in CallProgressTone.allCases {
            if let spec = configuration.tonePlan.tones[tone] { ids[tone] = registerToneUnchecked(spec) }
        }
        callProgressTones = ids
    }

    deinit {
        stop()
        receiveBlocks.deallocate()
        transmitBlocks.deallocate()
        scratch.deallocate()
        toneSlots.deallocate()
        pipelineTable.deallocate()
        activePorts.deallocate()
    }

    // MARK: Ports

    public var ports: [PortDescription] { card.ports }

    /// Opens a port and activates its pipeline. Allowed while running.
    public func open(port: Int) throws {
        try life.withLock { life in
            if life == .closed { throw CardError.cardClosed(card.name) }
        }
        guard port >= 0, port < card.ports.count else {
            throw CardError.unknownPort(port, portCount: card.ports.count)
        }
        try openPorts.withLock { open in
            guard !open.contains(port) else { throw CardError.portAlreadyOpen(port) }
            try card.open(port: port, blockSize: configuration.blockSize)
            open.insert(port)
        }
        try submitInternal(EngineCommand(port: port, .activate))
    }

    /// Deactivates a port's pipeline and closes it.
    public func close(port: Int) throws {
        try openPorts.withLock { open in
            guard open.contains(port) else { throw CardError.portNotOpen(port) }
            open.remove(port)
        }
        try submitInternal(EngineCommand(port: port, .deactivate))
        if !running.load(ordering: .acquiring) { runCommandsOnly() }
        card.close(port: port)
    }

    public func isOpen(port: Int) -> Bool { openPorts.withLock { $0.contains(port) } }

    /// Audio the program writes for a port to play once `.startPlayback` is submitted.
    public func playbackRing(port: Int) throws -> SampleRing { try pipeline(port).playbackRing }
    /// Audio a port receives while `.record(true)` is on.
    public func recordRing(port: Int) throws -> SampleRing { try pipeline(port).recordRing }
    /// Levels a port hears and sends while `.meterLevels(true)` is on.
    public func levels(port: Int) throws -> LevelReadout { try pipeline(port).levels }

    private func pipeline(_ port: Int) throws -> ChannelPipeline {
        guard port >= 0, port < pipelines.count else { throw CardError.unknownPort(port, portCount: pipelines.count) }
        return pipelines[port]
    }

    // MARK: Tones

    /// Makes a tone playable with `.playTone`. Outside the tick; up to 256 tones.
    public func registerTone(_ spec: ToneSpec) throws -> ToneID {
        let id = registerToneUnchecked(spec)
        guard id.slot >= 0 else { throw CardError.device("no room for more tones: \(Self.toneCapacity) are registered") }
        return id
    }

    private func registerToneUnchecked(_ spec: ToneSpec) -> ToneID {
        toneStore.withLock { store in
            guard store.count < Self.toneCapacity else { return ToneID(slot: -1) }
            let descriptor = ToneDescriptor(spec)
            store.append(descriptor)
            toneSlots[store.count - 1] = Unmanaged.passUnretained(descriptor)
            return ToneID(slot: Int32(store.count - 1))
        }
    }

    /// The engine's tone for a call-progress signal of its tone plan.
    public func toneID(for tone: CallProgressTone) -> ToneID { callProgressTones[tone]! }

    // MARK: Commands

    /// Queues a command for the tick. Throws when the port is unknown or not open, or the
    /// queue is full.
    public func submit(_ command: EngineCommand) throws {
        switch command.operation {
        case .activate, .deactivate:
            throw CardError.device("activate and deactivate are the engine's own; use open(port:) and close(port:)")
        default: break
        }
        let port = Int(command.port)
        guard port >= 0, port < pipelines.count else { throw CardError.unknownPort(port, portCount: pipelines.count) }
        guard isOpen(port: port) else { throw CardError.portNotOpen(port) }
        if case .listen(let other) = command.operation {
            guard isOpen(port: Int(other)) else { throw CardError.portNotOpen(Int(other)) }
        }
        if case .patch(let other) = command.operation, other >= 0 {
            guard Int(other) != port else { throw CardError.device("port \(port) cannot be patched to itself") }
            guard isOpen(port: Int(other)) else { throw CardError.portNotOpen(Int(other)) }
        }
        if case .playTone(let id, _) = command.operation {
            guard id.slot >= 0, toneStore.withLock({ Int(id.slot) < $0.count }) else {
                throw CardError.device("tone \(id.slot) is not registered with this engine")
            }
        }
        try submitInternal(command)
    }

    private func submitInternal(_ command: EngineCommand) throws {
        if commands.push(command) { return }
        // Full: a burst of commands outran the tick, which drains 32 a sample of its block.
        // Losing a command would leave a timer unset or a play running, so the program waits
        // for room, up to a tenth of a second.
        if running.load(ordering: .acquiring) {
            for _ in 0..<2000 {
                usleep(50)
                if commands.push(command) { return }
            }
        }
        droppedCommands.add(1, ordering: .relaxed)
        throw CardError.queueFull("command")
    }

    // MARK: Time

    /// Samples processed since the engine was created.
    public var lineTime: Int64 { lineTimeCounter.load(ordering: .acquiring) }

    /// Keeps virtual line time still until the hold is cancelled or freed. In paced mode a
    /// hold does nothing.
    public func holdClock() -> ClockHold {
        holds.add(1, ordering: .acquiringAndReleasing)
        return ClockHold { [self] in holds.subtract(1, ordering: .acquiringAndReleasing) }
    }

    public struct Statistics: Sendable, Equatable {
        public var ticks: Int
        /// Paced mode: ticks that started more than one block period late.
        public var deadlineMisses: Int
        /// Paced mode: the latest a tick started after its deadline, in nanoseconds.
        public var worstLatenessNanoseconds: Int
        /// Paced mode: the longest a tick took, in nanoseconds. Lateness much larger than this
        /// comes from waking up, not from the work.
        public var longestTickNanoseconds: Int
        public var droppedEvents: Int
        public var droppedCommands: Int
    }

    public var statistics: Statistics {
        Statistics(ticks: tickCount.load(ordering: .relaxed), deadlineMisses: deadlineMisses.load(ordering: .relaxed),
                   worstLatenessNanoseconds: worstLateness.load(ordering: .relaxed),
                   longestTickNanoseconds: longestTick.load(ordering: .relaxed),
                   droppedEvents: events.droppedCount, droppedCommands: droppedCommands.load(ordering: .relaxed))
    }

    // MARK: Running

    /// Starts the tick thread and the dispatcher thread that calls `onEvent` for each event.
    public func start(onEvent: @escaping @Sendable (EngineEvent) -> Void) throws {
        try life.withLock { life in
            switch life {
            case .running: throw CardError.engineRunning
            case .closed: throw CardError.cardClosed(card.name)
            case .stopped: life = .running
            }
        }
        running.store(true, ordering: .releasing)
        let wantRealtime = configuration.realtime && configuration.clock == .paced
        let report = Mutex<[String]?>(nil)
        let ready = Atomic<Bool>(false)
        do {
            dispatcherThread = try TickThread(name: "linecard-events") { [self] in dispatchLoop(onEvent) }
            tickThread = try TickThread(name: "linecard-tick") { [self] in
                if wantRealtime { report.withLock { $0 = TickThread.becomeRealtime() } }
                // Line time's own thread: not the program's work (see `ProgramThreads`).
                LineThreads.enroll()
                defer { LineThreads.leave() }
                ready.store(true, ordering: .releasing)
                tickLoop()
            }
        } catch {
            running.store(false, ordering: .releasing)
            dispatcherThread?.join()
            dispatcherThread = nil
            life.withLock { $0 = .stopped }
            throw error
        }
        var backoff = Backoff(maximumSleepNanoseconds: 200_000)
        while !ready.load(ordering: .acquiring) { backoff.wait() }
        if wantRealtime {
            let problems = report.withLock { $0 } ?? []
            realtimeProblems = problems
            if problems.isEmpty {
                logger.info("tick thread running with SCHED_FIFO and locked memory", metadata: ["card": "\(card.name)"])
            } else {
                logger.warning("tick thread running without real-time scheduling: \(problems.joined(separator: "; ")); run as root or grant CAP_SYS_NICE and CAP_IPC_LOCK (or rtprio/memlock limits) for reliable timing",
                               metadata: ["card": "\(card.name)"])
            }
        }
    }

    /// Stops the threads after the current tick; events already queued are still delivered.
    public func stop() {
        let wasRunning = life.withLock { life -> Bool in
            defer { if life == .running { life = .stopped } }
            return life == .running
        }
        guard wasRunning else { return }
        running.store(false, ordering: .releasing)
        tickThread?.join()
        dispatcherThread?.join()
        tickThread = nil
        dispatcherThread = nil
    }

    /// Stops the engine and closes the card.
    public func shutdown() {
        stop()
        life.withLock { $0 = .closed }
        for port in openPorts.withLock({ Array($0) }) { card.close(port: port) }
        openPorts.withLock { $0.removeAll() }
        card.shutdown()
    }

    /// Runs `count` ticks on the calling thread, handing each tick's events to `onEvent`.
    /// Only while the engine is not started.
    public func runTicks(_ count: Int, onEvent: (EngineEvent) -> Void = { _ in }) throws {
        try life.withLock { life in
            if life == .running { throw CardError.engineRunning }
            if life == .closed { throw CardError.cardClosed(card.name) }
        }
        for _ in 0..<count {
            tick()
            drainEvents(onEvent)
        }
    }

    /// Runs ticks on the calling thread until `until` returns true for an event or
    /// `maximumSamples` of line time pass; returns the event that ended it.
    @discardableResult
    public func run(forAtMost maximumSamples: Int64, onEvent: (EngineEvent) -> Void = { _ in },
                    until: (EngineEvent) -> Bool) throws -> EngineEvent? {
        let end = lineTime + maximumSamples
        var found: EngineEvent?
        while found == nil, lineTime < end {
            try runTicks(1) { event in
                onEvent(event)
                if found == nil, until(event) { found = event }
            }
        }
        return found
    }

    private func drainEvents(_ body: (EngineEvent) -> Void) {
        while let event = events.pop() {
            body(event)
            undeliveredEvents.subtract(1, ordering: .releasing)
        }
    }

    /// Whether every lockstep port's playback ring holds the next block (tick thread only).
    private func lockstepReady() -> Bool {
        let bs = configuration.blockSize
        var i = 0
        while i < activeCount {
            let ready = pipelineTable[Int(activePorts[i])]._withUnsafeGuaranteedRef { p in
                !p.lockstep || !p.playing || p.playbackRing.available >= bs
            }
            if !ready { return false }
            i += 1
        }
        return true
    }

    private func runCommandsOnly() {
        while let command = commands.pop() { apply(command) }
    }

    private func tickLoop() {
        let periodNanoseconds = Int64(configuration.blockSize) * 125_000
        let paced = configuration.clock == .paced && card.clock == .host
        let virtual = configuration.clock == .virtual && card.clock == .host
        let holdLimit = configuration.holdLimit.components
        let holdLimitNanoseconds = holdLimit.seconds * 1_000_000_000 + holdLimit.attoseconds / 1_000_000_000
        var deadline = monotonicNanoseconds()
        var backoff = Backoff(maximumSleepNanoseconds: 100_000)
        var heldSince: Int64 = 0
        while running.load(ordering: .acquiring) {
            var waitingForLockstep = false
            if virtual, lockstepPorts > 0, !lockstepReady() {
                // Commands still apply (the program may be ending the lockstep): look again after.
                runCommandsOnly()
                waitingForLockstep = lockstepPorts > 0 && !lockstepReady()
            }
            if virtual, undeliveredEvents.load(ordering: .acquiring) > 0 || holds.load(ordering: .acquiring) > 0 || waitingForLockstep {
                let now = monotonicNanoseconds()
                if heldSince == 0 { heldSince = now }
                if now - heldSince < holdLimitNanoseconds {
                    // Line time stands still, but commands take none: apply them, so that a
                    // program busy for a long while never fills the command queue.
                    runCommandsOnly()
                    backoff.wait()
                    continue
                }
                logger.warning("virtual line time was held for longer than \(configuration.holdLimit); going on")
                heldSince = 0
            } else {
                heldSince = 0
                backoff.reset()
            }
            if paced {
                let now = monotonicNanoseconds()
                if now < deadline {
                    sleep(untilNanoseconds: deadline)
                }
                let lateness = Int(monotonicNanoseconds() - deadline)
                if lateness > worstLateness.load(ordering: .relaxed) { worstLateness.store(lateness, ordering: .relaxed) }
                if lateness > Int(periodNanoseconds) { deadlineMisses.add(1, ordering: .relaxed) }
                deadline += periodNanoseconds
                // After a long stall (a debugger, a suspended VM), start afresh rather than race.
                if lateness > 1_000_000_000 { deadline = monotonicNanoseconds() + periodNanoseconds }
                let started = monotonicNanoseconds()
                tick()
                let took = Int(monotonicNanoseconds() - started)
                if took > longestTick.load(ordering: .relaxed) { longestTick.store(took, ordering: .relaxed) }
                continue
            }
            tick()
        }
    }

    private func dispatchLoop(_ onEvent: @Sendable (EngineEvent) -> Void) {
        var backoff = Backoff(maximumSleepNanoseconds: configuration.clock == .virtual ? 50_000 : 1_000_000)
        while true {
            if let event = events.pop() {
                onEvent(event)
                undeliveredEvents.subtract(1, ordering: .releasing)
                backoff.reset()
            } else if !running.load(ordering: .acquiring) {
                break
            } else {
                backoff.wait()
            }
        }
    }

    // MARK: The tick

    @inline(__always)
    private func emit(_ port: Int, _ kind: EngineEvent.Kind) {
        if events.push(EngineEvent(lineTime: tickLineTime, port: Int32(port), kind: kind)) {
            undeliveredEvents.add(1, ordering: .releasing)
        }
    }

    /// One tick: commands, read, line signals, receive pipelines, transmit pipelines, write.
    func tick() {
        let bs = configuration.blockSize
        // 32 commands a sample of the block: the same 256,000 a second at every block size,
        // so a long block does not throttle a program that commands many calls at once.
        var budget = 32 * bs
        while budget > 0, let command = commands.pop() {
            apply(command)
            budget -= 1
        }
        card.readBlocks(into: receiveBlocks, blockSize: bs)
        while let signal = card.nextLineEvent() {
            emit(Int(signal.port), .line(signal.kind, value: signal.value))
        }
        var i = 0
        while i < activeCount {
            pipelineTable[Int(activePorts[i])]._withUnsafeGuaranteedRef { receive($0, blockSize: bs) }
            i += 1
        }
        i = 0
        while i < activeCount {
            pipelineTable[Int(activePorts[i])]._withUnsafeGuaranteedRef { transmit($0, blockSize: bs) }
            i += 1
        }
        card.writeBlocks(from: transmitBlocks, blockSize: bs)
        tickLineTime += Int64(bs)
        lineTimeCounter.store(tickLineTime, ordering: .releasing)
        tickCount.add(1, ordering: .relaxed)
    }

    @inline(__always)
    private func receive(_ p: ChannelPipeline, blockSize bs: Int) {
        if p.patchedTo >= 0 {
            // Receive runs before any transmit: the peer's block is still last tick's.
            (receiveBlocks + p.port * bs).update(from: transmitBlocks + p.patchedTo * bs, count: bs)
        }
        let samples = UnsafePointer(receiveBlocks + p.port * bs)
        if p.detectingDigits {
            let now = tickLineTime
            p.digitDetector.process(samples, count: bs) { report in
                if report.digit != 0 {
                    p.suppressingOwnDigit = report.digit == p.ownDigit && now < p.ownDigitGuardUntil
                    if p.suppressingOwnDigit { return }
                    emit(p.port, .digitStarted(report.digit, level: report.level))
                    p.lastDigit = report.digit
                } else if p.suppressingOwnDigit {
                    p.suppressingOwnDigit = false
                } else {
                    emit(p.port, .digitEnded(p.lastDigit, samples: report.samples))
                }
            }
        }
        if p.detectingCallProgress {
            p.callProgressDetector.process(samples, count: bs) { code in
                if code >= 0, code < p.callProgressOrder.count {
                    emit(p.port, .callProgressStarted(p.callProgressOrder[code]))
                } else {
                    emit(p.port, .callProgressEnded)
                }
            }
        }
        if p.detectingActivity { detectActivity(p, samples, bs) }
        if p.detectingCallerID {
            p.callerIDReceiver.process(samples, count: bs) { bytes, count in
                emit(p.port, .callerID(DigitString(bytes: bytes, count: count)))
            }
        }
        if p.detectingFaxTones {
            p.faxToneDetector.process(samples, count: bs) { emit(p.port, .faxTone($0)) }
        }
        if p.detectingBeeps {
            p.beepDetector.process(samples, count: bs) { report in
                switch report {
                case .started(let frequency, let level): emit(p.port, .beepStarted(frequency: frequency, level: level))
                case .ended(let milliseconds): emit(p.port, .beepEnded(milliseconds: milliseconds))
                }
            }
        }
        if p.recording {
            p.recordRing.writeDroppingExcess(samples, count: bs)
            let high = p.recordRing.available > p.recordRing.capacity / 2
            if high, !p.recordHighReported { emit(p.port, .recordNeedsDraining) }
            p.recordHighReported = high
        }
        if p.metering { p.receiveMeter.update(samples, count: bs) }
        if p.timerCount > 0 {
            p.fireTimers(dueBy: tickLineTime + Int64(bs)) { emit(p.port, .timer(id: $0)) }
        }
    }

    @inline(__always)
    private func detectActivity(_ p: ChannelPipeline, _ samples: UnsafePointer<Int16>, _ bs: Int) {
        var sum: Int64 = 0
        var i = 0
        while i < bs {
            let v = Int64(samples[i])
            sum += v * v
            i += 1
        }
        let loud = sum >= p.activityThreshold * Int64(bs)
        if loud == p.active_ {
            p.activityRun = 0
            return
        }
        p.activityRun += bs
        if loud, p.activityRun >= p.activityStartSamples {
            p.active_ = true
            p.activityRun = 0
            let meanSquare = Double(sum) / Double(bs)
            emit(p.port, .activityStarted(level: Int32(PowerMeter.rmsToDBm0(meanSquare.squareRoot()).rounded())))
        } else if !loud, p.activityRun >= p.activityStopSamples {
            p.active_ = false
            p.activityRun = 0
            emit(p.port, .activityStopped)
        }
    }

    @inline(__always)
    private func transmit(_ p: ChannelPipeline, blockSize bs: Int) {
        let out = transmitBlocks + p.port * bs
        if p.listeningTo >= 0 {
            out.update(from: receiveBlocks + p.listeningTo * bs, count: bs)
        } else if p.sendingDigits, !p.playing, !p.toneActive {
            // Only digits: generate straight into the block.
            let n = p.digitGenerator.generate(into: out, count: bs)
            p.noteOwnDigits(out, count: n, lineTime: tickLineTime)
            if n < bs {
                (out + n).update(repeating: 0, count: bs - n)
                p.sendingDigits = false
                emit(p.port, .digitsSent)
            }
        } else {
            if p.playing {
                let n = p.playbackRing.available >= bs || !p.finishingPlayback
                    ? p.playbackRing.readBlock(into: out, count: bs)
                    : p.playbackRing.read(into: out, count: bs)
                if !p.finishingPlayback {
                    let low = p.playbackRing.available < p.playbackRing.capacity / 2
                    if low, !p.playbackLowReported { emit(p.port, .playbackNeedsData) }
                    p.playbackLowReported = low
                }
                if n < bs {
                    (out + n).update(repeating: 0, count: bs - n)
                    if p.finishingPlayback, p.playbackRing.available == 0 {
                        p.playing = false
                        p.finishingPlayback = false
                        emit(p.port, .playbackFinished)
                    }
                }
            } else {
                out.update(repeating: 0, count: bs)
            }
            if p.toneActive {
                let n = p.toneGenerator.generate(into: scratch, count: bs)
                mix(scratch, into: out, count: n)
                if p.toneSamplesLeft > 0 {
                    p.toneSamplesLeft -= Int64(bs)
                    if p.toneSamplesLeft <= 0 {
                        p.toneActive = false
                        emit(p.port, .toneFinished)
                    }
                }
            }
            if p.sendingDigits {
                let n = p.digitGenerator.generate(into: scratch, count: bs)
                p.noteOwnDigits(scratch, count: n, lineTime: tickLineTime)
                mix(scratch, into: out, count: n)
                if n < bs {
                    p.sendingDigits = false
                    emit(p.port, .digitsSent)
                }
            }
        }
        if p.metering {
            p.transmitMeter.update(out, count: bs)
            p.levels.publish(receive: p.receiveMeter.dBm0, transmit: p.transmitMeter.dBm0)
        }
    }

    @inline(__always)
    private func mix(_ source: UnsafePointer<Int16>, into destination: UnsafeMutablePointer<Int16>, count: Int) {
        for i in 0..<count {
            destination[i] = Int16(clamping: Int32(destination[i]) + Int32(source[i]))
        }
    }

    private func apply(_ command: EngineCommand) {
        let port = Int(command.port)
        guard port >= 0, port < pipelineTable.count else { return }
        pipelineTable[port]._withUnsafeGuaranteedRef { apply(command.operation, to: $0, port: port) }
    }

    private func apply(_ operation: EngineCommand.Operation, to p: ChannelPipeline, port: Int) {
        switch operation {
        case .activate:
            p.reset()
            if !p.active {
                p.active = true
                // Keep the list in port order.
                var i = activeCount
                while i > 0, activePorts[i - 1] > Int32(port) {
                    activePorts[i] = activePorts[i - 1]
                    i -= 1
                }
                activePorts[i] = Int32(port)
                activeCount += 1
            }
        case .deactivate:
            if p.lockstep { lockstepPorts -= 1 }
            // A closed port's timers will never come due: fire them now, so that nothing
            // waits for ever on a port that is gone.
            p.fireTimers(dueBy: .max) { emit(port, .timer(id: $0)) }
            p.reset()
            p.playbackRing.discardAll()
            p.recordRing.discardAll()
            if p.active {
                p.active = false
                var i = 0
                while i < activeCount, activePorts[i] != Int32(port) { i += 1 }
                while i < activeCount - 1 {
                    activePorts[i] = activePorts[i + 1]
                    i += 1
                }
                activeCount -= 1
            }
            var k = 0
            while k < pipelineTable.count {
                pipelineTable[k]._withUnsafeGuaranteedRef {
                    if $0.listeningTo == port { $0.listeningTo = -1 }
                    if $0.patchedTo == port { $0.patchedTo = -1 }
                }
                k += 1
            }
        case .hook(let hook):
            let error = card.setHook(port: port, hook)
            if error != 0 { emit(port, .line(.hookFailed, value: error)) }
        case .sendDigits(let digits):
            digits.withCharacters { characters, count in
                _ = p.digitGenerator.enqueue(characters, count: count)
                p.queueOwnDigits(characters, count: count)
            }
            p.sendingDigits = true
        case .stopDigits:
            p.digitGenerator.reset()
            p.forgetOwnDigits()
            p.sendingDigits = false
        case .configureDigits(let level, let twist, let on, let off):
            p.digitGenerator.configure(level: Int(level), twist: Int(twist), onTimeMilliseconds: Int(on),
                                       offTimeMilliseconds: Int(off))
        case .playTone(let id, let samples):
            guard id.slot >= 0, id.slot < Self.toneCapacity, let descriptor = toneSlots[Int(id.slot)] else { return }
            descriptor._withUnsafeGuaranteedRef { p.toneGenerator.start($0) }
            p.toneActive = true
            p.toneSamplesLeft = samples
        case .stopTone:
            p.toneActive = false
        case .detectDigits(let on):
            if on && !p.detectingDigits { p.digitDetector.reset() }
            p.detectingDigits = on
        case .filterDialTone(let on):
            p.digitDetector.setFilterDialTone(on)
        case .detectCallProgress(let on):
            if on && !p.detectingCallProgress { p.callProgressDetector.reset() }
            p.detectingCallProgress = on
        case .meterLevels(let on):
            p.metering = on
        case .detectCallerID(let on):
            if on && !p.detectingCallerID { p.callerIDReceiver.reset() }
            p.detectingCallerID = on
        case .detectFaxTones(let on):
            if on && !p.detectingFaxTones { p.faxToneDetector.reset() }
            p.detectingFaxTones = on
        case .detectBeeps(let on):
            if on && !p.detectingBeeps { p.beepDetector.reset() }
            p.detectingBeeps = on
        case .detectActivity(let threshold, let start, let stop):
            p.detectingActivity = threshold != 0
            p.active_ = false
            p.activityRun = 0
            // dBm0 to a mean square: 0 dBm0 is a sine of 32767 peak at -3.14 dB.
            let rms = 32767.0 / 2.0.squareRoot() * pow(10, (Double(threshold) - 3.14) / 20)
            p.activityThreshold = Int64(rms * rms)
            p.activityStartSamples = Int(start) * 8
            p.activityStopSamples = Int(stop) * 8
        case .startPlayback:
            p.playing = true
            p.finishingPlayback = false
            p.playbackLowReported = false
        case .finishPlayback:
            p.finishingPlayback = true
            if !p.playing { emit(port, .playbackFinished) }
        case .stopPlayback:
            p.playing = false
            p.finishingPlayback = false
            p.playbackRing.discardAll()
        case .record(let on):
            p.recording = on
            p.recordHighReported = false
        case .listen(let other):
            p.listeningTo = Int(other)
        case .stopListening:
            p.listeningTo = -1
        case .patch(let other):
            p.patchedTo = Int(other)
        case .lockstep(let on):
            if on != p.lockstep { lockstepPorts += on ? 1 : -1 }
            p.lockstep = on
        case .setTimer(let id, let lineTime):
            if !p.setTimer(id: id, lineTime: lineTime) { emit(port, .timer(id: id)) }
        case .cancelTimer(let id):
            p.cancelTimer(id: id)
        }
    }
}
