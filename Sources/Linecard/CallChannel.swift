import Foundation
import LinecardDSP
import LinecardEngine
import Synchronization

/// A call on one port of a card: the reference's `UASCallChannel`, with its states, causes
/// and error rules, as Swift async functions. Waits are measured in line time.
///
/// A channel learns what happens on its line only from the engine's events (tones, digits,
/// line signals, audio activity), read by the port's `LineSignalling`. Its state lives in
/// the card's `CardState`, changed under the card's one lock by the dispatcher thread and by
/// the program's calls alike; the program's waits do not block a thread.
public final class CallChannel: Sendable {
    public let port: Int
    /// What the port faces (for the program's information: the call layer asks `signalling`).
    public let kind: PortKind
    public let configuration: ChannelConfiguration
    /// How this port's line carries calls, chosen by the card.
    let signalling: any LineSignalling
    let engine: Engine
    let directory: ChannelDirectory
    /// This channel's part of the card's state (`CardState`), under the card's one lock.
    let core: ChannelState
    // What the program's media objects report, kept in the card's state with the rest.
    var playerStatus: ChannelField<(state: DTMFPlayer.State, cause: DTMFPlayer.Cause)> { ChannelField(core, \.jobs.dtmfPlayer) }
    var detectorCause: ChannelField<DTMFDetector.Cause> { ChannelField(core, \.jobs.dtmfDetector) }
    var tonePlayerSlot: ChannelField<TonePlayer?> { ChannelField(core, \.jobs.tonePlayer) }
    var fileStatus: ChannelField<FileJobStatus> { ChannelField(core, \.jobs.files) }
    var faxStatus: ChannelField<FaxStatus> { ChannelField(core, \.jobs.fax) }
    let playbackRing: SampleRing
    let recordRing: SampleRing
    private let waiterCounter = Atomic<Int>(0)

    init(port: PortDescription, signalling: any LineSignalling, engine: Engine, configuration: ChannelConfiguration,
         directory: ChannelDirectory, state: ChannelState) {
        self.port = port.index
        kind = port.kind
        self.signalling = signalling
        core = state
        self.engine = engine
        self.configuration = configuration
        self.directory = directory
        // The port exists: the engine was made for this card.
        playbackRing = try! engine.playbackRing(port: port.index)
        recordRing = try! engine.recordRing(port: port.index)
    }

    // MARK: State

    /// The call's current state.
    public var state: CallState { core.withLock { $0.state } }
    /// Why the last call ended; NORMAL while a call is not idle.
    public var cause: CallCause { core.withLock { $0.state == .idle ? $0.cause : .normal } }
    public var details: CallDetails { core.withLock { $0.details } }

    // MARK: Outgoing calls

    /// Places a call and waits until it is answered, ends, or `timeout` of line time passes
    /// (then it is abandoned: NOANSWER if it rang, TIMEOUT if not). Returns the state.
    /// On an FXS port `to` is ignored: the telephone rings.
    @discardableResult
    public func call(to number: String, from caller: String = "", timeout: Duration? = .seconds(120)) async throws -> CallState {
        try startCall(to: number, from: caller, timeout: timeout)
        return await waitForAnswerOrEnd()
    }

    /// `call(to:from:timeout:)` with a number already checked (`DialString`).
    @discardableResult
    public func call(to number: DialString, from caller: String = "", timeout: Duration? = .seconds(120)) async throws -> CallState {
        try startCall(to: number, from: caller, timeout: timeout)
        return await waitForAnswerOrEnd()
    }

    /// Starts placing a call and returns at once; follow it with `state`, `waitForAnswer`
    /// or `waitForIdle`. A line that dials checks `number` here (see `DialString`).
    public func startCall(to number: String, from caller: String = "", timeout: Duration? = nil) throws {
        guard signalling.capabilities.dialsNumbers else {
            return try beginOutgoingCall(number, dialling: nil, from: caller, timeout: timeout)
        }
        try beginOutgoingCall(number, dialling: try DialString.checked(number), from: caller, timeout: timeout)
    }

