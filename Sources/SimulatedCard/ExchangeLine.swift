import LinecardDSP
import LinecardEngine

/// An exchange line on one FXO port of the simulated card: dial tone on seizure, digit
/// collection, routing, progress tones, answer and clear supervision, incoming ringing.
final class ExchangeLine {
    enum State { case idle, dialTone, collecting, ringingOut, connected, busy, congestion, unobtainable, cleared, incoming }

    let port: Int
    unowned let exchange: Exchange
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
    private let collector = DTMFDetector()

    // Tones towards the port.
    private let tone: ToneGenerator
    private var toneOn = false
    private var sitStep = 0
    private var sitStepEnd: Int64 = 0

    // The call.
    private var route: RouteRuntime?
    private var path: ImpairmentPath?
    private unowned(unsafe) var peer: ExchangeLine?
    private var hasPeer = false
    private var answerAt: Int64 = -1
    private let party: Party
    private var polarityReversed = false
    private var clearedAt: Int64 = 0

    // Incoming ringing.
    private var ringPhase = 0
    private var ringPhaseEnd: Int64 = 0
    private var ringOn = false
    private var rings = 0
    private var ringLimit = 0
    private var incomingRoute: RouteRuntime?

    // Audio the port sent last tick, and its history for echo.
    let lastTransmit = UnsafeMutablePointer<Int16>.allocate(capacity: 160)
    private let history = DelayLine()

    init(port: Int, exchange: Exchange) {
        self.port = port
        self.exchange = exchange
        tone = ToneGenerator(exchange.silence)
        party = Party(silence: exchange.silence)
        lastTransmit.initialize(repeating: 0, count: 160)
        digits.initialize(repeating: 0, count: 32)
    }

    deinit {
        lastTransmit.deallocate()
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
            if hasPeer, let caller = peer {
                connect(path: exchange.portPath)
                caller.farEndAnswered(path: exchange.portPath)
            } else if let caller = incomingRoute {
                connect(path: caller.path)
                party.answer(caller, now: now)
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
        hasPeer = false
        peer = nil
        startRinging(limit: max(1, caller.rings) * 4)
        return true
    }

    /// Another port of the card rings this line.
    func ring(fromPort caller: ExchangeLine) -> Bool {
        guard state == .idle, !offHook else { return false }
        incomingRoute = nil
        peer = caller
        hasPeer = true
        startRinging(limit: Int.max)
        return true
    }

    private func startRinging(limit: Int) {
        enter(.incoming)
        ringPhase = 0
        ringOn = true
        rings = 1
        ringLimit = limit
        ringPhaseEnd = exchange.now + exchange.ringCadence[0]
        exchange.post(port, .ringBegin)
    }

    private func stopRinging(callerGaveUp: Bool) {
        if ringOn { exchange.post(port, .ringEnd) }
        ringOn = false
        incomingRoute = nil
        peer = nil
        hasPeer = false
        enter(.idle)
        if callerGaveUp { exchange.note(port, .callerGaveUp) }
    }

    // MARK: Answer and clear

    private func connect(path: ImpairmentPath) {
        self.path = path
        history.clear()
        enter(.connected)
        play(nil)
    }

    /// The far end of this line's outgoing call answered.
    func farEndAnswered(path: ImpairmentPath) {
        connect(path: path)
        exchange.note(port, .farEndAnswered)
        if exchange.configuration.answerByPolarityReversal {
            polarityReversed = true
            exchange.post(port, .polarityReversal)
        }
    }

    /// The far end hung up while this line is still off-hook.
    func farEndCleared() {
        party.end()
        peer = nil
        hasPeer = false
        clearedAt = exchange.now
        enter(.cleared)
        play(nil)
        exchange.note(port, .farEndHungUp)
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
        if hasPeer, let other = peer {
            switch other.state {
            case .incoming: other.stopRinging(callerGaveUp: true)
            case .connected: other.farEndCleared()
            default: break
            }
        }
        party.end()
        peer = nil
        hasPeer = false
        route = nil
        path = nil
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

    private func routeIfComplete(final: Bool) {
        switch exchange.match(digits, count: digitCount, final: final) {
        case .incomplete: return
        case .unknown: route(unobtainable: true)
        case .route(let r): route(r)
        case .port(let p): route(toPort: p)
        }
    }

    private func route(unobtainable: Bool) {
        exchange.note(port, .routed(.unobtainable))
        path = nil
        enter(.unobtainable)
        startSpecialInformation()
    }

    private func startSpecialInformation() {
        sitStep = 0
        play(exchange.specialInformation[0].0)
        sitStepEnd = exchange.now + exchange.specialInformation[0].1
    }

    private func route(_ r: RouteRuntime) {
        exchange.note(port, .routed(r.kind))
        route = r
        path = r.path
        history.clear()
        switch r.kind {
        case .person, .answeringMachine, .noAnswer:
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
            path = exchange.portPath
            enter(.busy)
            play(exchange.tones[.busy])
            return
        }
        peer = line
        hasPeer = true
        path = exchange.portPath
        answerAt = -1
        enter(.ringingOut)
        play(exchange.tones[.ringback])
    }

    // MARK: Per tick

    /// What the port hears this block.
    func produce(into samples: UnsafeMutablePointer<Int16>, count: Int) {
        let now = exchange.now
        advanceTimers(now: now)
        switch state {
        case .connected:
            if hasPeer, let other = peer {
                samples.update(from: other.lastTransmit, count: count)
            } else if !party.speak(into: samples, count: count, now: now) {
                farEndCleared()
                samples.update(repeating: 0, count: count)
            }
        case .cleared:
            samples.update(repeating: 0, count: count)
            if !toneOn, now - clearedAt >= exchange.clearToneDelay, let clearTone = exchange.configuration.clearTone {
                play(exchange.tones[clearTone])
            }
            if toneOn { fillTone(samples, count: count) }
        default:
            samples.update(repeating: 0, count: count)
            if toneOn { fillTone(samples, count: count) }
        }
        if let path, state != .idle, state != .incoming {
            path.towardsCard(samples, count: count, echoHistory: history)
        }
    }

    @inline(__always)
    private func fillTone(_ samples: UnsafeMutablePointer<Int16>, count: Int) {
        let n = tone.generate(into: samples, count: count)
        if n < count { (samples + n).update(repeating: 0, count: count - n) }
    }

    /// What the port sent this block.
    func consume(_ samples: UnsafePointer<Int16>, count: Int) {
        lastTransmit.update(from: samples, count: count)
        if path != nil { history.append(samples, count: count) }
        switch state {
        case .dialTone, .collecting:
            collector.process(samples, count: count) { report in
                if report.digit != 0 { collect(report.digit) }
            }
        case .connected where party.isActive:
            path?.fromCard(lastTransmit, count: count)
            party.hear(lastTransmit, count: count, now: exchange.now) { digit in
                exchange.note(port, .farEndHeard(digit))
            }
        default: break
        }
    }

    private func advanceTimers(now: Int64) {
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
            } else if now - stateSince > exchange.ringingTimeout {
                if hasPeer, let other = peer, other.state == .incoming { other.stopRinging(callerGaveUp: true) }
                peer = nil
                hasPeer = false
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
                    exchange.post(port, .ringBegin)
                } else {
                    ringOn = false
                    exchange.post(port, .ringEnd)
                }
            }
        default: break
        }
    }
}
