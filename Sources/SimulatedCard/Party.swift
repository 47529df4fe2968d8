import LinecardDSP
import LinecardEngine

/// A scripted person, answering machine or fax machine, live on one line during a call.
final class Party {
    enum Role { case none, person, machine, fax }

    private(set) var role: Role = .none
    private var route: RouteRuntime?
    private let keypad = DTMFGenerator()
    private let ear = SpanDSPDTMFDetector()
    private let beep: ToneGenerator
    private var keypadBusy = false
    private var answeredAt: Int64 = 0
    private var greetingPosition = 0
    private var digitsAt: Int64 = -1
    private var hangUpAt: Int64 = -1
    /// When a fax machine goes dead (-1: never).
    private var silentAt: Int64 = -1
    private var beepStart: Int64 = 0
    private var beepEnd: Int64 = 0
    private var echoes = false
    private var echoDigit: UInt8 = 0
    private var echoAt: Int64 = -1
    private var lastHeard: UInt8 = 0
    /// A fax machine's completion code, once, for the line to note.
    var faxResult: Int32?

    init(silence: ToneDescriptor) {
        beep = ToneGenerator(silence)
    }

    var isActive: Bool { role != .none }

    /// Answers with `route`'s script at `now`.
    func answer(_ route: RouteRuntime, now: Int64) {
        self.route = route
        answeredAt = now
        greetingPosition = 0
        keypad.reset()
        ear.reset()
        keypadBusy = false
        echoAt = -1
        switch route.farEnd {
        case .person(let p):
            role = .person
            let greetingLength = Int64(route.greeting.count)
            digitsAt = route.personDigits.count > 0 ? now + greetingLength + Int64(p.digitDelayMilliseconds * 8) : -1
            hangUpAt = p.hangsUpAfterMilliseconds.map { now + Int64($0 * 8) } ?? -1
            echoes = p.echoesDigits
        case .answeringMachine(let m):
            role = .machine
            beepStart = now + Int64(m.greetingMilliseconds * 8)
            beepEnd = beepStart + Int64(m.beepMilliseconds * 8)
            hangUpAt = beepEnd + Int64(m.recordMilliseconds * 8)
            digitsAt = -1
            echoes = false
            if let descriptor = route.beep { beep.start(descriptor) }
        case .faxMachine(let m):
            guard let fax = route.fax else { role = .none; return }
            role = .fax
            route.faxInUse = true
            fax.restart(calling: route.calling)
            fax.setIdentity(m.identity)
            if let file = route.faxReceiveFile { fax.setReceiveFile(file) }
            if let file = m.sendFile { fax.setTransmitFile(file) }
            silentAt = m.fallsSilentAfterMilliseconds.map { now + Int64($0 * 8) } ?? -1
            digitsAt = -1
            hangUpAt = -1
            echoes = false
        default:
            role = .none
        }
    }

    func end() {
        if role == .fax { route?.faxInUse = false }
        role = .none
        route = nil
    }

    /// The party's audio for this block; returns false when it hangs up.
    func speak(into samples: UnsafeMutablePointer<Int16>, count: Int, now: Int64) -> Bool {
        guard let route else { return false }
        samples.update(repeating: 0, count: count)
        if hangUpAt >= 0, now >= hangUpAt { return false }
        // Greeting (a person's hello, or the machine's message).
        if greetingPosition < route.greeting.count {
            let n = min(count, route.greeting.count - greetingPosition)
            route.greeting.withUnsafeBufferPointer { samples.update(from: $0.baseAddress! + greetingPosition, count: n) }
            greetingPosition += n
        }
        if role == .fax, let fax = route.fax {
            if silentAt >= 0, now >= silentAt { return true }
            // T.30 over (its DCN sent): the machine hangs up half a second later.
            if let code = fax.completion, hangUpAt < 0 {
                hangUpAt = now + 4000
                faxResult = code
            }
            fax.transmit(into: samples, count: count)
            return true
        }
        if role == .machine {
            if now + Int64(count) > beepStart, now < beepEnd {
                _ = beep.generate(into: samples, count: count)
            }
            return true
        }
        if digitsAt >= 0, now >= digitsAt {
            route.personDigits.withCharacters { _ = keypad.enqueue($0, count: $1) }
            keypadBusy = true
            digitsAt = -1
        }
        if echoAt >= 0, now >= echoAt {
            var digit = echoDigit
            _ = keypad.enqueue(&digit, count: 1)
            keypadBusy = true
            echoAt = -1
        }
        if keypadBusy {
            let n = keypad.generate(into: samples, count: count)
            if n < count { keypadBusy = false }
        }
        return true
    }

    /// The party hears the line; returns a digit it recognised (0 for none).
    func hear(_ samples: UnsafePointer<Int16>, count: Int, now: Int64, onDigit: (UInt8) -> Void) {
        if role == .fax {
            if silentAt >= 0, now >= silentAt { return }
            route?.fax?.receive(samples, count: count)
            return
        }
        guard role == .person || role == .machine else { return }
        ear.process(samples, count: count) { report in
            if report.digit != 0 {
                lastHeard = report.digit
                onDigit(report.digit)
            } else if echoes, lastHeard != 0 {
                echoDigit = lastHeard
                echoAt = now + 800  // a tenth of a second after the digit ended
            }
        }
    }
}
