import LinecardDSP
import LinecardEngine

/// The telephone on an FXS port of the simulated card: it rings when the port rings it,
/// goes off-hook, dials on its keypad, and listens to what the port sends.
final class Telephone {
    let port: Int
    /// The exchange owns its lines; unowned(unsafe) spares the tick a reference-count check.
    unowned(unsafe) let exchange: Exchange
    private(set) var offHook = false

    // Ringing, commanded by the port.
    private var ringing = false
    private var ringPhase = 0
    private var ringPhaseEnd: Int64 = 0
    private var rings = 0
    var answerAfterRings = -1
    var greetsOnAnswer = true

    // Keypad and voice.
    private let keypad = DTMFGenerator()
    private var keypadBusy = false
    private var pendingDigits: DigitString?
    private var dialAt: Int64 = 0
    private let voice = SyntheticVoice.hello
    private var voicePosition = Int.max

    // The ear.
    private let ear = SpanDSPDTMFDetector(filterDialTone: true)
    private let earTones: SupervisoryToneDetector

    init(port: Int, exchange: Exchange) {
        self.port = port
        self.exchange = exchange
        earTones = SupervisoryToneDetector(exchange.plan.makeDetectionSet())
    }

    // MARK: From the port

    func startRinging() {
        guard !offHook, !ringing else { return }
        ringing = true
        ringPhase = 0
        rings = 1
        ringPhaseEnd = exchange.now + exchange.ringCadence[0]
        exchange.note(port, .telephoneRang(1))
        answerIfDue()
    }

    func stopRinging() { ringing = false }

    private func answerIfDue() {
        if answerAfterRings > 0, rings >= answerAfterRings { lift(greeting: greetsOnAnswer) }
    }

    // MARK: By the person holding it

    func lift(greeting: Bool = false) {
        guard !offHook else { return }
        offHook = true
        ringing = false
        ear.reset()
        earTones.reset()
        voicePosition = greeting ? 0 : Int.max
        exchange.post(port, .offHook)
        exchange.note(port, .telephoneOffHook)
        if pendingDigits != nil { dialAt = exchange.now + Self.dialDelay }
    }

    func hangUp() {
        guard offHook else { return }
        offHook = false
        keypad.reset()
        keypadBusy = false
        pendingDigits = nil
        exchange.post(port, .onHook)
        exchange.note(port, .telephoneOnHook)
    }

    func flash() {
        guard offHook else { return }
        exchange.post(port, .flash)
    }

    /// A person listens for dial tone for a second and a half before dialling.
    static let dialDelay: Int64 = 1500 * 8

    /// Dials `digits`: after listening to dial tone when just lifted, or now if off-hook.
    func dial(_ digits: DigitString) {
        pendingDigits = digits
        dialAt = exchange.now + (offHook ? 0 : Self.dialDelay)
    }

    // MARK: Per tick

    func produce(into samples: UnsafeMutablePointer<Int16>, count: Int) {
        let now = exchange.now
        samples.update(repeating: 0, count: count)
        if ringing, now >= ringPhaseEnd {
            let cadence = exchange.ringCadence
            ringPhase = (ringPhase + 1) % cadence.count
            ringPhaseEnd = now + cadence[ringPhase]
            if ringPhase == 0 {
                rings += 1
                exchange.note(port, .telephoneRang(Int32(rings)))
                answerIfDue()
            }
        }
        guard offHook else { return }
        if voicePosition < voice.count {
            let n = min(count, voice.count - voicePosition)
            voice.withUnsafeBufferPointer { samples.update(from: $0.baseAddress! + voicePosition, count: n) }
            voicePosition += n
        }
        if let digits = pendingDigits, now >= dialAt {
            digits.withCharacters { _ = keypad.enqueue($0, count: $1) }
            pendingDigits = nil
            keypadBusy = true
        }
        if keypadBusy {
            let n = keypad.generate(into: samples, count: count)
            if n < count { keypadBusy = false }
        }
    }

    func consume(_ samples: UnsafePointer<Int16>, count: Int) {
        guard offHook else { return }
        ear.process(samples, count: count) { report in
            if report.digit != 0 { exchange.note(port, .telephoneHeard(report.digit)) }
        }
        earTones.process(samples, count: count) { code in
            if code >= 0, code < TonePlan.detectionOrder.count {
                exchange.note(port, .telephoneHeardTone(TonePlan.detectionOrder[code]))
            }
        }
    }
}
