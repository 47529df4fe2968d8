import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

final class IncomingAndTelephoneTests: XCTestCase {
    func testIncomingCallRingsWithTheCountrysCadence() throws {
        let h = try Harness()
        try h.open(2)
        try h.card.placeCall(toPort: 2, caller: Person(answerAfterRings: 2, digits: "42"))
        let first = try h.waitFor(2, within: 1, "ring", isLine(.ringBegin))
        let end = try h.waitFor(2, within: 3, "ring end", isLine(.ringEnd))
        let second = try h.waitFor(2, within: 5, "second ring", isLine(.ringBegin))
        XCTAssertEqual(end.seconds - first.seconds, 2, accuracy: 0.05)
        XCTAssertEqual(second.seconds - first.seconds, 6, accuracy: 0.05)
        try h.send(2, .hook(.offHook))
        try h.waitFor(2, within: 5, "the caller's digits", isDigit("2"))
        XCTAssertEqual(h.digitsHeard(on: 2), "42")
    }

    func testUKRingCadenceIsADoubleRing() throws {
        let h = try Harness(exchange: ExchangeConfiguration(country: .uk))
        try h.open(0)
        try h.card.placeCall(toPort: 0)
        try h.run(seconds: 6)
        let rings = h.events.filter { if case .line(.ringBegin, _) = $0.kind { true } else { false } }.map(\.seconds)
        XCTAssertEqual(rings.count, 4)
        XCTAssertEqual(rings[1] - rings[0], 0.6, accuracy: 0.03)
        XCTAssertEqual(rings[2] - rings[0], 3.0, accuracy: 0.03)
    }

    func testCallerGivesUpWhenNotAnswered() throws {
        let h = try Harness()
        try h.open(0)
        try h.card.placeCall(toPort: 0, caller: Person(answerAfterRings: 1))
        try h.run(seconds: 30)
        XCTAssertEqual(h.lineSignals(on: 0).filter { $0 == .ringBegin }.count, 4)
        XCTAssertTrue(h.notes.contains { $0.kind == .callerGaveUp })
    }

    func testTelephoneAnswersWhenRung() throws {
        let h = try Harness()
        try h.open(4)
        try h.card.answerWhenRung(port: 4, afterRings: 2)
        try h.send(4, .hook(.ringStart))
        let offHook = try h.waitFor(4, within: 10, "off-hook", isLine(.offHook))
        XCTAssertEqual(offHook.seconds, 6, accuracy: 0.1, "answered at the start of the second ring")
        XCTAssertTrue(h.notes.contains { $0.kind == .telephoneRang(2) })
    }

    func testTelephoneDialsAndHearsWhatThePortSends() throws {
        let h = try Harness()
        try h.open(5)
        try h.card.dial(port: 5, "123")
        try h.card.liftHandset(port: 5)
        try h.waitFor(5, within: 1, "off-hook", isLine(.offHook))
        try h.send(5, .playTone(h.engine.toneID(for: .dial), samples: 0))
        try h.waitFor(5, within: 3, "the dialled 3", isDigit("3"))
        XCTAssertEqual(h.digitsHeard(on: 5), "123")
        try h.send(5, .stopTone)
        try h.send(5, .sendDigits(DigitString("9")!))
        try h.run(seconds: 0.5)
        XCTAssertTrue(h.notes.contains { $0.kind == .telephoneHeardTone(.dial) })
        XCTAssertTrue(h.notes.contains { $0.kind == .telephoneHeard(UInt8(ascii: "9")) })
        try h.card.flashHandset(port: 5)
        try h.card.hangUpHandset(port: 5)
        try h.run(seconds: 0.1)
        XCTAssertEqual(h.lineSignals(on: 5), [.offHook, .flash, .onHook])
    }

    func testHookCommandsThatDoNotApplyAreRefused() throws {
        let h = try Harness()
        try h.open(0)
        try h.open(4)
        try h.send(0, .hook(.ringStart))
        try h.send(4, .hook(.offHook))
        try h.run(seconds: 0.1)
        XCTAssertEqual(h.events.filter { if case .line(.hookFailed, 22) = $0.kind { true } else { false } }.count, 2)
    }
}

