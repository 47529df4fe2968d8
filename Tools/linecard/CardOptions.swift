import AlsaCard
import ArgumentParser
import CDahdi
import DahdiCard
import Foundation
import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard

/// How a subcommand reaches a card: `--card sim` (the default), `dahdi` or `alsa:DEVICE`.
struct CardOptions: ParsableArguments {
    @Option(name: .customLong("card"),
            help: "The card: sim (the simulated card and exchange), dahdi, or alsa:DEVICE[,DEVICE…] (default: dahdi when /dev/dahdi/ctl exists, else sim).")
    var cardName: String?
    @Option(help: "The simulated exchange's country: us, uk or eu (on hardware: the tones listened for).")
    var country = "us"
    @Flag(help: "Run the simulated card in real time (default: virtual time, as fast as possible).")
    var paced = false
    @Flag(help: "Print JSON, for scripts.")
    var json = false

    func validate() throws {
        guard TonePlan.Country(rawValue: country) != nil else { throw ValidationError("--country must be us, uk or eu, not \(country)") }
        if card.hasPrefix("alsa:") {
            guard !alsaDevices.isEmpty else { throw ValidationError("--card alsa: names no device: alsa:DEVICE[,DEVICE…]") }
            return
        }
        guard card == "sim" || card == "dahdi" else { throw ValidationError("--card \(card) is not a card: use sim, dahdi or alsa:DEVICE") }
    }

    /// The card asked for, or the one found: DAHDI when its driver is loaded, else the
    /// simulated card.
    var card: String {
        cardName ?? (FileManager.default.fileExists(atPath: LC_DAHDI_CTL_PATH) ? "dahdi" : "sim")
    }

    var plan: TonePlan { .for(TonePlan.Country(rawValue: country) ?? .us) }
    var isDahdi: Bool { card == "dahdi" }

    /// The devices of `--card alsa:DEVICE[,DEVICE…]`.
    var alsaDevices: [String] {
        guard card.hasPrefix("alsa:") else { return [] }
        return card.dropFirst(5).split(separator: ",").map(String.init).filter { !$0.isEmpty }
    }

    /// The card, started, with a channel on every port it opened.
    ///
    /// - Parameter channels: on DAHDI, the channel numbers a subcommand names: only those are
    ///   opened, so channels another program holds are left alone (empty: every audio channel).
    ///   Elsewhere every port is opened.
    func open(blockSize: Int = 160, channels: [Int] = []) throws -> OpenedCard {
        let country = TonePlan.Country(rawValue: self.country) ?? .us
        if card == "sim" {
            let sim = SimulatedCard(exchange: ExchangeConfiguration(country: country))
            let card = try Card(backend: sim, engine: EngineConfiguration(blockSize: blockSize, clock: paced ? .paced : .virtual,
                                                                          realtime: false, tonePlan: .for(country)),
                                localChannels: 0)
            return OpenedCard(card: card, sim: sim, dahdiChannels: nil)
        }
        // Hardware runs on its own clock; the tool does not ask for real-time scheduling.
        let engine = EngineConfiguration(blockSize: blockSize, realtime: false, tonePlan: .for(country))
        do {
            if isDahdi {
                let wanted = channels.isEmpty ? nil : Array(Set(channels)).sorted()
                let dahdi = try DahdiCard(channels: wanted)
                return OpenedCard(card: try Card(backend: dahdi, engine: engine, localChannels: 0), sim: nil, dahdiChannels: dahdi.channelNumbers)
            }
            let alsa = try AlsaCard(devices: alsaDevices)
            return OpenedCard(card: try Card(backend: alsa, engine: engine, localChannels: 0), sim: nil, dahdiChannels: nil)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("--card \(card): \(error)")
        }
    }
}

/// A card the tool opened, and how CHANNEL arguments name its ports: DAHDI channel numbers
/// on DAHDI (as dahdi_scan and system.conf number them), port indexes elsewhere.
struct OpenedCard {
    let card: Card
    /// The simulated card, when that is what was opened (its exchange can place test calls).
    let sim: SimulatedCard?
    /// Each port's DAHDI channel number, on DAHDI.
    let dahdiChannels: [Int]?

    func channel(_ number: Int) throws -> CallChannel {
        if let dahdiChannels {
            guard let port = dahdiChannels.firstIndex(of: number) else {
                throw fail("no DAHDI channel \(number) open here: this card has \(dahdiChannels.map(String.init).joined(separator: ", ")) (linecard list --card dahdi shows them)")
            }
            return card.channels[port]
        }
        guard number >= 0, number < card.channels.count else {
            throw fail("no channel \(number): this card has channels 0 to \(card.channels.count - 1) (linecard list shows them)")
        }
        return card.channels[number]
    }

    /// The simulated card, for what only it can do (a subcommand's test call).
    func simulated(for what: String) throws -> SimulatedCard {
        guard let sim else { throw fail("\(what) works on the simulated card only (--card sim)") }
        return sim
    }

    func shutdown() { card.shutdown() }
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

/// A failed operation: its error on one line. A channel API error is shown by its message
/// alone (its description starts with the reference's exception name, "Error: …").
func fail(_ error: any Error) -> ExitCode {
    fail((error as? CallError)?.message ?? "\(error)")
}

/// A failed check: one line on standard error, exit status 1.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode.failure
}