    /// `startCall(to:from:timeout:)` with a number already checked.
    public func startCall(to number: DialString, from caller: String = "", timeout: Duration? = nil) throws {
        try beginOutgoingCall(number.written, dialling: number, from: caller, timeout: timeout)
    }

    private func beginOutgoingCall(_ number: String, dialling dial: DialString?, from caller: String, timeout: Duration?) throws {
        try signalling.checkCanCall(number, port: port)
        try core.withLock { c in
            guard c.state == .idle || c.state == .waiting else {
                throw CallError.error("cannot place a call on port \(port): the channel is \(c.state.rawValue), not IDLE")
            }
            beginCall(&c)
            c.placedHere = true
            c.details.calledNumber = number
            c.details.callingNumber = caller
            c.line.dialString = dial
            if let reason = c.outOfService {
                finish(&c, .outOfOrder, raw: reason)
                return
            }
            c.state = .callOutgoing
            if let timeout { c.callTimer = setTimer(&c, .call, after: timeout) }
            signalling.placeCall(self, &c)
        }
    }

    private func waitForAnswerOrEnd() async -> CallState {
        await wait(until: nil) { c in c.state == .answered || c.state == .idle ? c.state : nil } timedOut: { $0.state }
    }

    /// Waits until an outgoing call is answered or ends; returns the state.
    @discardableResult
    public func waitForAnswer(timeout: Duration? = nil) async -> CallState {
        await wait(until: timeout) { c in c.state == .answered || c.state == .idle ? c.state : nil } timedOut: { $0.state }
    }

    // MARK: Incoming calls

    /// On an incoming FXO call, waits for its caller ID (sent after the first ring) and
    /// returns its status: RECEIVED (`details.callingNumber` holds the number), UNAVAILABLE,
    /// WITHHELD, or NONE when none came within `timeout` of line time (a line without the
    /// service gives none) or the call stopped ringing.
    @discardableResult
    public func waitForCallerID(timeout: Duration = .seconds(7)) async -> CallerIDStatus {
        await wait(until: timeout) { c in
            c.details.callerIDStatus != .none || (c.state != .callIncoming && c.state != .ringIncoming) ? c.details.callerIDStatus : nil
        } timedOut: { $0.details.callerIDStatus }
    }

    /// Waits for an incoming call (state WAITING meanwhile); returns CALL_INCOMING, or the
    /// state it was in when `timeout` of line time passed.
    @discardableResult
    public func waitForIncomingCall(timeout: Duration? = nil) async throws -> CallState {
        try core.withLock { c in
            if c.state == .idle { c.state = .waiting }
            guard c.state == .waiting || c.state == .callIncoming || c.state == .ringIncoming else {
                throw CallError.error("cannot wait for a call on port \(port): the channel is \(c.state.rawValue)")
            }
        }
        let result = await wait(until: timeout) { c in
            c.state == .callIncoming || c.state == .ringIncoming || c.cardClosed ? c.state : nil
        } timedOut: { $0.state }
        core.withLock { c in if c.state == .waiting { c.state = .idle } }
        return result
    }

    /// Acknowledges an incoming call: CALL_INCOMING becomes RING_INCOMING (on an analog line
    /// the exchange rings the caller; nothing is sent). Returns the state.
    @discardableResult
    public func ring() throws -> CallState {
        try core.withLock { c in
            switch c.state {
            case .callIncoming: c.state = .ringIncoming
            case .ringIncoming: break
            case .idle: throw CallError.hangup("no incoming call on port \(port) to ring")
            default: throw CallError.error("cannot ring on port \(port): the channel is \(c.state.rawValue), not CALL_INCOMING")
            }
            return c.state
        }
    }

