import ArgumentParser
import Foundation
import Linecard
import LinecardDSP

/// `linecard dtmf …`: make, find and send DTMF.
struct DTMFCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dtmf", abstract: "Generate DTMF to a WAV file, detect it in one, or send it on a call.",
        subcommands: [Generate.self, Detect.self, Send.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write DIGITS as DTMF to an 8 kHz WAV file.",
            discussion: "Example:\n  linecard dtmf generate 1234# --output digits.wav --level -12 --on 60 --off 60")
        @Argument(help: "Digits: 0-9, A-D, * and #.") var digits: String
        @Option(help: "The WAV file to write.") var output: String
        @Option(parsing: .unconditional, help: "Level of the low tone, dBm0.") var level = -10
        @Option(parsing: .unconditional, help: "High tone minus low tone, dB.") var twist = 0
        @Option(help: "Tone on, ms.") var on = 50
        @Option(help: "Pause, ms.") var off = 55

        func validate() throws {
            guard !digits.isEmpty, digits.count <= DTMFGenerator.queueCapacity,
                  digits.allSatisfy({ DTMFGenerator.validDigits.contains($0) }) else {
                throw ValidationError("DIGITS must be 1 to \(DTMFGenerator.queueCapacity) of 0-9, A-D, * and #")
            }
            guard (-50...0).contains(level) else { throw ValidationError("--level must be from -50 to 0 dBm0") }
            guard (-10...10).contains(twist) else { throw ValidationError("--twist must be from -10 to 10 dB") }
            guard (10...1000).contains(on), (10...1000).contains(off) else { throw ValidationError("--on and --off must be 10 to 1000 ms") }
        }

        func run() async throws {
            let generator = DTMFGenerator(level: level, twist: twist, onTimeMilliseconds: on, offTimeMilliseconds: off)
            generator.enqueue(digits)
            var samples = [Int16](repeating: 0, count: 800)   // 100 ms of silence first
            var block = [Int16](repeating: 0, count: 160)
            while true {
                let n = block.withUnsafeMutableBufferPointer { generator.generate(into: $0.baseAddress!, count: 160) }
                samples += block.prefix(n)
                if n < 160 { break }
            }
            samples += [Int16](repeating: 0, count: 800)
            do { try WAVFile.write(samples, to: output) } catch { throw fail(error) }
            print("wrote \(digits.count) digits, \(String(format: "%.2f", Double(samples.count) / 8000)) s, to \(output)")
        }
    }

    struct Detect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each DTMF digit on a channel (live) or in a WAV file, with its time.",
            discussion: """
                With a CHANNEL the channel first calls --number (200 on the simulated exchange
                presses 1234 after answering) and prints digits as they arrive for --seconds.

                Examples:
                  linecard dtmf detect --input digits.wav
                  linecard dtmf detect 0 --seconds 10
                """)
        @Argument(help: "A channel to listen on (instead of --input).") var channel: Int?
        @Option(help: "A WAV file (any rate; converted to 8 kHz).") var input: String?
        @Option(help: "Seconds to listen on the channel.") var seconds = 8.0
        @Option(help: "The number the channel calls first.") var number = "200"
        @OptionGroup var options: CardOptions
        var json: Bool { options.json }

        struct Digit: Encodable { let digit: String; let start: Double; let duration: Double; let level: Int }

        func validate() throws {
            guard (channel == nil) != (input == nil) else { throw ValidationError("give a CHANNEL or --input FILE.wav, one of them") }
            guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be from 0 to 86400") }
        }

        func run() async throws {
            guard let input else { return try await listen(channel ?? 0) }
            let samples: [Int16]
            do { samples = try WAVFile.read(input) } catch { throw fail(error) }
            let detector = DTMFDetector()
            var found: [Digit] = []
            var current: (digit: UInt8, start: Int, level: Int32)?
            // Each report carries the length of the state it ends: their running sum is the
            // time of each change.
            var clock = 0
            samples.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = min(160, buffer.count - offset)
                    detector.process(buffer.baseAddress! + offset, count: n) { r in
                        clock += Int(r.samples)
                        if r.digit != 0 {
                            current = (r.digit, clock, r.level)
                        } else if let c = current {
                            found.append(Digit(digit: String(Character(Unicode.Scalar(c.digit))), start: Double(c.start) / 8000,
                                               duration: Double(clock - c.start) / 8000, level: Int(c.level)))
                            current = nil
                        }
                    }
                    offset += n
                }
            }
            if json { return try printJSON(found) }
            for d in found {
                print(String(format: "%@  at %7.3f s  for %3.0f ms  %d dBm0", d.digit, d.start, d.duration * 1000, d.level))
            }
            print(found.isEmpty ? "no DTMF digits" : "\(found.count) digits: \(found.map(\.digit).joined())")
        }

        /// Live: each digit as the channel's detector reports it, in line time.
        private func listen(_ port: Int) async throws {
            let opened = try options.open(channels: [port])
            defer { opened.shutdown() }
            let card = opened.card
            let line = try opened.channel(port)
            do {
                try await answeredCall(line, to: number)
                let start = card.engine.lineTime
                var heard: [Digit] = []
                while line.state == .answered {
                    let left = seconds - Double(card.engine.lineTime - start) / 8000
                    if left <= 0 { break }
                    let digit = try await line.dtmfDetector.getDigits(count: 1, predigitsTimeout: .milliseconds(Int(left * 1000)))
                    guard !digit.isEmpty else { continue }
                    let at = Double(card.engine.lineTime - start) / 8000
                    heard.append(Digit(digit: digit, start: at, duration: 0, level: 0))
                    if !json { print(String(format: "%@  at %7.3f s", digit, at)); fflush(nil) }
                }
                if line.state == .answered { await line.hangUp() }
                if json { try printJSON(heard) } else { print(heard.isEmpty ? "no DTMF digits" : "\(heard.count) digits: \(heard.map(\.digit).joined())") }
            } catch let error as CallError {
                throw fail(error)
            }
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Call a number and send DIGITS as DTMF; print what comes back.",
            discussion: "On the simulated exchange 201 presses back every digit it hears.\n\nExample:\n  linecard dtmf send 0 1234# --number 201")
        @Argument(help: "The channel.") var channel: Int
        @Argument(help: "Digits to send.") var digits: String
        @Option(help: "The number to call first.") var number = "201"
        @OptionGroup var options: CardOptions

        func run() async throws {
            let opened = try options.open(channels: [channel])
            defer { opened.shutdown() }
            let line = try opened.channel(channel)
            do {
                try await answeredCall(line, to: number)
                line.dtmfDetector.clearDigits()
                let cause = try await line.dtmfPlayer.play(digits)
                let back = try await line.dtmfDetector.getDigits(count: digits.count, predigitsTimeout: .seconds(3), interdigitTimeout: .seconds(2))
                await line.hangUp()
                print("sent \(digits) (\(cause.rawValue)); heard back: \(back.isEmpty ? "nothing" : back)")
            } catch let error as CallError {
                throw fail(error)
            }
        }
    }
}
