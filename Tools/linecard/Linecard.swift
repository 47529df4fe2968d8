import ArgumentParser
import Foundation

/// `linecard`: the diagnostics tool someone runs on a new gateway box, and the first thing a
/// newcomer tries; `numbers` talks to the number-rental service.
@main
struct LinecardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linecard",
        abstract: "Check a telephony card and its lines; rent numbers.",
        discussion: """
            Every card subcommand works on the simulated card (--card sim), a DAHDI card
            (--card dahdi) and ALSA devices (--card alsa:DEVICE[,DEVICE…]). Without --card it
            uses DAHDI when its driver is loaded, else the simulated card.
            """,
        subcommands: [ListCommand.self, TimingCommand.self, MonitorCommand.self, CallCommand.self, IsdnCommand.self, DTMFCommand.self, ToneCommand.self, FaxCommand.self, SelftestCommand.self, PlotCommand.self, BenchCommand.self,
                      NumbersCommand.self])
}