final class CountryToneTests: XCTestCase {
    func testEachCountrysTonesAreRecognised() throws {
        for country in TonePlan.Country.allCases {
            let h = try Harness(exchange: ExchangeConfiguration(country: country))
            for port in 0..<4 { try h.open(port) }
            try h.dial(0, "300")
            try h.dial(1, "600")
            try h.dial(2, "400")
            try h.run(seconds: 8)
            XCTAssertTrue(h.callProgress(on: 0).contains(.busy), "\(country) busy: \(h.callProgress(on: 0))")
            XCTAssertTrue(h.callProgress(on: 1).contains(.congestion), "\(country) congestion: \(h.callProgress(on: 1))")
            XCTAssertTrue(h.callProgress(on: 2).contains(.ringback), "\(country) ringback: \(h.callProgress(on: 2))")
            XCTAssertFalse(h.callProgress(on: 0).contains(.congestion), "\(country) busy is not congestion")
            XCTAssertFalse(h.callProgress(on: 1).contains(.busy), "\(country) congestion is not busy")
            XCTAssertTrue(h.callProgress(on: 0).first == .dial, "\(country) dial tone first")
        }
    }
}

final class ImpairmentTests: XCTestCase {
    func testPoorLineStillCarriesDigitsWithLossNoiseAndEcho() throws {
        let h = try Harness()
        try h.open(0, meter: true)
        try h.dial(0, "210")
        try h.waitFor(0, within: 12, "answer", isLine(.polarityReversal))
        try h.run(seconds: 1.5)
        // Silence on the line: the noise floor at -45 dBm0.
        let floor = try h.engine.levels(port: 0).receiveLevel
        XCTAssertEqual(floor, -45, accuracy: 3)
        try h.send(0, .record(true))
        try h.send(0, .sendDigits(DigitString("1")!))
        try h.waitFor(0, within: 3, "echoed 1", isDigit("1"))
        XCTAssertEqual(h.farEndHeard(on: 0), "1")
        // What comes back: our own digit as echo (14 dB down), then the echoed digit (6 dB
        // of loss each way on the far end's -10 dBm0 tones).
        var audio = [Int16](repeating: 0, count: 16_000)
        let n = try audio.withUnsafeMutableBufferPointer { try h.engine.recordRing(port: 0).read(into: $0.baseAddress!, count: $0.count) }
        let heard = Array(audio[0..<n])
        let echoOfOurs = PowerMeter.level(of: Array(heard[200..<560]))
        XCTAssertEqual(echoOfOurs, -7 - 14, accuracy: 3, "our -7 dBm0 digit returns 14 dB down")
    }

    func testG711RouteQuantisesAudio() throws {
        var config = ExchangeConfiguration()
        config.routes["220"] = Route(.person(Person(answerAfterRings: 1, greets: false, digits: "8")), impairments: Impairments(codec: .ulaw))
        let h = try Harness(exchange: config)
        try h.open(0)
        try h.dial(0, "220")
        try h.waitFor(0, within: 12, "answer", isLine(.polarityReversal))
        try h.send(0, .record(true))
        try h.waitFor(0, within: 3, "digit 8", isDigit("8"))
        var audio = [Int16](repeating: 0, count: 4000)
        let n = try audio.withUnsafeMutableBufferPointer { try h.engine.recordRing(port: 0).read(into: $0.baseAddress!, count: $0.count) }
        let values = Set(audio[0..<n])
        XCTAssertTrue(values.allSatisfy { G711Law.ulaw.decode(G711Law.ulaw.encode($0)) == $0 }, "every sample is a µ-law value")
    }
}

final class CardFaultTests: XCTestCase {
    func testAlarmAndRemovalAreReported() throws {
        let h = try Harness()
        try h.open(0)
        try h.card.setAlarm(port: 0, true)
        try h.run(seconds: 0.1)
        try h.card.setAlarm(port: 0, false)
        try h.run(seconds: 0.1)
        XCTAssertEqual(h.lineSignals(on: 0), [.alarm, .alarmCleared])
        try h.card.removeDevice()
        try h.run(seconds: 0.1)
        try h.send(0, .hook(.offHook))
        try h.run(seconds: 0.1)
        XCTAssertEqual(h.lineSignals(on: 0).suffix(2), [.removed, .hookFailed])
    }

    func testBadFarSideRequestsAreErrors() throws {
        let card = SimulatedCard()
        XCTAssertThrowsError(try card.placeCall(toPort: 4))
        XCTAssertThrowsError(try card.liftHandset(port: 0))
        XCTAssertThrowsError(try card.dial(port: 4, "12x"))
        XCTAssertThrowsError(try card.setAlarm(port: 9, true)) { XCTAssertEqual($0 as? CardError, .unknownPort(9, portCount: 6)) }
    }
}
