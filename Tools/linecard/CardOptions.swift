import AlsaCard
import ArgumentParser
import CDahdi
import DahdiCard
import Foundation
import Linecard
import LinecardCards
import LinecardDSP
import LinecardEngine
import SimulatedCard

/// How a subcommand reaches a card: `--card sim` (the default), `dahdi[:CHANNEL,…]` or `alsa:DEVICE[,…]`.
struct CardOptions: ParsableArguments {
    @Option(name: .customLong("card"),
            help: "The card: sim (the simulated card and exchange), sim:e1, sim:t1, sim:bri or sim:bri-ptmp (a simulated ISDN span, in real time), dahdi[:CHANNEL,…], or alsa:DEVICE[,DEVICE…] (default: dahdi when /dev/dahdi/ctl exists, else sim).")
    var cardName: String?
    @Option(help: "The simulated exchange's country: us, uk or eu (on hardware: the tones listened for).")
    var country = "us"
    @Flag(help: "Run the simulated card in real time (default: virtual time, as fast as possible).")
    var paced = false
    @Flag(help: "Print JSON, for scripts.")
    var json = false

    func validate() throws {
        guard TonePlan.Country(rawValue: country) != nil else { throw ValidationError("--country must be us, uk or eu, not \(country)") }
        do { _ = try specification } catch { throw ValidationError("--card \(error)") }
    }

    /// The card asked for, or the one found: DAHDI when its driver is loaded, else the
    /// simulated card.
    var card: String {
        cardName ?? (FileManager.default.fileExists(atPath: LC_DAHDI_CTL_PATH) ? "dahdi" : "sim")
    }

    /// `--card` read by the rule the gateway's configuration uses, with `--country` and
    /// `--paced`.
    var specification: CardSpecification {
        get throws {
            var specification = try CardSpecification(parsing: card)
            specification.country = TonePlan.Country(rawValue: country) ?? .us
            // A simulated ISDN span keeps real time (libpri's timers read the wall clock).
            specification.clock = paced || specification.isdn != nil ? .paced : .virtual
            return specification
        }
    }

    var plan: TonePlan { .for(TonePlan.Country(rawValue: country) ?? .us) }
    var isDahdi: Bool { (try? specification.kind) == .dahdi }
    /// The devices of `--card alsa:DEVICE[,DEVICE…]`.
    var alsaDevices: [String] { (try? specification.devices) ?? [] }

    /// The card, started, with a channel on every port it opened.
    ///
    /// - Parameter channels: on DAHDI, the channel numbers a subcommand names: only those are
    ///   opened, so channels another program holds are left alone (empty: every audio channel,
    ///   or those `--card dahdi:N,…` names). Elsewhere every port is opened.
    func open(blockSize: Int = 160, channels: [Int] = []) throws -> OpenedCard {
        do {
            var specification = try specification
            specification.blockSize = blockSize
            if specification.kind == .dahdi, !channels.isEmpty { specification.channels = Array(Set(channels)).sorted() }
            // The tool does not ask for real-time scheduling.
            return try specification.open(localChannels: 0, realtime: false)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("--card \(card): \(error)")
        }
    }
}

extension OpenedCard {
    /// The channel a CHANNEL argument names: a DAHDI channel number on DAHDI (as dahdi_scan
    /// and system.conf number them), a port index elsewhere.
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
        guard let simulated else { throw fail("\(what) works on the simulated card only (--card sim)") }
        return simulated
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
