import ArgumentParser
import Foundation
import Linecard
import SimulatedCard

/// `linecard fax send|receive`: a fax on a call, with its progress.
struct FaxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fax", abstract: "Send or receive a fax, showing phase, page and bit rate.",
        subcommands: [Send.self, Receive.self])

    /// Options as NAME=VALUE (docs/FAX.md lists them).
    static func parse(_ options: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for option in options {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--option takes NAME=VALUE, e.g. ECM=NO (got \"\(option)\")") }
            result[parts[0]] = parts[1]
        }
        return result
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "send", abstract: "Call NUMBER and send FILE.tif (one or more TIFF-F files).",
            discussion: """
                On the simulated exchange, 800 is a fax machine. Options are NAME=VALUE:
                v17, v29, v27, ECM, HighRes (YES/NO), MinDataRate, MaxDataRate (2400-14400),
                SubscriberId, HeaderInfo. Exit status 0 only when the fax ends NORMAL.

                Example:
                  linecard fax send 0 800 letter.tif --option ECM=NO
                """)
        @Argument(help: "The channel.") var channel: Int
        @Argument(help: "The number to call.") var number: String
        @Argument(help: "TIFF files to send, in order.") var files: [String]
        @Option(name: .customLong("option"), help: "A fax option as NAME=VALUE (repeatable).") var faxOptions: [String] = []
        @OptionGroup var options: CardOptions

        func run() async throws {
            let faxOptions = try FaxCommand.parse(self.faxOptions)
            let document: FaxToSend
            do {
                document = FaxToSend()
                try document.setContent(files)
            } catch { throw fail(error) }
            let opened = try options.open(channels: [channel])
            defer { opened.shutdown() }
            let card = opened.card
            let line = try opened.channel(channel)
            do {
                try await answeredCall(line, to: number)
                guard try await line.faxSender.start(document, options: faxOptions) else {
                    throw fail("fax options refused: \(line.faxSender.cause.rawValue) \(line.faxSender.details.failedOption)")
                }
                let cause = await FaxCommand.follow(line, card: card, total: document.pageCount, json: options.json) { line.faxSender.details } running: {
                    line.faxSender.state == .sending
                }
                await line.hangUp()
                try FaxCommand.report(cause, line.faxSender.details, json: options.json)
            } catch let error as CallError {
                throw fail(error)
            }
        }
    }

    struct Receive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "receive", abstract: "Answer the next call on CHANNEL and receive a fax into OUT.tif.",
            discussion: """
                On the simulated card --test-call FILE has the exchange's fax machine call the
                channel and send FILE. Exit status 0 only when the fax ends NORMAL.

                Example:
                  linecard fax receive 2 in.tif --test-call letter.tif
                """)
        @Argument(help: "The channel (an FXO port).") var channel: Int
        @Argument(help: "Where to write the pages (TIFF-F).") var output: String
        @Option(help: "Simulated card: a fax machine calls and sends this TIFF file.") var testCall: String?
        @Option(help: "Seconds to wait for the call.") var wait = 60.0
        @Option(name: .customLong("option"), help: "A fax option as NAME=VALUE (repeatable).") var faxOptions: [String] = []
        @OptionGroup var options: CardOptions

        func run() async throws {
            let faxOptions = try FaxCommand.parse(self.faxOptions)
            if let testCall { do { _ = try FaxToSend(testCall) } catch { throw fail(error) } }
            let opened = try options.open(channels: [channel])
            defer { opened.shutdown() }
            let card = opened.card
            let line = try opened.channel(channel)
            do {
                if let testCall {
                    let sim = try opened.simulated(for: "--test-call")
                    do { try sim.placeFaxCall(toPort: channel, faxMachine: FaxMachine(sendFile: testCall)) } catch { throw fail(error) }
                }
                guard try await line.waitForIncomingCall(timeout: .milliseconds(Int(wait * 1000))) == .callIncoming else {
                    throw fail("no call on channel \(channel) within \(wait) s")
                }
                _ = try await line.answer()
                guard try await line.faxReceiver.start(to: output, options: faxOptions) else {
                    throw fail("fax options refused: \(line.faxReceiver.cause.rawValue) \(line.faxReceiver.details.failedOption)")
                }
                let cause = await FaxCommand.follow(line, card: card, total: nil, json: options.json) { line.faxReceiver.details } running: {
                    line.faxReceiver.state == .receiving
                }
                await line.hangUp()
                try FaxCommand.report(cause, line.faxReceiver.details, json: options.json)
            } catch let error as CallError {
                throw fail(error)
            }
        }
    }

    /// Shows the job's phase, page and bit rate until it ends (redrawn in place on a
    /// terminal, a line per change otherwise); returns the cause.
    static func follow(_ line: CallChannel, card: Card, total: Int?, json: Bool, details: () -> FaxDetails,
                       running: () -> Bool) async -> FaxCause {
        let tty = isatty(STDOUT_FILENO) != 0 && !json
        var last = ""
        while running() {
            _ = await line.waitForIdleOrTime(0.25)
            let d = details()
            let phase = d.negotiated.isEmpty ? "negotiating" : d.lastPage ? "ending" : "pages"
            let rate = d.negotiated["dataRate"].map { "\($0) bit/s \(d.negotiated["modem"] ?? "")" } ?? ""
            let ecm = d.negotiated["ECM"] == "YES" ? ", ECM" : ""
            let pages = total.map { "\(d.pages)/\($0)" } ?? "\(d.pages)"
            let width = 20
            let filled = total.map { $0 > 0 ? min(width, d.pages * width / $0) : 0 } ?? min(width, d.pages)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let text = String(format: "%7.1f s  [%@] %@  page %@  %@%@", Double(card.engine.lineTime) / 8000, bar, phase, pages, rate, ecm)
            if json { continue }
            if tty {
                FileHandle.standardOutput.write(Data("\r\(text)\u{1B}[K".utf8))
            } else if text.dropFirst(10) != last.dropFirst(10) {
                print(text)
            }
            last = text
        }
        if tty { print("") }
        return await line.faxSender.waitUntilFinished(timeout: .seconds(5))
    }

    static func report(_ cause: FaxCause, _ details: FaxDetails, json: Bool) throws {
        if json {
            struct Report: Encodable {
                let id: Int, cause: String, pages: Int, negotiated: [String: String], rawCause: String, rawCauseDescription: String
            }
            try printJSON(Report(id: details.id, cause: cause.rawValue, pages: details.pages, negotiated: details.negotiated,
                                 rawCause: details.rawCause, rawCauseDescription: details.rawCauseDescription))
        } else {
            let code = details.rawCause.isEmpty ? "" : " (fax error \(details.rawCause))"
            print("\(cause.rawValue): \(details.pages) page(s); \(details.rawCauseDescription)\(code)")
        }
        if cause != .normal { throw ExitCode.failure }
    }
}
