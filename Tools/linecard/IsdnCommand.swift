import ArgumentParser
import Foundation
import Linecard
import LinecardCards
import LinecardISDN
import Synchronization

/// `linecard isdn`: the state of a card's ISDN spans, and their D-channel messages.
struct IsdnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "isdn", abstract: "Show ISDN spans and trace their D-channel messages.",
        subcommands: [IsdnStatusCommand.self, IsdnTraceCommand.self])
}

/// Opens a card with ISDN spans, or says which cards have them.
private func openIsdn(_ options: CardOptions) throws -> (OpenedCard, IsdnStack) {
    let opened = try options.open()
    guard let stack = opened.isdn else {
        opened.shutdown()
        throw fail("--card \(options.card) has no ISDN span: use sim:e1, sim:t1, sim:bri or sim:bri-ptmp")
    }
    return (opened, stack)
}

struct IsdnStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Each span's D-channel, B-channels and frame counters.",
        discussion: """
            Per span: whether the D-channel (Q.921 link) is up and how often it changed, each
            B-channel's state (idle, in call, clearing, out of service) with its port, and the
            D-channel's frames in and out and the frames libpri refused. Exits 1 when a
            D-channel is down.

            Example:
              linecard isdn status --card sim:e1 --json
            """)
    @OptionGroup var options: CardOptions

    func run() async throws {
        let (opened, stack) = try openIsdn(options)
        defer { opened.shutdown() }
        let spans = stack.status
        if options.json {
            try printJSON(spans)
        } else {
            for span in spans { print(describe(span)) }
        }
        if spans.contains(where: { !$0.dChannelUp }) { throw ExitCode.failure }
    }

    private func describe(_ span: IsdnSpanStatus) -> String {
        var lines = ["\(span.name): \(span.variant.rawValue), \(span.role.rawValue) side, D-channel \(span.dChannelUp ? "up" : "DOWN") (\(span.dChannelChanges) changes)"]
        lines.append("  frames in \(span.framesIn), out \(span.framesOut), errors \(span.frameErrors)" + (span.lastError.map { " (last: \($0))" } ?? ""))
        for channel in span.bChannels {
            lines.append("  B\(channel.channel)  channel \(channel.port)  \(channel.state.rawValue)")
        }
        return lines.joined(separator: "\n")
    }
}

struct IsdnTraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "Print the decoded Q.921/Q.931 messages as they pass (like pri set debug).",
        discussion: """
            Prints each D-channel message our side sends and receives, decoded by libpri, for
            --seconds, or for one test call with --call (on the channel --channel), then the
            call's outcome with its Q.850 cause.

            Example:
              linecard isdn trace --card sim:e1 --call 300
            """)
    @OptionGroup var options: CardOptions
    @Option(help: "Place a call to this number and trace it.") var call: String?
    @Option(help: "The channel for --call.") var channel = 0
    @Option(help: "Seconds to trace without --call.") var seconds = 10.0

    func run() async throws {
        let (opened, stack) = try openIsdn(options)
        defer { opened.shutdown() }
        stack.trace { line in print(line) }
        defer { stack.trace(nil) }
        guard let number = call else {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return
        }
        let line = try opened.channel(channel)
        let state: CallState
        do { state = try await line.call(to: number, timeout: .seconds(60)) } catch { throw fail(error) }
        if state == .answered {
            _ = await line.waitForIdleOrTime(1)
            await line.hangUp()
        }
        // Let the clearing's last messages pass.
        try await Task.sleep(for: .milliseconds(300))
        print(state == .answered ? "answered; ended: \(line.details.rawCause)" : "not answered: \(line.cause.rawValue) (\(line.details.rawCause))")
        if state != .answered { throw ExitCode.failure }
    }
}
