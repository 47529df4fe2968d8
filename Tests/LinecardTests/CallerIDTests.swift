import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

/// Caller ID on incoming FXO calls: the exchange sends it after the first ring (Bellcore FSK
/// in the US, ETSI V.23 in the UK and Europe) and the channel decodes it with spandsp.
final class CallerIDTests: XCTestCase {
    private func card(_ country: TonePlan.Country) throws -> (Card, SimulatedCard) {
        let sim = SimulatedCard(exchange: ExchangeConfiguration(country: country))
        let card = try Card(backend: sim, engine: EngineConfiguration(blockSize: 160, clock: .virtual, tonePlan: .for(country)))
        return (card, sim)
    }

    func testTheCallersNumberArrivesAfterTheFirstRingInEachCountry() async throws {
        for country in TonePlan.Country.allCases {
            let (card, sim) = try card(country)
            defer { card.shutdown() }
            let channel = card.channels[0]
            try sim.placeCall(toPort: 0, from: "2125551234", callerName: "ACME LABS", caller: Person())
            let incoming = try await channel.waitForIncomingCall(timeout: .seconds(10))
            XCTAssertEqual(incoming, .callIncoming, "\(country)")
            XCTAssertEqual(channel.details.callerIDStatus, .none, "\(country): nothing before the first ring ends")
            let status = await channel.waitForCallerID()
            XCTAssertEqual(status, .received, "\(country)")
            XCTAssertEqual(channel.details.callingNumber, "2125551234", "\(country)")
            let answered = try await channel.answer()
            XCTAssertEqual(answered, .answered)
            XCTAssertEqual(channel.details.callingNumber, "2125551234", "the number stays with the call")
            await channel.hangUp()
        }
    }

    func testUnavailableAndAbsentCallerID() async throws {
        let (card, sim) = try card(.us)
        defer { card.shutdown() }
        let channel = card.channels[0]
        try sim.placeCall(toPort: 0, from: "", caller: Person())
        _ = try await channel.waitForIncomingCall(timeout: .seconds(10))
        let unavailable = await channel.waitForCallerID()
        XCTAssertEqual(unavailable, .unavailable)
        XCTAssertEqual(channel.details.callingNumber, "")
        _ = try channel.reject()

        let other = card.channels[1]
        try sim.placeCall(toPort: 1, from: "2125550000", sendsCallerID: false, caller: Person())
        _ = try await other.waitForIncomingCall(timeout: .seconds(10))
        let none = await other.waitForCallerID(timeout: .seconds(7))
        XCTAssertEqual(none, .none, "a line without the service")
        XCTAssertEqual(other.details.callingNumber, "")
    }

    func testGeneratorAndReceiverAgreeOnEveryStandard() {
        for standard in [CallerIDStandard.bellcore, .etsi] {
            let message = CallerIDGenerator.message(standard, number: "0123456789", name: "TEST", month: 11, day: 24, hour: 1, minute: 2)
            XCTAssertFalse(message.isEmpty)
            let generator = CallerIDGenerator(standard)
            generator.start(message)
            var samples = [Int16](repeating: 0, count: 8000)
            let n = samples.withUnsafeMutableBufferPointer { generator.generate(into: $0.baseAddress!, count: $0.count) }
            XCTAssertGreaterThan(n, 1000)
            XCTAssertFalse(generator.active)
            let receiver = CallerIDReceiver(standard)
            var number = ""
            samples.withUnsafeBufferPointer { buffer in
                var i = 0
                while i < buffer.count {
                    receiver.process(buffer.baseAddress! + i, count: 8) { bytes, count in
                        number = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
                    }
                    i += 8
                }
            }
            XCTAssertEqual(number, "0123456789", "\(standard)")
        }
    }
}