    /// Answers an incoming call. Returns the state (ANSWERED).
    @discardableResult
    public func answer() async throws -> CallState {
        try core.withLock { c in
            switch c.state {
            case .callIncoming, .ringIncoming: break
            case .idle, .waiting: throw CallError.hangup("no incoming call on port \(port) to answer")
            default: throw CallError.error("cannot answer on port \(port): the channel is \(c.state.rawValue)")
            }
            c.state = .answering
            signalling.answer(self, &c)
            enterAnswered(&c)
        }
        if let (peer, serial) = core.withLock({ c in c.bridge.localPeer.map { ($0, c.callSerial) } }) {
            directory.channel(peer)?.localPeerAnswered(by: port, serial: serial)
        }
        return state
    }

    /// Refuses an incoming call with `cause` (default REJECTED), as the port's line allows: an
    /// analog FXO line cannot refuse a call, so it is left to ring out unanswered; on an FXS
    /// port the telephone hears busy tone. Returns the state.
    @discardableResult
    public func reject(cause: CallCause = .rejected) throws -> CallState {
        let allowed: Set<CallCause> = [.busy, .noAnswer, .unobtainable, .changed, .outOfOrder, .barred, .rejected, .noChannels, .congestion]
        guard allowed.contains(cause) else { throw CallError.error("\(cause.rawValue) is not a cause a call can be rejected with") }
        // Whoever else waits on this call (a blocked `call`, `answer`, a play) learns now.
        defer { wakeWaiters() }
        return try core.withLock { c in
            switch c.state {
            case .callIncoming, .ringIncoming: break
            case .answered: return release(&c, cause, raw: "rejected here")
            case .idle, .waiting: throw CallError.hangup("no call on port \(port) to reject")
            default: throw CallError.error("cannot reject on port \(port): the channel is \(c.state.rawValue)")
            }
            signalling.reject(self, &c, cause: cause)
            return c.state
        }
    }

    // MARK: Ending

    /// Releases the call with cause NORMAL (safe when idle) and returns the state.
    @discardableResult
    public func hangUp() async -> CallState {
        let connected = core.withLock { c -> (port: Int, serial: Int)? in
            let peer = c.bridge.connectedTo.map { ($0, c.callSerial) }
            if c.state != .idle && c.state != .waiting { _ = release(&c, .normal, raw: "hung up here") }
            return peer
        }
        // The program's own hang-up holds no lock now: the connected call learns at once (the
        // notice `finish` posted then finds nothing left to do).
        if let connected { directory.channel(connected.port)?.peerDisconnected(from: port, serial: connected.serial) }
        // Whoever else waits on this call (a blocked `call`, a play, a digit collection)
        // learns now, not at the next line event, which an on-hook line may never send.
        wakeWaiters()
        return await waitForIdle(timeout: .seconds(60))
    }

    /// Waits until the call is idle, up to `timeout` of line time; returns the state.
    @discardableResult
    public func waitForIdle(timeout: Duration? = nil) async -> CallState {
        await wait(until: timeout) { c in c.state == .idle ? c.state : nil } timedOut: { $0.state }
    }

    /// Waits `seconds` of line time, or until the call goes idle if it is in one; true if
    /// the time passed. (For tests and tools that pace themselves in line time.)
    public func waitForIdleOrTime(_ seconds: Double) async -> Bool {
        await wait(until: .milliseconds(Int(seconds * 1000))) { _ in nil as Bool? } timedOut: { _ in true }
    }

    func cardClosed() {
        core.withLock { c in
            c.cardClosed = true
            if c.isInCall { finish(&c, .outOfOrder, raw: "card closed") }
            resumeAll(&c)
        }
    }

    // MARK: Connecting two calls

