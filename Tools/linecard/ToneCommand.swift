import ArgumentParser
import Foundation
import Linecard

/// `linecard tone CHANNEL NAME`: plays a named tone on a call.
struct ToneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tone", abstract: "Call a number and play a named tone on the call for a duration.",
        discussion: """
            Names: RINGBACK, RINGBACK_UK, RINGBACK_EU, DIAL, BUSY, CONGESTION. On the simulated
            exchange the tone goes to the far end (201 by default, which stays on the line).

            Example:
              linecard tone 0 RINGBACK_UK --duration 3
            """)
    @Argument(help: "The channel.") var channel: Int
    @Argument(help: "The tone's name.") var name: String
    @Option(help: "Seconds to play.") var duration = 2.0
    @Option(help: "The number to call first.") var number = "201"
    @OptionGroup var options: CardOptions

    func validate() throws {
        guard ToneManager.PredefinedTone(rawValue: name.uppercased()) != nil else {
            throw ValidationError("no tone \(name): use \(ToneManager.PredefinedTone.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard duration > 0, duration <= 3600 else { throw ValidationError("--duration must be from 0 to 3600 seconds") }
    }

    func run() async throws {
        let opened = try options.open(channels: [channel])
        defer { opened.shutdown() }
        let card = opened.card
        let line = try opened.channel(channel)
        do {
            try await answeredCall(line, to: number)
            let player = line.makeTonePlayer(using: ToneManager())
            let start = card.engine.lineTime
            let cause = try await player.play(name.uppercased(), duration: .milliseconds(Int(duration * 1000)))
            let played = Double(card.engine.lineTime - start) / 8000
            await line.hangUp()
            print(String(format: "played %@ for %.2f s (%@)", name.uppercased(), played, cause.rawValue))
        } catch let error as CallError {
            throw fail(error)
        }
    }
}
