import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

/// A simulated card and an engine stepped on the test's thread in virtual time: everything
/// the test sees comes from the engine's events (what the port heard and the line signals)
/// and, for checking the far side, from the card's notes.
final class Harness {
    let card: SimulatedCard
    let engine: Engine
    private(set) var events: [EngineEvent] = []
    private(set) var notes: [ExchangeNote] = []

    init(exchange: ExchangeConfiguration = ExchangeConfiguration(), fxo: Int = 4, fxs: Int = 2, blockSize: Int = 160,
         tonePlan: TonePlan? = nil, ringCapacity: Int = 16_384) throws {
        card = SimulatedCard(fxoPorts: fxo, fxsPorts: fxs, exchange: exchange)
        engine = try Engine(card: card, configuration: EngineConfiguration(
            blockSize: blockSize, clock: .virtual, tonePlan: tonePlan ?? TonePlan.for(exchange.country),
            ringCapacity: ringCapacity))
    }

    /// Opens a port with digit and call-progress detection on.
    func open(_ port: Int, meter: Bool = false) throws {
        try engine.open(port: port)
        try engine.submit(EngineCommand(port: port, .detectDigits(true)))
        try engine.submit(EngineCommand(port: port, .detectCallProgress(true)))
        if meter { try engine.submit(EngineCommand(port: port, .meterLevels(true))) }
    }

    func send(_ port: Int, _ operation: EngineCommand.Operation) throws {
        try engine.submit(EngineCommand(port: port, operation))
    }

    /// Runs until an event on `port` matches, failing after `seconds` of line time.
    @discardableResult
    func waitFor(_ port: Int, within seconds: Double, _ what: String = "",
               file: StaticString = #filePath, line: UInt = #line,
               _ predicate: (EngineEvent.Kind) -> Bool) throws -> EngineEvent {
        let found = try engine.run(forAtMost: Int64(seconds * 8000), onEvent: record) { event in
            Int(event.port) == port && predicate(event.kind)
        }
        collectNotes()
        guard let found else {
            XCTFail("no \(what) on port \(port) within \(seconds) s of line time; events: \(events.suffix(8))", file: file, line: line)
            throw HarnessError.timedOut
        }
        return found
    }

    func run(seconds: Double) throws {
        try engine.runTicks(Int(seconds * 8000) / engine.blockSize, onEvent: record)
        collectNotes()
    }

    private func record(_ event: EngineEvent) { events.append(event) }

    func collectNotes() { card.drainNotes { notes.append($0) } }

    /// DTMF digits the port detected, in order.
    func digitsHeard(on port: Int) -> String {
        String(events.compactMap { e -> Character? in
            guard Int(e.port) == port, case .digitStarted(let d, _) = e.kind else { return nil }
            return Character(Unicode.Scalar(d))
        })
    }

    func farEndHeard(on port: Int) -> String {
        collectNotes()
        return String(notes.compactMap { n -> Character? in
            guard Int(n.port) == port, case .farEndHeard(let d) = n.kind else { return nil }
            return Character(Unicode.Scalar(d))
        })
    }

    func callProgress(on port: Int) -> [CallProgressTone] {
        events.compactMap { e in
            guard Int(e.port) == port, case .callProgressStarted(let tone) = e.kind else { return nil }
            return tone
        }
    }

    func lineSignals(on port: Int) -> [LineEvent.Kind] {
        events.compactMap { e in
            guard Int(e.port) == port, case .line(let kind, _) = e.kind else { return nil }
            return kind
        }
    }

    /// Seizes an FXO port and dials `number` once dial tone is heard.
    func dial(_ port: Int, _ number: String) throws {
        try send(port, .hook(.offHook))
        try waitFor(port, within: 3, "dial tone") { $0 == .callProgressStarted(.dial) }
        try send(port, .sendDigits(DigitString(number)!))
        try waitFor(port, within: 5, "digits sent") { $0 == .digitsSent }
    }
}

enum HarnessError: Error { case timedOut }

func isLine(_ kind: LineEvent.Kind) -> (EngineEvent.Kind) -> Bool {
    { if case .line(let k, _) = $0 { k == kind } else { false } }
}

func isProgress(_ tone: CallProgressTone) -> (EngineEvent.Kind) -> Bool {
    { $0 == .callProgressStarted(tone) }
}

func isDigit(_ digit: Character) -> (EngineEvent.Kind) -> Bool {
    { if case .digitStarted(let d, _) = $0 { Character(Unicode.Scalar(d)) == digit } else { false } }
}
