import ArgumentParser
import Foundation
import LinecardEngine

/// `linecard list`: the card, its ports, their signalling and state.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List cards, ports, signalling and alarms.",
        discussion: "Example:\n  linecard list --json")
    @OptionGroup var options: CardOptions

    struct Port: Encodable { let channel: Int; let name: String; let kind: String; let signalling: String; let state: String; let alarm: Bool }
    struct Listing: Encodable { let card: String; let blockSize: Int; let ports: [Port] }

    func run() async throws {
        let (card, sim) = try options.open()
        defer { card.shutdown() }
        let ports = sim.ports.map { p in
            Port(channel: p.index, name: p.name, kind: p.kind == .fxo ? "FXO" : "FXS", signalling: p.signalling,
                 state: card.channels[p.index].state.rawValue, alarm: false)
        }
        let listing = Listing(card: sim.name + " (simulated, \(options.country) exchange)", blockSize: card.engine.blockSize, ports: ports)
        if options.json { return try printJSON(listing) }
        print("\(listing.card), block \(listing.blockSize) samples")
        for p in ports {
            print(String(format: "  %2d  %@  %@  %@  %@", p.channel, p.kind.padding(toLength: 3, withPad: " ", startingAt: 0),
                         p.signalling.padding(toLength: 6, withPad: " ", startingAt: 0), p.state.padding(toLength: 8, withPad: " ", startingAt: 0), p.name))
        }
    }
}
