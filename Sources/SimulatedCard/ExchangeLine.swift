import LinecardDSP
import LinecardEngine

/// An exchange line on one FXO port of the simulated card: dial tone on seizure, digit
/// collection, routing, progress tones, answer and clear supervision, incoming ringing.
final class ExchangeLine {
    enum State { case idle, dialTone, collecting, ringingOut, connected, busy, congestion, unobtainable, cleared, incoming }

    let port: Int
    /// The exchange owns its lines; unowned(unsafe) spares the tick a reference-count check.
    unowned(unsafe) let exchange: Exchange
    /// An ISDN B-channel: the network's call control (over the D-channel) seizes, answers
    /// and releases it, and it reports progress as network signals, not as line signals.
    /// Its tones (ringback) are still played in-band.
    let digital: Bool
    private(set) var state: State = .idle
    private var stateSince: Int64 = 0

    // Hook, as the exchange reads it.
    private(set) var offHook = false
    private var onHookSince: Int64 = -1
    private var flashEndsAt: Int64 = -1

    // Dialling.
    private let digits = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
    private var digitCount = 0
    private var lastDigitAt: Int64 = 0
    private var pulseCount = 0
    private var lastPulseAt: Int64 = 0
    private let collector = SpanDSPDTMFDetector()

    // Tones towards the port.
    private let tone: ToneGenerator
    private var toneOn = false
    private var sitStep = 0
    private var sitStepEnd: Int64 = 0

    // The call.
    // Unmanaged: the exchange owns routes, paths and lines, and borrowing them keeps
    // reference counting out of the tick (binding an unowned optional would retain).
    private var routeRef: Unmanaged<RouteRuntime>?
    private var pathRef: Unmanaged<ImpairmentPath>?
    private var peerRef: Unmanaged<ExchangeLine>?
    private var route: RouteRuntime? { routeRef?.takeUnretainedValue() }
    private var peer: ExchangeLine? { peerRef?.takeUnretainedValue() }
    private var hasPeer: Bool { peerRef != nil }
    private var answerAt: Int64 = -1
    private let party: Party
    private var polarityReversed = false
    private var clearedAt: Int64 = 0
    // A hook-flash transfer: the far end held while the port dials where it goes.
    private var heldRouteRef: Unmanaged<RouteRuntime>?
    private var transferTarget = -1
    private var transferDialled = false

    // Incoming ringing.
    private var ringPhase = 0
    private var ringPhaseEnd: Int64 = 0
    private var ringOn = false
    private var rings = 0
    private var ringLimit = 0
    private var incomingRoute: RouteRuntime?
    // Caller ID after the first ring: when it starts, and whether it has.
    private let callerID: CallerIDGenerator
    private var callerIDAt: Int64 = -1

    /// Whether a scripted party is on the line (read here, so the tick need not load it).
    private var partyActive = false
    /// The current path adds echo, so the port's transmission must be kept.
    private var echoActive = false
    private func setPath(_ path: ImpairmentPath?) {
        pathRef = path.map { Unmanaged.passUnretained($0) }
        echoActive = (path?.echoDelaySamples ?? 0) > 0
    }
    /// Hook timing that needs watching: a break, pulses or a flash in progress.
    private var hookTimingPending: Bool { onHookSince >= 0 || pulseCount > 0 || flashEndsAt >= 0 }

    // Audio the port sent last tick (a slot in the card-wide matrix), and its history for echo.
    let lastTransmit: UnsafeMutablePointer<Int16>
    private let history: DelayLine

    init(port: Int, exchange: Exchange, lastTransmit: UnsafeMutablePointer<Int16>, digital: Bool = false) {
        self.port = port
        self.exchange = exchange
        self.digital = digital
        self.lastTransmit = lastTransmit
        history = DelayLine(storage: exchange.histories + port * DelayLine.capacity)
        tone = ToneGenerator(exchange.silence)
        party = Party(silence: exchange.silence)
        callerID = CallerIDGenerator(exchange.configuration.country == .us ? .bellcore : .etsi)
        digits.initialize(repeating: 0, count: 32)
    }

    deinit {
        digits.deallocate()
    }

