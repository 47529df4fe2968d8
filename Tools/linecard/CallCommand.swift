import ArgumentParser
import Foundation
import Linecard

/// `linecard call CHANNEL NUMBER`: places a call and prints each state change in line time.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call", abstract: "Place a call and print each state change with its line time.",
        discussion: "Exits 0 when the call is answered.\n\nExample:\n  linecard call 0 200 --hold 3")
    @Argument(help: "The channel (an FXO port).") var channel: Int
    @Argument(help: "The number to dial.") var number: String
    @Option(help: "Seconds to ring before giving up.") var timeout = 60.0
    @Option(help: "Seconds to stay on the call once answered.") var hold = 2.0
    @OptionGroup var options: CardOptions

    struct Step: Encodable { let seconds: Double; let state: String }
    struct Result: Encodable { let steps: [Step]; let state: String; let cause: String; let rawCause: String; let farEnd: String }

    func run() async throws {
        let opened = try options.open(channels: [channel])
        defer { opened.shutdown() }
        let card = opened.card
        let line = try opened.channel(channel)
        var steps: [Step] = []
        func note(_ state: CallState) {
            let step = Step(seconds: Double(card.engine.lineTime) / 8000, state: state.rawValue)
            steps.append(step)
            if !options.json { print(String(format: "%9.3f s  %@", step.seconds, step.state)) }
        }
        do { try line.startCall(to: number, timeout: .milliseconds(Int(timeout * 1000))) } catch {
            throw fail(error)
        }
        var last = line.state
        note(last)
        while line.state != .answered, line.state != .idle {
            _ = await line.waitForIdleOrTime(0.05)
            if line.state != last { last = line.state; note(last) }
        }
        if line.state == .answered {
            _ = await line.waitForIdleOrTime(hold)
            if line.state == .answered { await line.hangUp() }
            if line.state != last { note(line.state) }
        }
        let answered = steps.contains { $0.state == CallState.answered.rawValue }
        let result = Result(steps: steps, state: line.state.rawValue, cause: line.cause.rawValue,
                            rawCause: line.details.rawCause, farEnd: line.details.farEndType.rawValue)
        if options.json { try printJSON(result) } else {
            print(answered ? "answered (\(result.farEnd)); ended: \(result.rawCause)" : "not answered: \(result.cause) (\(result.rawCause))")
        }
        if !answered { throw ExitCode.failure }
    }
}
