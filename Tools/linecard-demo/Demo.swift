import ArgumentParser
import Foundation
import LinecardDSP
import LinecardEngine
import SimulatedCard

@main
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linecard-demo",
        abstract: "Place a call through the simulated exchange and exchange DTMF, printing what happens.",
        discussion: """
            Runs on the simulated card: port 0 seizes its line, waits for dial tone, dials, \
            follows the call by its tones and line signals, sends DTMF to the far end and \
            listens for the far end's digits, then hangs up. Times are line time (samples \
            processed by the card's tick), in seconds. Lines starting with "far end" are what \
            the exchange's scripted party experienced.

            The default number 201 is a person who answers after one ring and presses back \
            every digit it hears. See README.md for the whole numbering plan.

            Example:
              swift run linecard-demo --number 200 --digits 5
              swift run linecard-demo --country uk --paced
            """)

    @Option(help: "The number to call (see the numbering plan in README.md).")
    var number = "201"

    @Option(help: "DTMF digits to send once the call is answered (0-9 A-D * #, at most 32).")
    var digits = "1234#"

    @Option(help: "The exchange's country: us, uk or eu.")
    var country: TonePlan.Country = .us

    @Option(help: "Samples per tick: a multiple of 8 from 8 to 160.")
    var blockSize = 160

    @Flag(help: "Run in real time instead of virtual time.")
    var paced = false

    func validate() throws {
        guard DigitString(digits) != nil, digits.allSatisfy({ DTMFGenerator.validDigits.contains($0) }) else {
            throw ValidationError("--digits must be at most 32 of 0-9 A-D * #: got \"\(digits)\"")
        }
        guard !number.isEmpty, DigitString(number) != nil, number.allSatisfy(\.isNumber) else {
            throw ValidationError("--number must be digits: got \"\(number)\"")
        }
        guard EngineConfiguration.blockSizes.contains(blockSize) else {
            throw ValidationError(CardError.invalidBlockSize(blockSize).description)
        }
    }

    func run() async throws {
        let card = SimulatedCard(exchange: ExchangeConfiguration(country: country))
        let engine = try Engine(card: card, configuration: EngineConfiguration(
            blockSize: blockSize, clock: paced ? .paced : .virtual, realtime: paced, tonePlan: .for(country)))
        let session = CallSession(engine: engine, card: card, port: 0)
        let outcome = try await session.run(number: number, digits: digits)
        engine.shutdown()
        print(outcome.summary)
        if !outcome.succeeded { throw ExitCode(1) }
    }
}

extension TonePlan.Country: ExpressibleByArgument {}