    private func enter(_ newState: State) {
        state = newState
        stateSince = exchange.now
    }

    private func play(_ descriptor: ToneDescriptor?) {
        if let descriptor {
            tone.start(descriptor)
            toneOn = true
        } else {
            toneOn = false
        }
    }

    // MARK: Hook

    func setHook(offHook newOffHook: Bool) {
        let now = exchange.now
        guard newOffHook != offHook else { return }
        offHook = newOffHook
        if !newOffHook {
            switch state {
            case .idle, .incoming: break
            default: onHookSince = now
            }
            return
        }
        if onHookSince >= 0 {
            let broken = now - onHookSince
            onHookSince = -1
            if broken <= exchange.pulseBreakMaximum, state == .dialTone || state == .collecting {
                pulseCount += 1
                lastPulseAt = now
                if state == .dialTone { play(nil); enter(.collecting); lastDigitAt = now }
            } else {
                exchange.note(port, .hookFlash)
                if state == .connected, partyActive, let r = routeRef { holdForTransfer(r) }
            }
            return
        }
        switch state {
        case .idle:
            enter(.dialTone)
            digitCount = 0
            pulseCount = 0
            collector.reset()
            play(exchange.tones[.dial])
        case .incoming:
            if ringOn { exchange.post(port, .ringEnd) }
            ringOn = false
            if let caller = peer {
                connect(path: exchange.portPath)
                caller.farEndAnswered(path: exchange.portPath)
            } else if let caller = incomingRoute {
                connect(path: caller.path)
                party.answer(caller, now: now)
                partyActive = party.isActive
            }
        default: break
        }
    }

    /// A hook flash from the port: a break the exchange reads by its length.
    func flash() {
        guard offHook else { return }
        setHook(offHook: false)
        flashEndsAt = exchange.now + 300 * 8
    }

    // MARK: Calls arriving

    /// A scripted caller rings this line.
    func ring(from caller: RouteRuntime) -> Bool {
        guard state == .idle, !offHook else { return false }
        incomingRoute = caller
        peerRef = nil
        startRinging(limit: max(1, caller.rings) * 4)
        return true
    }

    /// Another port of the card rings this line.
    func ring(fromPort caller: ExchangeLine) -> Bool {
        guard state == .idle, !offHook else { return false }
        incomingRoute = nil
        peerRef = Unmanaged.passUnretained(caller)
        startRinging(limit: Int.max)
        return true
    }

    private func startRinging(limit: Int) {
        enter(.incoming)
        ringPhase = 0
        ringOn = true
        rings = 1
        callerIDAt = -1
        ringLimit = limit
        ringPhaseEnd = exchange.now + exchange.ringCadence[0]
        if digital {
            // The network offers the call by SETUP; the caller's number travels with it: a
            // port of the card calling says which (its number is 100 + port), a scripted
            // caller's is kept with the card (`offeredCall`).
            exchange.signal(port, .offering, cause: peerRef.map { Int32($0.takeUnretainedValue().port) } ?? -1)
        } else {
            exchange.post(port, .ringBegin)
        }
    }

    private func stopRinging(callerGaveUp: Bool) {
        if ringOn, !digital { exchange.post(port, .ringEnd) }
        ringOn = false
        incomingRoute = nil
        peerRef = nil
        enter(.idle)
        if callerGaveUp {
            exchange.note(port, .callerGaveUp)
            if digital { exchange.signal(port, .cleared, cause: 16) }
        }
    }

    // MARK: A B-channel, driven by the network's call control

    /// The network seized this B-channel for an outgoing call to `number` (SETUP received,
    /// en bloc).
    func seize(_ number: DigitString) {
        guard digital, state == .idle else { return }
        offHook = true
        digitCount = 0
        collector.reset()
        enter(.collecting)
        number.withCharacters { pointer, count in
            var i = 0
            while i < count {
                exchange.note(port, .dialled(pointer[i]))
                if digitCount < 32 {
                    digits[digitCount] = pointer[i]
                    digitCount += 1
                }
                i += 1
            }
        }
        lastDigitAt = exchange.now
        routeIfComplete(final: true)
    }

