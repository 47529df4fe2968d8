import Foundation
import LinecardDSP
import LinecardEngine
import SimulatedCard

/// Drives one port through a call with engine events, printing each as it arrives.
///
/// In virtual time the dispatcher takes a `ClockHold` for every event and this session
/// releases it only once it has reacted, so line time does not run on while it thinks.
final class CallSession: @unchecked Sendable {
    struct Outcome {
        var succeeded: Bool
        var summary: String
    }

    private struct Delivery: @unchecked Sendable {
        var event: EngineEvent?
        var hold: ClockHold?
    }

    let engine: Engine
    let card: SimulatedCard
    let port: Int
    private let stream: AsyncStream<Delivery>
    private let feed: AsyncStream<Delivery>.Continuation
    private var iterator: AsyncStream<Delivery>.AsyncIterator
    private var heard = ""
    private var nextTimer: Int32 = 0

    init(engine: Engine, card: SimulatedCard, port: Int) {
        self.engine = engine
        self.card = card
        self.port = port
        (stream, feed) = AsyncStream.makeStream(of: Delivery.self)
        iterator = stream.makeAsyncIterator()
    }

    func run(number: String, digits: String) async throws -> Outcome {
        print("Linecard demo: \(card.name), \(engine.configuration.clock == .virtual ? "virtual" : "real") time, \(engine.blockSize)-sample ticks, \(card.exchangeConfiguration.country) tones")
        for p in card.ports { print("  port \(p.index): \(p.name) [\(p.kind.rawValue), \(p.signalling)]") }
        try engine.open(port: port)
        try engine.submit(EngineCommand(port: port, .detectDigits(true)))
        try engine.submit(EngineCommand(port: port, .detectCallProgress(true)))
        try engine.start { [engine, feed] event in
            feed.yield(Delivery(event: event, hold: engine.holdClock()))
        }
        defer { engine.stop() }

        say("going off-hook")
        try submit(.hook(.offHook))
        guard try await wait(seconds: 5, for: "dial tone", { $0 == .callProgressStarted(.dial) }) != nil else {
            return try await finish(false, "no dial tone within 5 s")
        }
        say("dialling \(number)")
        try submit(.sendDigits(DigitString(number)!))
        guard try await wait(seconds: 5, for: "dialling", { $0 == .digitsSent }) != nil else {
            return try await finish(false, "the digits were not sent")
        }
        let progress = try await wait(seconds: 60, for: "an answer or a tone") { kind in
            switch kind {
            case .line(.polarityReversal, _), .callProgressStarted(.busy), .callProgressStarted(.congestion),
                 .callProgressStarted(.specialInformation): true
            default: false
            }
        }
        switch progress?.kind {
        case .line(.polarityReversal, _): say("answered")
        case .callProgressStarted(let tone): return try await finish(false, "the call did not go through: \(tone) tone")
        default: return try await finish(false, "no answer within 60 s")
        }
        _ = try await wait(seconds: 1, for: "the greeting") { _ in false }
        say("sending DTMF \(digits)")
        heard = ""
        try submit(.sendDigits(DigitString(digits)!))
        _ = try await wait(seconds: 2 + 0.2 * Double(digits.count), for: "digits from the far end") { _ in false }
        say("hanging up")
        try submit(.hook(.onHook))
        _ = try await wait(seconds: 1.5, for: "the exchange to release the line") { _ in false }
        return try await finish(!heard.isEmpty, heard.isEmpty ? "no DTMF heard from the far end" : "heard DTMF \(heard) from the far end")
    }

    private func submit(_ operation: EngineCommand.Operation) throws {
        try engine.submit(EngineCommand(port: port, operation))
    }

    private func say(_ text: String) {
        print(String(format: "%9.3f s  port %d  %@", Double(engine.lineTime) / 8000, port, text))
    }

    /// Waits up to `seconds` of line time for an event that `predicate` accepts, printing
    /// everything that happens meanwhile; nil when the time runs out.
    private func wait(seconds: Double, for what: String, _ predicate: (EngineEvent.Kind) -> Bool) async throws -> EngineEvent? {
        nextTimer += 1
        let timer = nextTimer
        try submit(.setTimer(id: timer, lineTime: engine.lineTime + Int64(seconds * 8000)))
        while let delivery = await iterator.next() {
            defer { delivery.hold?.cancel() }
            printFarEnd()
            guard let event = delivery.event else { continue }
            if event.kind == .timer(id: timer) { return nil }
            if case .timer = event.kind { continue }
            describe(event)
            if predicate(event.kind) {
                try submit(.cancelTimer(id: timer))
                return event
            }
        }
        return nil
    }

    private func finish(_ succeeded: Bool, _ summary: String) async throws -> Outcome {
        printFarEnd()
        return Outcome(succeeded: succeeded, summary: (succeeded ? "OK: " : "FAILED: ") + summary)
    }

    private func describe(_ event: EngineEvent) {
        let text: String
        switch event.kind {
        case .line(let kind, let value):
            switch kind {
            case .polarityReversal: text = "line polarity reversed"
            case .loopCurrentDrop: text = "loop current dropped for \(value) ms (far end cleared)"
            default: text = "line signal \(kind)"
            }
        case .callProgressStarted(let tone): text = "hears \(tone) tone"
        case .callProgressEnded: text = "tone stopped"
        case .digitStarted(let d, let level):
            heard.append(Character(Unicode.Scalar(d)))
            text = "hears DTMF \(Character(Unicode.Scalar(d))) at \(level) dBm0"
        case .digitEnded: return
        case .digitsSent: text = "finished sending DTMF"
        case .toneFinished: text = "tone finished"
        case .playbackFinished: text = "playback finished"
        case .beepStarted(let frequency, _): text = "hears a \(frequency) Hz beep"
        case .callerID(let number): text = "caller ID \(number)"
        case .faxTone(let tone): text = "hears a fax machine (\(tone))"
        case .beepEnded(let milliseconds): text = "beep ended after \(milliseconds) ms"
        case .timer, .activityStarted, .activityStopped, .playbackNeedsData, .recordNeedsDraining: return
        }
        print(String(format: "%9.3f s  port %d  %@", event.seconds, Int(event.port), text))
    }

    private func printFarEnd() {
        card.drainNotes { note in
            let text: String
            switch note.kind {
            case .dialled(let d): text = "exchange received digit \(Character(Unicode.Scalar(d)))"
            case .routed(let kind): text = "exchange routed the call to \(kind.rawValue)"
            case .farEndAnswered: text = "far end answered"
            case .farEndHeard(let d): text = "far end heard DTMF \(Character(Unicode.Scalar(d)))"
            case .farEndHungUp: text = "far end hung up"
            case .portHungUp: text = "exchange saw the port hang up"
            default: text = "\(note.kind)"
            }
            print(String(format: "%9.3f s  far end  %@", Double(note.lineTime) / 8000, text))
        }
    }
}