    /// Connects this answered call full duplex to `other` (also answered). While connected,
    /// receiving works and transmitting (digits, tones, files) fails. Returns false when
    /// `other` is not answered.
    public func connect(_ other: CallChannel) throws -> Bool {
        guard other !== self else { throw CallError.error("a channel cannot be connected to itself") }
        guard other.core.card === core.card else {
            throw CallError.error("port \(other.port) is on another card: only calls on one card can be connected")
        }
        // Both sides in one step, under the card's lock.
        return try core.card.withChannels(port, other.port) { c, o in
            try requireAnswered(c, "connect")
            if let peer = c.bridge.connectedTo { throw CallError.error("port \(port) is already connected to port \(peer)") }
            if c.media.playingDigits { throw CallError.error("port \(port) is transmitting; stop it before connecting") }
            guard o.state == .answered else { return false }
            if let peer = o.bridge.connectedTo { throw CallError.error("port \(other.port) is already connected to port \(peer)") }
            if o.media.playingDigits { throw CallError.error("port \(other.port) is transmitting; stop it before connecting") }
            c.bridge.connectedTo = other.port
            c.bridge.connectedSerial = o.callSerial
            c.details.connectedPort = other.port
            o.bridge.connectedTo = port
            o.bridge.connectedSerial = c.callSerial
            o.details.connectedPort = port
            send(.listen(to: Int32(other.port)))
            other.send(.listen(to: Int32(port)))
            return true
        }
    }

    /// Ends a connection made with `connect`. Returns true (also when not connected).
    @discardableResult
    public func disconnect() -> Bool {
        let peer = core.withLock { c -> (port: Int, serial: Int)? in
            defer { c.bridge.connectedTo = nil; c.details.connectedPort = nil }
            return c.bridge.connectedTo.map { ($0, c.callSerial) }
        }
        guard let peer else { return true }
        send(.stopListening)
        // No lock is held here, so the peer can be told at once.
        directory.channel(peer.port)?.peerDisconnected(from: port, serial: peer.serial)
        return true
    }

    /// `peer`'s call `serial` ended its connection to this channel. A late notice (this
    /// channel has since been connected again) changes nothing.
    func peerDisconnected(from peer: Int, serial: Int) {
        let stillConnected = core.withLock { c -> Bool in
            guard c.bridge.connectedTo == peer, c.bridge.connectedSerial == serial else { return false }
            c.bridge.connectedTo = nil
            c.details.connectedPort = nil
            return true
        }
        if stillConnected { send(.stopListening) }
    }

    // MARK: Media properties

    /// Plays DTMF digits (reference: dtmf-player.txt).
    public var dtmfPlayer: DTMFPlayer { DTMFPlayer(channel: self) }
    /// Collects the DTMF digits received during a call.
    public var dtmfDetector: DTMFDetector { DTMFDetector(channel: self) }

    // MARK: Rules shared by media functions

    func requireAnswered(_ c: ChannelCore, _ what: String) throws {
        if c.state == .idle { throw CallError.hangup("port \(port) has no call (IDLE): cannot \(what)") }
        // WAITING is not IDLE: the reference's rule gives Error for every other state.
        if c.state == .waiting {
            throw CallError.error("cannot \(what) on port \(port): it is WAITING for an incoming call, not ANSWERED")
        }
        guard c.state == .answered else {
            throw CallError.error("cannot \(what) on port \(port): the call is \(c.state.rawValue), not ANSWERED")
        }
    }

    // MARK: Engine commands

    func send(_ operation: EngineCommand.Operation) {
        // A refusal means the engine is not running or the port is closed.
        _ = trySend(operation)
    }

    /// Submits a command whose refusal ends a job; false when the engine refused it (the
    /// port is closed, or the engine is not running).
    func trySend(_ operation: EngineCommand.Operation) -> Bool {
        (try? engine.submit(EngineCommand(port: port, operation))) != nil
    }

    func setTimer(_ c: inout ChannelCore, _ purpose: TimerPurpose, after duration: Duration) -> Int32 {
        submitTimer(&c, purpose, after: duration).id
    }