    /// The terminal answered the call the network offered (CONNECT received).
    func answerOffered() {
        guard digital, state == .incoming else { return }
        setHook(offHook: true)
    }

    /// The terminal's side of the call is over (RELEASE or RELEASE COMPLETE received).
    func releaseByNetwork() {
        guard digital else { return }
        offHook = false
        onHookSince = -1
        switch state {
        case .idle: break
        case .incoming:
            // Refused here: a B-channel of the card that called hears it refused.
            if let caller = peer, caller.digital, caller.state == .ringingOut {
                caller.peerRef = nil
                caller.refuse(cause: 21)
            }
            stopRinging(callerGaveUp: false)
        default: hangUp()
        }
    }

    // MARK: Answer and clear

    private func connect(path: ImpairmentPath) {
        setPath(path)
        history.clear()
        enter(.connected)
        play(nil)
    }

    /// The far end of this line's outgoing call answered.
    func farEndAnswered(path: ImpairmentPath) {
        connect(path: path)
        exchange.note(port, .farEndAnswered)
        if digital {
            exchange.signal(port, .answered)
        } else if exchange.configuration.answerByPolarityReversal {
            polarityReversed = true
            exchange.post(port, .polarityReversal)
        }
    }

    /// The far end hung up while this line is still off-hook.
    func farEndCleared() {
        party.end()
        partyActive = false
        peerRef = nil
        clearedAt = exchange.now
        enter(.cleared)
        play(nil)
        exchange.note(port, .farEndHungUp)
        if digital {
            exchange.signal(port, .cleared, cause: 16)
            return
        }
        if polarityReversed {
            polarityReversed = false
            exchange.post(port, .polarityReversal)
        }
        let drop = exchange.configuration.clearLoopCurrentDropMilliseconds
        if drop > 0 { exchange.post(port, .loopCurrentDrop, value: Int32(drop)) }
    }

    /// The port hung up: release whatever it was doing.
    private func hangUp() {
        exchange.note(port, .portHungUp)
        if let held = heldRouteRef {
            heldRouteRef = nil
            if transferDialled {
                let target = transferTarget
                let rung = target >= 0 && target < exchange.lines.count && exchange.lines[target].map { $0 !== self && $0.ring(from: held.takeUnretainedValue()) } == true
                exchange.note(port, .transferred(toPort: rung ? Int32(target) : -1))
            }
        }
        if let other = peer {
            switch other.state {
            case .incoming: other.stopRinging(callerGaveUp: true)
            case .connected: other.farEndCleared()
            default: break
            }
        }
        party.end()
        partyActive = false
        peerRef = nil
        routeRef = nil
        setPath(nil)
        answerAt = -1
        play(nil)
        if polarityReversed {
            polarityReversed = false
            exchange.post(port, .polarityReversal)
        }
        enter(.idle)
    }

    // MARK: Dialling

    private func collect(_ digit: UInt8) {
        if state == .dialTone {
            play(nil)
            enter(.collecting)
        }
        guard state == .collecting else { return }
        exchange.note(port, .dialled(digit))
        if digitCount < 32 {
            digits[digitCount] = digit
            digitCount += 1
        }
        lastDigitAt = exchange.now
        routeIfComplete(final: false)
    }

    /// A flash during a call with a far end: hold it and give dial tone for the number it
    /// is to be transferred to (completed when the port hangs up).
    private func holdForTransfer(_ r: Unmanaged<RouteRuntime>) {
        party.end()
        partyActive = false
        heldRouteRef = r
        routeRef = nil
        transferTarget = -1
        transferDialled = false
        setPath(nil)
        enter(.dialTone)
        digitCount = 0
        pulseCount = 0
        collector.reset()
        play(exchange.tones[.dial])
    }

    private func routeIfComplete(final: Bool) {
        if heldRouteRef != nil {
            switch exchange.match(digits, count: digitCount, final: final) {
            case .incomplete: return
            case .port(let p): transferTarget = p
            default: transferTarget = -1
            }
            transferDialled = true
            enter(.ringingOut)
            play(exchange.tones[.ringback])
            return
        }
        switch exchange.match(digits, count: digitCount, final: final) {
        case .incomplete: return
        case .unknown: route(unobtainable: true)
        case .route(let r): route(r)
        case .port(let p): route(toPort: p)
        }
    }

