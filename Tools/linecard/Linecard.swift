import ArgumentParser
import Foundation

/// `linecard`: the diagnostics and administration tool. Its card subcommands come with the
/// diagnostics work; `numbers` talks to the number-rental service.
@main
struct LinecardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linecard",
        abstract: "Linecard's command-line tool.",
        subcommands: [NumbersCommand.self])
}
