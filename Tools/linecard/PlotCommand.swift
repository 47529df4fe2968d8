import ArgumentParser
import Foundation
import Linecard

/// `linecard plot`: a picture of a channel's audio or of a WAV file.
struct PlotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot", abstract: "Draw a spectrogram and level-over-time picture (PNG) of a channel's audio or a WAV file.",
        discussion: """
            Top: frequency 0–4 kHz upwards, time to the right, colour from black (-90 dB) to
            white (0 dB). Bottom: level from -60 to 0 dBm0, grid every 10 dB.
            With a CHANNEL, the channel calls --number (201 on the simulated exchange, which
            presses back the digits it hears), sends some digits and records --seconds.

            Examples:
              linecard plot --input call.wav --output call.png
              linecard plot 0 --seconds 4 --output line.png
            """)
    @Argument(help: "A channel to record from (instead of --input).") var channel: Int?
    @Option(help: "A WAV file to draw.") var input: String?
    @Option(help: "The PNG file to write.") var output: String
    @Option(help: "Seconds to record from the channel.") var seconds = 3.0
    @Option(help: "The number to call first.") var number = "201"
    @OptionGroup var options: CardOptions

    func validate() throws {
        guard (channel == nil) != (input == nil) else { throw ValidationError("give a CHANNEL or --input FILE.wav, one of them") }
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be from 0 to 600") }
    }

    func run() async throws {
        let samples: [Int16]
        if let input {
            do { samples = try WAVFile.read(input) } catch { throw fail(error) }
        } else {
            samples = try await recordChannel(channel ?? 0)
        }
        let picture = Picture.draw(samples)
        do { try picture.write(to: output) } catch { throw fail(error) }
        print("wrote \(output): \(picture.width)×\(picture.height), \(String(format: "%.2f", Double(samples.count) / 8000)) s of audio")
    }

    private func recordChannel(_ port: Int) async throws -> [Int16] {
        let opened = try options.open(channels: [port])
        defer { opened.shutdown() }
        let line = try opened.channel(port)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-plot-\(getpid()).wav").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            try await answeredCall(line, to: number)
            async let recorded = line.fileRecorder.record(to: file, timeout: .milliseconds(Int(seconds * 1000)))
            _ = try? await line.dtmfPlayer.play("1234")
            _ = try await recorded
            await line.hangUp()
            return try WAVFile.read(file)
        } catch let error as CallError {
            throw fail(error)
        }
    }
}