    private func route(unobtainable: Bool) {
        exchange.note(port, .routed(.unobtainable))
        setPath(nil)
        if digital { return refuse(cause: 1) }
        enter(.unobtainable)
        startSpecialInformation()
    }

    /// A B-channel's call the network refuses: it clears with `cause` (no tone).
    private func refuse(cause: Int32) {
        enter(.cleared)
        play(nil)
        clearedAt = exchange.now
        exchange.signal(port, .cleared, cause: cause)
    }

    private func startSpecialInformation() {
        sitStep = 0
        play(exchange.specialInformation[0].0)
        sitStepEnd = exchange.now + exchange.specialInformation[0].1
    }

    private func route(_ r: RouteRuntime) {
        exchange.note(port, .routed(r.kind))
        routeRef = Unmanaged.passUnretained(r)
        setPath(r.path)
        history.clear()
        if digital {
            switch r.kind {
            case .faxMachine where r.faxInUse, .busy: return refuse(cause: 17)
            case .congestion: return refuse(cause: 34)
            case .unobtainable, .port: return refuse(cause: 1)
            default: exchange.signal(port, .alerting)
            }
        }
        switch r.kind {
        case .faxMachine where r.faxInUse:
            enter(.busy)
            play(exchange.tones[.busy])
        case .person, .answeringMachine, .faxMachine, .noAnswer:
            enter(.ringingOut)
            play(exchange.tones[.ringback])
            answerAt = r.kind == .noAnswer ? -1
                : exchange.now + Int64(max(1, r.rings)) * exchange.ringbackCycle - exchange.ringbackSilence / 2
        case .busy:
            enter(.busy)
            play(exchange.tones[.busy])
        case .congestion:
            enter(.congestion)
            play(exchange.tones[.congestion])
        case .unobtainable:
            enter(.unobtainable)
            startSpecialInformation()
        case .port:
            break
        }
    }

    private func route(toPort target: Int) {
        exchange.note(port, .routed(.port))
        guard target < exchange.lines.count, let line = exchange.lines[target], line !== self, line.ring(fromPort: self) else {
            if digital { return refuse(cause: 17) }
            setPath(exchange.portPath)
            enter(.busy)
            play(exchange.tones[.busy])
            return
        }
        peerRef = Unmanaged.passUnretained(line)
        setPath(exchange.portPath)
        answerAt = -1
        enter(.ringingOut)
        play(exchange.tones[.ringback])
        if digital { exchange.signal(port, .alerting) }
    }

    // MARK: Per tick

    /// What the port hears this block.
    func produce(into samples: UnsafeMutablePointer<Int16>, count: Int) {
        let now = exchange.now
        if state != .connected || hookTimingPending { advanceTimers(now: now) }
        switch state {
        case .connected:
            if let peerRef {
                peerRef._withUnsafeGuaranteedRef { copySamples(from: $0.lastTransmit, to: samples, count: count) }
            } else if !party.speak(into: samples, count: count, now: now) {
                farEndCleared()
                samples.update(repeating: 0, count: count)
            }
            if let code = party.faxResult {
                party.faxResult = nil
                exchange.note(port, .faxFinished(code))
            }
        case .cleared:
            samples.update(repeating: 0, count: count)
            if !digital, !toneOn, now - clearedAt >= exchange.clearToneDelay, let clearTone = exchange.configuration.clearTone {
                play(exchange.tones[clearTone])
            }
            if toneOn { fillTone(samples, count: count) }
        case .incoming:
            samples.update(repeating: 0, count: count)
            if callerIDAt >= 0, now >= callerIDAt, let route = incomingRoute {
                if !callerID.active { callerID.start(route.callerID) }
                _ = callerID.generate(into: samples, count: count)
                if !callerID.active { callerIDAt = -1 }
            }
        default:
            samples.update(repeating: 0, count: count)
            if toneOn { fillTone(samples, count: count) }
        }
        if let pathRef, state != .idle, state != .incoming {
            pathRef._withUnsafeGuaranteedRef { path in
                if !path.isTransparent { path.towardsCard(samples, count: count, echoHistory: history) }
            }
        }
    }

