import ArgumentParser
import Foundation
import Linecard
import LinecardDSP

/// `linecard selftest`: two ports looped through the exchange, checked end to end.
struct SelftestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Call one port from another and check level, noise, echo and DTMF across the loop.",
        discussion: """
            Channel A calls channel B through the exchange (on the simulated card: A dials
            100+B); B answers. A sends a 1004 Hz test tone at -10 dBm0 for a second and B
            records it: level within 2 dB of what the exchange should deliver and an SNR of
            30 dB or more pass. A hears its own tone come back at least 20 dB down (echo
            return loss). All 16 DTMF digits go from A to B and must arrive in order. A faxes
            B one page, which must arrive pixel for pixel.

            On a simulated ISDN span (--card sim:e1) A's SETUP for 100+B reaches B as an
            incoming SETUP, and a refusal prints its Q.850 cause.

            On DAHDI the channels are DAHDI channel numbers: an FXS port (fxoks signalling)
            rings a looped FXO port, an FXO port dials --number, and two clear channels
            (looped spans, a loop cable on a T1/E1) are connected at once.

            Examples:
              linecard selftest --from 0 --to 1
              linecard selftest --card dahdi --from 9 --to 11
              linecard selftest --card dahdi --from 1 --to 5
            """)
    @Option(help: "The calling channel.") var from = 0
    @Option(help: "The answering channel.") var to = 1
    @Option(help: "The number channel A dials to reach B (default: 100+B on the simulated exchange; none for an FXS port, which rings its line).")
    var number: String?
    @OptionGroup var options: CardOptions

    struct Check: Encodable { let name: String; let value: String; let limit: String; let passed: Bool? }

    func run() async throws {
        guard from != to else { throw fail("--from and --to must be different channels") }
        let opened = try options.open(channels: [from, to])
        defer { opened.shutdown() }
        let a = try opened.channel(from), b = try opened.channel(to)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-selftest-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var checks: [Check] = []
        do {
            if a.kind == .clear && b.kind == .clear {
                // Clear channels are a standing connection: both ends are "answered" at once.
                try a.startCall(to: "")
                try b.startCall(to: "")
            } else {
                if a.kind == .fxo && number == nil && opened.simulated == nil {
                    throw fail("channel \(from) is an FXO line: give --number, the number that reaches channel \(to)")
                }
                try a.startCall(to: number ?? (opened.simulated != nil ? "\(100 + to)" : ""), timeout: .seconds(30))
                let incoming = try await b.waitForIncomingCall(timeout: .seconds(15))
                guard incoming == .callIncoming || incoming == .ringIncoming else {
                    throw fail("channel \(to) saw no call from channel \(from)" + (a.state == .idle ? ": \(a.cause.rawValue) (\(a.details.rawCause))" : ""))
                }
                _ = try await b.answer()
                guard await a.waitForAnswer(timeout: .seconds(15)) == .answered else {
                    throw fail("the loop call was not answered: \(a.cause.rawValue) (\(a.details.rawCause))")
                }
            }
            checks.append(Check(name: "loop call", value: "answered", limit: "answered", passed: true))

            // The test tone, recorded at both ends.
            let level = -10.0
            let amplitude = 32767.0 * pow(10, (level - 3.14) / 20)
            let tone = (0..<8000).map { Int16(amplitude * sin(2 * .pi * 1004 * Double($0) / 8000)) }
            let tonePath = folder.appendingPathComponent("tone.wav").path
            try WAVFile.write(tone, to: tonePath)
            let atB = folder.appendingPathComponent("b.wav").path, atA = folder.appendingPathComponent("a.wav").path
            // Both ends record until the whole tone has passed, wherever in line time it
            // starts; the measurement finds the tone in the recording.
            async let recordB = b.fileRecorder.record(to: atB, timeout: .seconds(10))
            async let recordA = a.fileRecorder.record(to: atA, timeout: .seconds(10))
            while a.fileRecorder.state != .recording || b.fileRecorder.state != .recording {
                _ = await a.waitForIdleOrTime(0.01)
            }
            try await a.filePlayer.play(tonePath)
            _ = await a.waitForIdleOrTime(0.2)
            b.fileRecorder.stop()
            a.fileRecorder.stop()
            _ = try await (recordB, recordA)
            let received = try WAVFile.read(atB), echoed = try WAVFile.read(atA)
            // Half a second from the middle of the tone, clear of its start and end.
            let start = (received.firstIndex { abs(Int($0)) > 300 } ?? 0) + 1600
            let (rxLevel, snr) = Self.measure(received.dropFirst(start).prefix(4000))
            checks.append(Check(name: "test tone level", value: String(format: "%.1f dBm0", rxLevel), limit: "-10 ± 2 dBm0",
                                passed: abs(rxLevel - level) <= 2))
            checks.append(Check(name: "signal to noise", value: String(format: "%.1f dB", snr), limit: ">= 30 dB", passed: snr >= 30))
            let (echoLevel, _) = Self.measure(echoed.dropFirst(start).prefix(4000))
            let erl = level - echoLevel
            checks.append(Check(name: "echo return loss", value: String(format: "%.1f dB", erl), limit: ">= 20 dB", passed: erl >= 20))

            let digits = "0123456789ABCD*#"
            b.dtmfDetector.clearDigits()
            _ = try await a.dtmfPlayer.play(digits)
            let heard = try await b.dtmfDetector.getDigits(count: 16, predigitsTimeout: .seconds(2), interdigitTimeout: .seconds(2))
            checks.append(Check(name: "DTMF round trip", value: heard.isEmpty ? "none" : heard, limit: digits, passed: heard == digits))
            checks.append(try await Self.faxPage(from: a, to: b, folder: folder))
            await a.hangUp()
            await b.hangUp()
        } catch let error as CallError {
            throw fail(error)
        }
        let passed = checks.allSatisfy { $0.passed != false }
        if options.json {
            struct Report: Encodable { let checks: [Check]; let passed: Bool }
            try printJSON(Report(checks: checks, passed: passed))
        } else {
            for c in checks {
                let mark = c.passed.map { $0 ? "pass" : "FAIL" } ?? "skip"
                print("\(mark)  \(c.name.padding(toLength: 17, withPad: " ", startingAt: 0)) \(c.value.padding(toLength: 18, withPad: " ", startingAt: 0)) (\(c.limit))")
            }
            print(passed ? "selftest passed" : "selftest FAILED")
        }
        if !passed { throw ExitCode.failure }
    }

    /// A sends B one page (a test pattern) by fax; it must arrive pixel for pixel.
    static func faxPage(from a: CallChannel, to b: CallChannel, folder: URL) async throws -> Check {
        let height = 300
        var black = [Bool](repeating: false, count: 1728 * height)
        for row in 0..<height {
            for x in 0..<1728 where (row / 10) % 2 == 0 && (x / 48) % 2 == 0 || abs(x - row * 5) < 2 { black[row * 1728 + x] = true }
        }
        let page = FaxDocument.Page(height: height, black: black)
        let sent = folder.appendingPathComponent("fax.tif").path, received = folder.appendingPathComponent("fax-in.tif").path
        try FaxDocument.write([page], to: sent)
        // The receiver's start returns once the sender's first T.30 message has arrived.
        async let receiving = b.faxReceiver.start(to: received)
        // The receiver's session runs before the sender starts, as a fax machine answers first.
        let receiverDeadline = Date().addingTimeInterval(5)
        while b.faxReceiver.state != .receiving, Date() < receiverDeadline { await Task.yield() }
        let cause = try await a.faxSender.send(try FaxToSend(sent))
        guard try await receiving else {
            return Check(name: "fax page", value: b.faxReceiver.cause.rawValue, limit: "one page", passed: false)
        }
        _ = await b.faxReceiver.waitUntilFinished(timeout: .seconds(30))
        let rate = a.faxSender.details.negotiated["dataRate"].map { " at \($0)" } ?? ""
        let intact = (try? FaxDocument.read(received).first?.black) == black
        return Check(name: "fax page", value: "\(cause.rawValue)\(rate)", limit: "one page, pixel for pixel", passed: cause == .normal && intact)
    }

    /// Level of the 1004 Hz tone (dBm0) and its ratio to everything else (dB).
    static func measure(_ samples: ArraySlice<Int16>) -> (Double, Double) {
        let x = samples.map(Double.init)
        guard x.count > 100 else { return (-99, 0) }
        let total = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        // Least-squares fit of a 1004 Hz sine: its power is the tone, the rest is noise.
        var c = 0.0, s = 0.0
        for (i, v) in x.enumerated() {
            let w = 2 * Double.pi * 1004 * Double(i) / 8000
            c += v * cos(w); s += v * sin(w)
        }
        let amplitude = 2 * (c * c + s * s).squareRoot() / Double(x.count)
        let tonePower = amplitude * amplitude / 2
        let noise = max(total - tonePower, 1e-3)
        return (PowerMeter.rmsToDBm0(tonePower.squareRoot()), 10 * log10(tonePower / noise))
    }
}
