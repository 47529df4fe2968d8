import ArgumentParser
import Foundation
import Linecard
import LinecardEngine

/// `linecard monitor CHANNEL`: receive and transmit levels as bars, redrawn in place.
struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor", abstract: "Show a channel's receive and transmit levels (dBm0) live; optionally record.",
        discussion: """
            On the simulated card the channel first calls --number (201, a person who stays on
            the line) so that there is something to hear. On a terminal the bars redraw in
            place; otherwise one line is printed per interval.

            Example:
              linecard monitor 0 --seconds 10 --record call.wav
            """)
    @Argument(help: "The channel.") var channel: Int
    @Option(help: "Seconds to monitor.") var seconds = 5.0
    @Option(help: "Seconds between readings.") var interval = 0.25
    @Option(help: "The number to call first.") var number = "201"
    @Option(help: "Also record what the channel hears to this WAV file.") var record: String?
    @OptionGroup var options: CardOptions

    struct Reading: Encodable { let seconds: Double; let receive: Double; let transmit: Double }

    func validate() throws {
        guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be from 0 to 86400") }
        guard interval >= 0.02, interval <= 60 else { throw ValidationError("--interval must be from 0.02 to 60 seconds") }
    }

    func run() async throws {
        let opened = try options.open(channels: [channel])
        defer { opened.shutdown() }
        let card = opened.card
        let line = try opened.channel(channel)
        let sim = opened.simulated
        do {
            try await answeredCall(line, to: number)
            try card.engine.submit(EngineCommand(port: line.port, .meterLevels(true)))
            let levels = try card.engine.levels(port: line.port)
            let recording = record.map { path in Task { try await line.fileRecorder.record(to: path, timeout: .milliseconds(Int(seconds * 1000))) } }
            // Something to hear: the far end presses back the digits we send.
            if sim != nil && line.kind == .fxo { Task { _ = try? await line.dtmfPlayer.play("123456789") } }
            let tty = isatty(STDOUT_FILENO) != 0 && !options.json
            var readings: [Reading] = []
            let start = card.engine.lineTime
            while Double(card.engine.lineTime - start) / 8000 < seconds, line.state == .answered {
                _ = await line.waitForIdleOrTime(interval)
                let r = Reading(seconds: Double(card.engine.lineTime - start) / 8000, receive: levels.receiveLevel, transmit: levels.transmitLevel)
                readings.append(r)
                if options.json { continue }
                let text = String(format: "%7.2f s  rx %@ %6.1f  tx %@ %6.1f dBm0", r.seconds, Self.bar(r.receive), r.receive, Self.bar(r.transmit), r.transmit)
                if tty { FileHandle.standardOutput.write(Data(("\r" + text).utf8)) } else { print(text) }
            }
            if tty { print("") }
            if let recording { _ = try await recording.value }
            await line.hangUp()
            if options.json { try printJSON(readings) } else if let record { print("recorded to \(record)") }
        } catch let error as CallError {
            throw fail(error)
        }
    }

    /// 30 characters from -60 dBm0 to 0.
    static func bar(_ level: Double) -> String {
        let filled = max(0, min(30, Int(((level + 60) / 2).rounded())))
        return String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
    }
}