    @inline(__always)
    private func fillTone(_ samples: UnsafeMutablePointer<Int16>, count: Int) {
        let n = tone.generate(into: samples, count: count)
        if n < count { (samples + n).update(repeating: 0, count: count - n) }
    }

    /// What the port sent this block.
    func consume(_ samples: UnsafePointer<Int16>, count: Int) {
        copySamples(from: samples, to: lastTransmit, count: count)
        if echoActive { history.append(samples, count: count) }
        switch state {
        case .dialTone, .collecting:
            collector.process(samples, count: count) { report in
                if report.digit != 0 { collect(report.digit) }
            }
        case .connected where partyActive:
            pathRef?._withUnsafeGuaranteedRef { $0.fromCard(lastTransmit, count: count) }
            party.hear(lastTransmit, count: count, now: exchange.now) { digit in
                exchange.note(port, .farEndHeard(digit))
            }
        default: break
        }
    }

    private func advanceTimers(now: Int64) {
        if state == .connected, !hookTimingPending { return }
        if flashEndsAt >= 0, now >= flashEndsAt {
            flashEndsAt = -1
            setHook(offHook: true)
        }
        if onHookSince >= 0, now - onHookSince > exchange.flashMaximum {
            onHookSince = -1
            hangUp()
            return
        }
        if pulseCount > 0, offHook, onHookSince < 0, now - lastPulseAt >= exchange.interPulseGap {
            let digit = UInt8(48 + pulseCount % 10)
            pulseCount = 0
            collect(digit)
        }
        switch state {
        case .dialTone:
            if now - stateSince > exchange.dialToneTimeout {
                enter(.congestion)
                play(exchange.tones[.congestion])
            }
        case .collecting:
            if pulseCount == 0, now - lastDigitAt > exchange.interdigitTimeout { routeIfComplete(final: true) }
        case .ringingOut:
            if answerAt >= 0, now >= answerAt, let r = route {
                answerAt = -1
                farEndAnswered(path: r.path)
                party.answer(r, now: now)
                partyActive = party.isActive
            } else if now - stateSince > exchange.ringingTimeout {
                if let other = peer, other.state == .incoming { other.stopRinging(callerGaveUp: true) }
                peerRef = nil
                if digital { return refuse(cause: 19) }
                enter(.congestion)
                play(exchange.tones[.congestion])
            }
        case .unobtainable:
            if now >= sitStepEnd {
                sitStep += 1
                let steps = exchange.specialInformation
                if sitStep < steps.count {
                    play(steps[sitStep].0)
                    sitStepEnd = now + steps[sitStep].1
                } else if sitStep == steps.count {
                    play(nil)
                    sitStepEnd = now + exchange.specialInformationPause
                } else {
                    startSpecialInformation()
                }
            }
        case .incoming:
            if now >= ringPhaseEnd {
                let cadence = exchange.ringCadence
                ringPhase = (ringPhase + 1) % cadence.count
                ringPhaseEnd = now + cadence[ringPhase]
                if ringPhase % 2 == 0 {
                    if ringPhase == 0 { rings += 1 }
                    if rings > ringLimit {
                        stopRinging(callerGaveUp: true)
                        return
                    }
                    ringOn = true
                    if !digital { exchange.post(port, .ringBegin) }
                } else {
                    ringOn = false
                    if !digital { exchange.post(port, .ringEnd) }
                    // In the long pause after the first ring: 500 ms later, as Bellcore asks.
                    if !digital, rings == 1, ringPhase == cadence.count - 1, let route = incomingRoute, !route.callerID.isEmpty {
                        callerIDAt = now + 500 * 8
                    }
                }
            }
        default: break
        }
    }
}

/// Copies a block; for the short blocks of 1 ms ticks a loop beats a call to memmove.
@inline(__always)
func copySamples(from source: UnsafePointer<Int16>, to destination: UnsafeMutablePointer<Int16>, count: Int) {
    if count <= 32 {
        var i = 0
        while i < count {
            destination[i] = source[i]
            i += 1
        }
    } else {
        destination.update(from: source, count: count)
    }
}
