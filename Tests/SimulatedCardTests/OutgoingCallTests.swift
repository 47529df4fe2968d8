import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

final class OutgoingCallTests: XCTestCase {
    func testPersonAnswersWithPolarityReversalAndPressesDigits() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "200")
        try h.waitFor(0, within: 8, "ringback", isProgress(.ringback))
        let answer = try h.waitFor(0, within: 20, "answer", isLine(.polarityReversal))
        // Two US rings (6 s each) less half the silence.
        XCTAssertEqual(answer.seconds - h.events.first { $0.kind == .digitsSent }!.seconds, 10, accuracy: 1.5)
        try h.waitFor(0, within: 5, "the person's last digit", isDigit("4"))
        XCTAssertEqual(h.digitsHeard(on: 0), "1234")
        XCTAssertTrue(h.notes.contains { $0.kind == .farEndAnswered })
    }
}

extension OutgoingCallTests {
    func testBusyNumberGivesBusyTone() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "300")
        try h.waitFor(0, within: 3, "busy tone", isProgress(.busy))
        XCTAssertFalse(h.lineSignals(on: 0).contains(.polarityReversal))
    }

    func testCongestionNumberGivesCongestionTone() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "600")
        try h.waitFor(0, within: 3, "congestion tone", isProgress(.congestion))
    }

    func testUnobtainableNumberGivesSpecialInformationTone() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "500")
        try h.waitFor(0, within: 3, "SIT", isProgress(.specialInformation))
    }

    func testUnknownNumberIsUnobtainable() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "999")
        try h.waitFor(0, within: 3, "SIT", isProgress(.specialInformation))
        XCTAssertTrue(h.notes.contains { $0.kind == .routed(.unobtainable) })
    }

    func testNoAnswerRingsUntilTheExchangeGivesUp() throws {
        var config = ExchangeConfiguration()
        config.ringingTimeoutMilliseconds = 60_000
        let h = try Harness(exchange: config)
        try h.open(0)
        try h.dial(0, "400")
        try h.waitFor(0, within: 8, "ringback", isProgress(.ringback))
        try h.waitFor(0, within: 65, "congestion after ringing", isProgress(.congestion))
        let ringbacks = h.callProgress(on: 0).filter { $0 == .ringback }.count
        XCTAssertGreaterThanOrEqual(ringbacks, 9, "one ringback report per 6 s ring")
        XCTAssertFalse(h.lineSignals(on: 0).contains(.polarityReversal))
    }

    func testFarEndClearIsLoopCurrentDropThenTone() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "202")
        let answered = try h.waitFor(0, within: 12, "answer", isLine(.polarityReversal))
        let drop = try h.waitFor(0, within: 8, "loop current drop", isLine(.loopCurrentDrop))
        XCTAssertEqual(drop.seconds - answered.seconds, 5, accuracy: 0.1)
        XCTAssertEqual(h.lineSignals(on: 0).filter { $0 == .polarityReversal }.count, 2, "reversal at answer and back at clear")
        let tone = try h.waitFor(0, within: 3, "busy tone after clear", isProgress(.busy))
        XCTAssertGreaterThanOrEqual(tone.seconds - drop.seconds, 1)
    }

    func testClearWithoutLoopCurrentDropOrPolarity() throws {
        var config = ExchangeConfiguration()
        config.answerByPolarityReversal = false
        config.clearLoopCurrentDropMilliseconds = 0
        config.clearTone = .congestion
        let h = try Harness(exchange: config)
        try h.open(0)
        try h.dial(0, "202")
        try h.waitFor(0, within: 20, "congestion after the far end hangs up", isProgress(.congestion))
        XCTAssertTrue(h.lineSignals(on: 0).isEmpty, "no line signals at all: \(h.lineSignals(on: 0))")
        XCTAssertTrue(h.notes.contains { $0.kind == .farEndHungUp })
    }

    func testEchoingPersonPressesBackWhatItHears() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "201")
        try h.waitFor(0, within: 12, "answer", isLine(.polarityReversal))
        try h.run(seconds: 1)
        try h.send(0, .sendDigits(DigitString("5#")!))
        try h.waitFor(0, within: 5, "echoed #", isDigit("#"))
        XCTAssertEqual(h.farEndHeard(on: 0), "5#")
        XCTAssertEqual(h.digitsHeard(on: 0), "5#")
    }

    func testAnsweringMachineGreetsThenBeeps() throws {
        let h = try Harness(ringCapacity: 65_536)
        try h.open(0)
        try h.dial(0, "700")
        let answered = try h.waitFor(0, within: 25, "answer", isLine(.polarityReversal))
        try h.send(0, .record(true))
        try h.run(seconds: 6)
        var audio = [Int16](repeating: 0, count: 6 * 8000)
        let got = try audio.withUnsafeMutableBufferPointer { try h.engine.recordRing(port: 0).read(into: $0.baseAddress!, count: $0.count) }
        XCTAssertGreaterThan(got, 5 * 8000)
        // The greeting is speech in the first four seconds; the beep is a steady 1 kHz after it.
        let greeting = Array(audio[800..<24_000])
        XCTAssertGreaterThan(PowerMeter.level(of: greeting), -30)
        XCTAssertLessThan(goertzelShare(Array(audio[4000..<24_000]), 1000), 0.3)
        let beep = Array(audio[(4000 * 8 + 400)..<(4000 * 8 + 2800)])
        XCTAssertGreaterThan(goertzelShare(beep, 1000), 0.9, "a 1 kHz beep after the greeting")
        _ = answered
    }

    func testPortToPortCallCarriesDigitsBothWays() throws {
        let h = try Harness()
        try h.open(0)
        try h.open(1)
        try h.dial(0, "101")
        try h.waitFor(0, within: 8, "ringback on port 0", isProgress(.ringback))
        XCTAssertEqual(h.lineSignals(on: 1).first, .ringBegin)
        try h.send(1, .hook(.offHook))
        try h.waitFor(0, within: 1, "answer on port 0", isLine(.polarityReversal))
        try h.send(0, .sendDigits(DigitString("147")!))
        try h.waitFor(1, within: 3, "digits on port 1", isDigit("7"))
        try h.send(1, .sendDigits(DigitString("*0#")!))
        try h.waitFor(0, within: 3, "digits on port 0", isDigit("#"))
        XCTAssertEqual(h.digitsHeard(on: 1), "147")
        XCTAssertEqual(h.digitsHeard(on: 0), "*0#")
        // Port 1 hangs up: port 0 sees the clear.
        try h.send(1, .hook(.onHook))
        try h.waitFor(0, within: 2, "clear on port 0", isLine(.loopCurrentDrop))
    }

    func testCallingABusyPortGivesBusyTone() throws {
        let h = try Harness()
        try h.open(0)
        try h.open(1)
        try h.send(1, .hook(.offHook))
        try h.dial(0, "101")
        try h.waitFor(0, within: 3, "busy", isProgress(.busy))
    }

    func testPulseDialling() throws {
        let h = try Harness(blockSize: 80)
        try h.open(0)
        try h.send(0, .hook(.offHook))
        try h.waitFor(0, within: 3, "dial tone", isProgress(.dial))
        for digit in [2, 0, 1] {
            for _ in 0..<(digit == 0 ? 10 : digit) {
                try h.send(0, .hook(.onHook))
                try h.run(seconds: 0.06)
                try h.send(0, .hook(.offHook))
                try h.run(seconds: 0.04)
            }
            try h.run(seconds: 0.7)
        }
        XCTAssertEqual(String(h.notes.compactMap { n -> Character? in
            if case .dialled(let d) = n.kind { Character(Unicode.Scalar(d)) } else { nil }
        }), "201")
        try h.waitFor(0, within: 8, "answer", isLine(.polarityReversal))
    }

    func testHookFlashIsNotAHangUp() throws {
        let h = try Harness()
        try h.open(0)
        try h.dial(0, "201")
        try h.waitFor(0, within: 12, "answer", isLine(.polarityReversal))
        try h.send(0, .hook(.flash))
        try h.run(seconds: 1.5)
        XCTAssertTrue(h.notes.contains { $0.kind == .hookFlash })
        XCTAssertFalse(h.notes.contains { $0.kind == .portHungUp })
        try h.send(0, .hook(.onHook))
        try h.run(seconds: 1)
        XCTAssertTrue(h.notes.contains { $0.kind == .portHungUp })
    }

    func testDialToneTimesOutToCongestion() throws {
        var config = ExchangeConfiguration()
        config.dialToneTimeoutMilliseconds = 5000
        let h = try Harness(exchange: config)
        try h.open(0)
        try h.send(0, .hook(.offHook))
        try h.waitFor(0, within: 8, "congestion", isProgress(.congestion))
    }
}

/// Share of a signal's energy at `frequency` (a windowless Goertzel against total energy).
func goertzelShare(_ samples: [Int16], _ frequency: Double) -> Double {
    let n = 200
    var total = 0.0, matched = 0.0
    var start = 0
    while start + n <= samples.count {
        let k = 2 * cos(2 * Double.pi * frequency / 8000)
        var s1 = 0.0, s2 = 0.0, energy = 0.0
        for i in start..<(start + n) {
            let x = Double(samples[i])
            energy += x * x
            let s = x + k * s1 - s2
            s2 = s1
            s1 = s
        }
        let power = s1 * s1 + s2 * s2 - k * s1 * s2
        matched += 2 * power / Double(n)
        total += energy
        start += n
    }
    return total > 0 ? matched / total : 0
}
