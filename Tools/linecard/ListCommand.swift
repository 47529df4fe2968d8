import AlsaCard
import ArgumentParser
import DahdiCard
import Foundation
import LinecardEngine

/// `linecard list`: the card, its ports, their signalling and state.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List cards, ports, signalling and alarms.",
        discussion: """
            On DAHDI (--card dahdi) the spans and channels as the driver reports them, like
            dahdi_scan: each span's name, type and alarms, each channel's number (what other
            subcommands take as CHANNEL), signalling and the port kind Linecard drives it as.
            Nothing is opened, so channels in use by another program are listed too. Exits 1
            when a span is in alarm.

            On ALSA (--card alsa:DEVICE[,DEVICE…]) each device is a port, opened here at 8 kHz
            mono to show whether it works.

            Examples:
              linecard list --json
              linecard list --card dahdi
              linecard list --card alsa:plughw:CARD=Device,DEV=0
            """)
    @OptionGroup var options: CardOptions

    struct Port: Encodable { let channel: Int; let name: String; let kind: String; let signalling: String; let state: String; let alarm: Bool }
    struct Listing: Encodable { let card: String; let blockSize: Int; let ports: [Port] }

    func run() async throws {
        if !options.alsaDevices.isEmpty { return try listALSA() }
        if options.isDahdi { return try listDAHDI() }
        let opened = try options.open()
        defer { opened.shutdown() }
        let card = opened.card, sim = try opened.simulated(for: "listing ports")
        let ports = sim.ports.map { p in
            Port(channel: p.index, name: p.name, kind: p.kind == .fxo ? "FXO" : p.kind == .fxs ? "FXS" : "ISDN B", signalling: p.signalling,
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

    /// Spans and channels through /dev/dahdi/ctl, without opening any channel.
    private func listDAHDI() throws {
        let spans: [DahdiSpan]
        do { spans = try DahdiScanner.scan() } catch { throw fail("--card dahdi: \(error)") }
        struct Listing: Encodable { let card: String; let spans: [DahdiSpan] }
        if options.json {
            try printJSON(Listing(card: "dahdi", spans: spans))
        } else {
            let channels = spans.reduce(0) { $0 + $1.channels.count }
            print("dahdi: \(spans.count) span(s), \(channels) channel(s)")
            for span in spans {
                print("span \(span.number)  \(span.name)  \"\(span.description)\"  \(span.type)  \(span.alarms.isEmpty ? "OK" : span.alarms.joined(separator: " "))")
                for c in span.channels {
                    let kind = c.kind.map { $0 == .fxo ? "FXO" : $0 == .fxs ? "FXS" : "\($0)" } ?? "-"
                    print(String(format: "  %4d  %@  %@  %@", c.number, c.signalling.padding(toLength: 12, withPad: " ", startingAt: 0),
                                 kind.padding(toLength: 5, withPad: " ", startingAt: 0), c.name))
                }
            }
            if spans.isEmpty { print("no spans: is the card's driver loaded, and has dahdi_cfg run?") }
        }
        if spans.isEmpty || spans.contains(where: { !$0.alarms.isEmpty }) { throw ExitCode.failure }
    }

    /// Each ALSA device as a port: opened and closed again, its state "ok" or what failed.
    private func listALSA() throws {
        let alsa: AlsaCard
        do { alsa = try AlsaCard(devices: options.alsaDevices) } catch { throw fail(error) }
        var ports: [Port] = []
        var failures = 0
        for p in alsa.ports {
            var state = "ok"
            do {
                try alsa.open(port: p.index, blockSize: 160)
                alsa.close(port: p.index)
            } catch {
                state = "\(error)"
                failures += 1
            }
            ports.append(Port(channel: p.index, name: p.name, kind: "clear", signalling: p.signalling, state: state, alarm: false))
        }
        let listing = Listing(card: "alsa (8000 Hz mono, clear channels)", blockSize: 160, ports: ports)
        if options.json {
            try printJSON(listing)
        } else {
            print("\(listing.card), block \(listing.blockSize) samples")
            for p in ports { print(String(format: "  %2d  clear  %@  %@", p.channel, p.name, p.state)) }
        }
        if failures > 0 { throw ExitCode.failure }
    }
}