    /// Sets a timer; `accepted` is false when the engine refused it (the port is closed), so
    /// it will never fire.
    private func submitTimer(_ c: inout ChannelCore, _ purpose: TimerPurpose, after duration: Duration) -> (id: Int32, accepted: Bool) {
        let id = c.newTimerID(for: purpose)
        return (id, trySend(.setTimer(id: id, lineTime: max(engine.lineTime, c.now) + duration.samples)))
    }

    func cancelTimer(_ id: inout Int32?) {
        if let timer = id { send(.cancelTimer(id: timer)) }
        id = nil
    }

    func enableDetection(digits: Bool, progress: Bool) {
        send(.detectDigits(digits))
        send(.detectCallProgress(progress))
        send(.detectActivity(threshold: Int16(configuration.activityThreshold), startMilliseconds: 40, stopMilliseconds: 300))
    }

    func disableDetection() {
        send(.detectCallerID(false))
        send(.detectFaxTones(false))
        send(.detectDigits(false))
        send(.filterDialTone(false))
        send(.detectCallProgress(false))
        send(.detectActivity(threshold: 0, startMilliseconds: 0, stopMilliseconds: 0))
    }

    // MARK: Waiting

    /// Waits until `check` returns a value or `timeout` of line time passes (then
    /// `timedOut`). The check runs under the card's lock after every change to the channel.
    func wait<T: Sendable>(until timeout: Duration?, _ check: @escaping @Sendable (inout ChannelCore) -> T?,
                           timedOut: @escaping @Sendable (inout ChannelCore) -> T) async -> T {
        let id = waiterCounter.add(1, ordering: .relaxed).newValue
        let task = currentTaskKey()
        return await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let immediate = core.withLock { c -> T? in
                if let ready = check(&c) { return ready }
                let timer: Int32?
                if let timeout {
                    let submitted = submitTimer(&c, .wait, after: timeout)
                    // A port the engine no longer runs has no line time: the wait is over.
                    guard submitted.accepted else { return timedOut(&c) }
                    timer = submitted.id
                } else {
                    timer = nil
                }
                // This task waits: as far as it goes, virtual line time may run.
                c.suspendedTasks.append(task)
                c.waiters.append(Waiter(id: id, task: task) { c in
                    if let ready = check(&c) {
                        if let timer { self.send(.cancelTimer(id: timer)) }
                        return { continuation.resume(returning: ready) }
                    }
                    if let timer, c.firedTimers.contains(timer) {
                        let value = timedOut(&c)
                        return { continuation.resume(returning: value) }
                    }
                    return nil
                })
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Polls every waiter; returns the resumptions to run outside the lock.
    func pollWaiters(_ c: inout ChannelCore) -> [@Sendable () -> Void] {
        var ready: [@Sendable () -> Void] = []
        var remaining: [Waiter] = []
        for waiter in c.waiters {
            if let resume = waiter.poll(&c) {
                ready.append(resume)
                // Working on what it was told, until it waits again: line time stands still.
                c.resumedTasks.append(waiter.task)
            } else {
                remaining.append(waiter)
            }
        }
        c.waiters = remaining
        return ready
    }

    private func resumeAll(_ c: inout ChannelCore) {
        for resume in pollWaiters(&c) { resume() }
    }

    // MARK: Events

    /// Called on the engine's dispatcher thread for each event on this port.
    func handle(_ event: EngineEvent) {
        let resumptions = core.withLock { c -> [@Sendable () -> Void] in
            c.now = event.lineTime
            if case .timer(let id) = event.kind { c.firedTimers.insert(id) }
            apply(event, &c)
            let ready = pollWaiters(&c)
            if case .timer(let id) = event.kind { c.firedTimers.remove(id) }
            return ready
        }
        for resume in resumptions { resume() }
        reportToOwner()
    }
}

extension Duration {
    /// Samples of line time (8 kHz).
    var samples: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 8000 + attoseconds / 125_000_000_000_000
    }
}
