import ArgumentParser
import Foundation
import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard

/// How a subcommand reaches a card: `--card sim` (the default) or, in builds with the
/// hardware backends, `dahdi` and `alsa:DEVICE`.
struct CardOptions: ParsableArguments {
    @Option(help: "The card: sim (the simulated card and exchange), dahdi, or alsa:DEVICE.")
    var card = "sim"
    @Option(help: "The simulated exchange's country: us, uk or eu.")
    var country = "us"
    @Flag(help: "Run the simulated card in real time (default: virtual time, as fast as possible).")
    var paced = false
    @Flag(help: "Print JSON, for scripts.")
    var json = false

    func validate() throws {
        guard TonePlan.Country(rawValue: country) != nil else { throw ValidationError("--country must be us, uk or eu, not \(country)") }
        if card == "dahdi" {
            throw ValidationError("--card dahdi: this build has no DAHDI backend yet; use --card sim")
        }
        if card.hasPrefix("alsa:") {
            guard !alsaDevices.isEmpty else { throw ValidationError("--card alsa: names no device: alsa:DEVICE[,DEVICE…]") }
            return
        }
        guard card == "sim" else { throw ValidationError("--card \(card) is not a card: use sim, dahdi or alsa:DEVICE") }
    }

    var plan: TonePlan { .for(TonePlan.Country(rawValue: country) ?? .us) }

    /// The devices of `--card alsa:DEVICE[,DEVICE…]`.
    var alsaDevices: [String] {
        guard card.hasPrefix("alsa:") else { return [] }
        return card.dropFirst(5).split(separator: ",").map(String.init).filter { !$0.isEmpty }
    }

    /// The simulated card with a channel on every port, started.
    func open(blockSize: Int = 160) throws -> (Card, SimulatedCard) {
        guard card == "sim" else {
            throw fail("--card \(card): only `linecard list` works on ALSA devices so far; the other subcommands need --card sim")
        }
        let country = TonePlan.Country(rawValue: self.country) ?? .us
        let sim = SimulatedCard(exchange: ExchangeConfiguration(country: country))
        let card = try Card(backend: sim, engine: EngineConfiguration(blockSize: blockSize, clock: paced ? .paced : .virtual,
                                                                      realtime: false, tonePlan: .for(country)),
                            localChannels: 0)
        return (card, sim)
    }

    func channel(_ port: Int, of card: Card) throws -> CallChannel {
        guard port >= 0, port < card.channels.count else {
            throw fail("no channel \(port): this card has channels 0 to \(card.channels.count - 1) (linecard list shows them)")
        }
        return card.channels[port]
    }
}

/// Places a call from `line` to `number` and waits for the answer; anything else is the
/// subcommand's failure, said in one line.
func answeredCall(_ line: CallChannel, to number: String) async throws {
    guard try await line.call(to: number, timeout: .seconds(60)) == .answered else {
        throw fail("the call to \(number) was not answered: \(line.cause.rawValue) (\(line.details.rawCause))")
    }
}

/// Prints `value` as sorted, pretty JSON.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// A failed check: one line on standard error, exit status 1.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode.failure
}
