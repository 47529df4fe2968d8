import Foundation
import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

/// Fax over the simulated exchange: our FaxSender and FaxReceiver against the exchange's fax
/// machine (spandsp's T.30 terminal) and against each other.
final class FaxTests: XCTestCase {
    override class func tearDown() {
        try? FileManager.default.removeItem(at: folder)
        super.tearDown()
    }

    static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-fax-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// A page with text-like bars and a diagonal, different on every page.
    static func page(_ number: Int, height: Int = 400) -> FaxDocument.Page {
        var black = [Bool](repeating: false, count: 1728 * height)
        for row in 0..<height {
            for x in 0..<1728 {
                let bar = (row / 12 + number) % 3 == 0 && (x / 40 + row / 24) % 2 == 0
                let diagonal = abs(x - (row * 4 + number * 100) % 1728) < 3
                black[row * 1728 + x] = bar || diagonal
            }
        }
        return FaxDocument.Page(height: height, black: black)
    }

    static func document(pages: Int, name: String) throws -> (path: String, pages: [FaxDocument.Page]) {
        let path = folder.appendingPathComponent(name).path
        let content = (1...pages).map { page($0) }
        try FaxDocument.write(content, to: path)
        return (path, content)
    }

    func bench(receivingInto path: String) throws -> Bench {
        var exchange = ExchangeConfiguration()
        exchange.routes["801"] = Route(.faxMachine(FaxMachine(receiveFile: path)))
        return try Bench(exchange: exchange)
    }

    func testSendToTheExchangesFaxMachineArrivesPixelForPixel() async throws {
        let (path, pages) = try Self.document(pages: 2, name: "send-2.tif")
        let received = Self.folder.appendingPathComponent("received-2.tif").path
        let bench = try bench(receivingInto: received)
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "801")
        XCTAssertEqual(state, .answered)
        let document = try FaxToSend(path)
        XCTAssertEqual(document.pageCount, 2)
        let started = Date()
        let cause = try await channel.faxSender.send(document)
        XCTAssertEqual(cause, .normal, channel.faxSender.details.rawCause)
        XCTAssertEqual(channel.faxSender.details.pages, 2)
        XCTAssertTrue(channel.faxSender.details.lastPage)
        XCTAssertEqual(channel.faxSender.details.negotiated["dataRate"], "14400", "\(channel.faxSender.details.negotiated)")
        print("fax: 2 pages in \(Date().timeIntervalSince(started)) s of wall time; \(channel.faxSender.details.negotiated)")
        await channel.hangUp()
        await bench.pass(1, on: 1)
        let got = try FaxDocument.read(received)
        XCTAssertEqual(got.count, 2)
        for (a, b) in zip(got, pages) {
            XCTAssertEqual(a.width, b.width)
            XCTAssertEqual(a.height, b.height)
            XCTAssertTrue(a.black == b.black, "pixels differ")
        }
    }
}

extension FaxTests {
    func testReceiveFromAFaxMachineCallingInReportsEachPage() async throws {
        let (path, pages) = try Self.document(pages: 3, name: "incoming-3.tif")
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(2)
        try bench.sim.placeFaxCall(toPort: 2, faxMachine: FaxMachine(sendFile: path))
        let incoming = try await channel.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(incoming, .callIncoming)
        _ = try await channel.answer()
        let out = Self.folder.appendingPathComponent("got-3.tif").path
        let started = try await channel.faxReceiver.start(to: out)
        XCTAssertTrue(started, "start returns once the first T.30 message has been exchanged")
        XCTAssertEqual(channel.faxReceiver.state, .receiving)
        XCTAssertFalse(channel.faxReceiver.details.negotiated.isEmpty)
        let settings = try await channel.faxReceiver.waitForNegotiatedSettings(timeout: .seconds(30))
        XCTAssertEqual(settings["ECM"], "YES")
        // The reference's loop runs once per page: lastPage is set with the third.
        var seen: [Int] = []
        while !channel.faxReceiver.details.lastPage {
            seen.append(try await channel.faxReceiver.waitForNextPage(timeout: .seconds(60)))
            if seen.count > 5 { break }
        }
        XCTAssertEqual(seen, [1, 2, 3])
        XCTAssertEqual(channel.faxReceiver.state, .receiving, "the last page is known before the job ends")
        let cause = await channel.faxReceiver.waitUntilFinished(timeout: .seconds(30))
        XCTAssertEqual(cause, .normal, channel.faxReceiver.details.rawCause)
        XCTAssertEqual(channel.faxReceiver.state, .idle)
        let got = try FaxDocument.read(out)
        XCTAssertEqual(got.count, 3)
        XCTAssertTrue(zip(got, pages).allSatisfy { $0.black == $1.black }, "pixel for pixel")
        await channel.hangUp()
    }

    /// Port 0 calls port 1 through the exchange; 0 sends, 1 receives, with each modem and
    /// ECM on and off.
    func testBetweenTwoPortsWithEachModemAndECM() async throws {
        let (path, pages) = try Self.document(pages: 1, name: "modems.tif")
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let cases: [([String: String], String, String)] = [
            (["v17": "YES", "ECM": "NO"], "14400", "NO"),
            (["v17": "NO"], "9600", "YES"),
            (["v17": "NO", "v29": "NO", "ECM": "NO"], "4800", "NO"),
        ]
        for (options, rate, ecm) in cases {
            let a = bench.channel(0), b = bench.channel(1)
            try a.startCall(to: bench.sim.number(ofPort: 1))
            _ = try await b.waitForIncomingCall(timeout: .seconds(10))
            _ = try await b.answer()
            _ = await a.waitForAnswer(timeout: .seconds(10))
            let out = Self.folder.appendingPathComponent("modem-\(rate).tif").path
            async let receiving = b.faxReceiver.start(to: out)
            while b.faxReceiver.state != .receiving { await Task.yield() }
            let cause = try await a.faxSender.send(try FaxToSend(path), options: options)
            let received = try await receiving
            XCTAssertTrue(received)
            XCTAssertEqual(cause, .normal, "\(options): \(a.faxSender.details.rawCause)")
            XCTAssertEqual(a.faxSender.details.negotiated["dataRate"], rate, "\(options)")
            XCTAssertEqual(a.faxSender.details.negotiated["ECM"], ecm, "\(options)")
            _ = await b.faxReceiver.waitUntilFinished(timeout: .seconds(30))
            XCTAssertEqual(try FaxDocument.read(out).first?.black, pages[0].black, "\(options)")
            await a.hangUp()
            await b.hangUp()
            await bench.pass(1, on: 3)
        }
    }

    func testOptionsAndRulesAreCheckedBeforeAnyAudio() async throws {
        let (path, _) = try Self.document(pages: 1, name: "rules.tif")
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let document = try FaxToSend(path)
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.send(document)) { XCTAssertTrue("\($0)".hasPrefix("Hangup")) }
        try channel.startCall(to: "400")
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.send(document)) { XCTAssertTrue("\($0)".hasPrefix("Error")) }
        await channel.hangUp()
        await bench.pass(1)
        let answered = try await channel.call(to: "800")
        XCTAssertEqual(answered, .answered)
        for (options, cause, failed) in [
            (["v34": "YES"], FaxCause.unknownOption, ["v34": "YES"]),
            (["ECM": "maybe"], .unknownValue, ["ECM": "maybe"]),
            (["MinDataRate": "9000"], .unknownValue, ["MinDataRate": "9000"]),
            (["SubscriberId": "+44 20 7946 0000 ext 5"], .unknownValue, ["SubscriberId": "+44 20 7946 0000 ext 5"]),
            (["v17": "NO", "MinDataRate": "14400"], .inconsistentOptions, ["v17": "NO", "MinDataRate": "14400"]),
            (["MinDataRate": "9600", "MaxDataRate": "4800"], .inconsistentOptions, ["MinDataRate": "9600", "MaxDataRate": "4800"]),
        ] {
            let started = try await channel.faxSender.start(document, options: options)
            XCTAssertFalse(started, "\(options)")
            XCTAssertEqual(channel.faxSender.cause, cause, "\(options)")
            XCTAssertEqual(channel.faxSender.details.failedOption, failed, "\(options)")
            XCTAssertEqual(channel.faxSender.state, .error)
        }
        // Stop: ABORTED; stop when not sending: true at once.
        let begun = try await channel.faxSender.start(document)
        XCTAssertTrue(begun)
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.start(document)) { XCTAssertTrue("\($0)".contains("already SENDING")) }
        await XCTAssertThrowsErrorAsync(try await channel.faxReceiver.start(to: "/nonexistent/x.tif")) { XCTAssertTrue("\($0)".contains("cannot write")) }
        await bench.pass(3)
        let stopped = try await channel.faxSender.stop()
        XCTAssertTrue(stopped)
        XCTAssertEqual(channel.faxSender.cause, .aborted)
        let again = try await channel.faxSender.stop()
        XCTAssertTrue(again)
        let finished = await channel.faxSender.waitUntilFinished(timeout: .seconds(1))
        XCTAssertEqual(finished, .aborted)
        await channel.hangUp()
        let idleWait = await channel.faxSender.waitUntilFinished()
        XCTAssertEqual(idleWait, .aborted, "no Hangup when the call is already IDLE")
    }

    func testAPersonAnsweringIsNotAFaxAndAHangUpMidFaxIsHangup() async throws {
        let (path, _) = try Self.document(pages: 3, name: "person.tif")
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        // 200 answers "hello" and stays: no fax signals ever.
        let answered = try await channel.call(to: "200")
        XCTAssertEqual(answered, .answered)
        let cause = try await channel.faxSender.send(try FaxToSend(path))
        XCTAssertEqual(cause, .notFax, channel.faxSender.details.rawCause)
        XCTAssertEqual(channel.faxSender.details.negotiated, [:])
        await channel.hangUp()
        await bench.pass(1)

        // Port 1 receives and hangs up after the first page.
        let a = bench.channel(0), b = bench.channel(1)
        try a.startCall(to: bench.sim.number(ofPort: 1))
        _ = try await b.waitForIncomingCall(timeout: .seconds(10))
        _ = try await b.answer()
        _ = await a.waitForAnswer(timeout: .seconds(10))
        async let receiving = b.faxReceiver.start(to: Self.folder.appendingPathComponent("cut.tif").path)
        while b.faxReceiver.state != .receiving { await Task.yield() }
        let sending = try await a.faxSender.start(try FaxToSend(path))
        XCTAssertTrue(sending)
        let received = try await receiving
        XCTAssertTrue(received)
        let first = try await a.faxSender.waitForNextPage(timeout: .seconds(60))
        XCTAssertEqual(first, 1)
        await b.hangUp()
        let ended = await a.faxSender.waitUntilFinished(timeout: .seconds(60))
        XCTAssertEqual(ended, .hangup, a.faxSender.details.rawCause)
        await a.hangUp()
    }

    func testDocumentsAreCheckedWhenSet() throws {
        let (one, _) = try Self.document(pages: 1, name: "one.tif")
        let (two, _) = try Self.document(pages: 2, name: "two.tif")
        let document = try FaxToSend(one, two)
        XCTAssertEqual(document.pageCount, 3)
        let text = Self.folder.appendingPathComponent("not.tif").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try FaxToSend(text)) { XCTAssertTrue("\($0)".contains("not a TIFF file"), "\($0)") }
        XCTAssertThrowsError(try FaxToSend("/nonexistent.tif")) { XCTAssertTrue("\($0)".contains("no file /nonexistent.tif")) }
        let narrow = Self.folder.appendingPathComponent("narrow.tif").path
        try FaxDocument.write([FaxDocument.Page(width: 1000, height: 10, black: [Bool](repeating: false, count: 10_000))], to: narrow)
        XCTAssertThrowsError(try FaxToSend(narrow)) { XCTAssertTrue("\($0)".contains("1000 pixels wide"), "\($0)") }
        XCTAssertThrowsError(try document.setContent([])) { XCTAssertTrue("\($0)".contains("at least one")) }
    }
}

extension FaxTests {
    /// The level spandsp's fax terminal sends at, measured on its DIS (V.21) after CED.
    static func faxSignalLevel() -> Double {
        let terminal = FaxTerminal(calling: false)
        var samples = [Int16](repeating: 0, count: 8000 * 5)
        samples.withUnsafeMutableBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                terminal.transmit(into: buffer.baseAddress! + i, count: 160)
                i += 160
            }
        }
        // CED, then the V.21 preamble and DIS, with pauses: the level while it sends,
        // from 50 ms windows that are not silent.
        let windows = stride(from: 8000 * 4, to: samples.count - 400, by: 400).map { PowerMeter.level(of: Array(samples[$0 ..< $0 + 400])) }
        let sending = windows.filter { $0 > -50 }.sorted()
        return sending.isEmpty ? -99 : sending[sending.count / 2]
    }

    /// Receives a page from a fax machine calling in over white noise; true when it arrived
    /// intact.
    func receivesThrough(snr: Double, signal: Double, page: (path: String, pages: [FaxDocument.Page]),
                         options: [String: String] = [:]) async throws -> Bool {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(2)
        try bench.sim.placeFaxCall(toPort: 2, faxMachine: FaxMachine(sendFile: page.path),
                                   impairments: Impairments(noiseLevel: signal - snr))
        _ = try await channel.waitForIncomingCall(timeout: .seconds(10))
        _ = try await channel.answer()
        let out = Self.folder.appendingPathComponent("snr-\(snr).tif").path
        let cause = try await channel.faxReceiver.receive(to: out, options: options)
        await channel.hangUp()
        guard cause == .normal, let got = try? FaxDocument.read(out), got.count == 1 else { return false }
        return got[0].black == page.pages[0].black
    }

    /// The receivers' carrier level is raised above spandsp's own: a fax after 18 dB of line
    /// loss (arriving at -32 dBm0) must still get through.
    func testAWeakFaxSignalIsStillHeard() async throws {
        let (path, pages) = try Self.document(pages: 1, name: "weak.tif")
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(2)
        try bench.sim.placeFaxCall(toPort: 2, faxMachine: FaxMachine(sendFile: path), impairments: Impairments(lossDecibels: 18))
        _ = try await channel.waitForIncomingCall(timeout: .seconds(10))
        _ = try await channel.answer()
        let out = Self.folder.appendingPathComponent("weak-in.tif").path
        let cause = try await channel.faxReceiver.receive(to: out)
        XCTAssertEqual(cause, .normal, channel.faxReceiver.details.rawCause)
        XCTAssertEqual(try FaxDocument.read(out).first?.black, pages[0].black)
        await channel.hangUp()
    }

    /// A page must arrive at 30 dB SNR; the lowest SNR that still works is printed, beside
    /// the same sweep with two terminals back to back and no engine, card or channel.
    func testLineNoise() async throws {
        let signal = Self.faxSignalLevel()
        XCTAssertEqual(signal, -14, accuracy: 1, "spandsp sends at -14 dBm0")
        let page = try Self.document(pages: 1, name: "noise.tif")
        let at30 = try await receivesThrough(snr: 30, signal: signal, page: page)
        XCTAssertTrue(at30, "a page over 30 dB SNR (noise at \(signal - 30) dBm0)")
        var lowest: Double? = at30 ? 30 : nil
        for snr in stride(from: 27.0, through: 9, by: -3) where lowest != nil {
            guard try await receivesThrough(snr: snr, signal: signal, page: page) else { break }
            lowest = snr
        }
        let raw = FaxTerminalFloor.lowestPassingSNR(signal: signal, folder: Self.folder.path)
        print(String(format: "fax line noise: signal %.1f dBm0; through the stack a page arrives pixel-identical down to %@ dB SNR; two terminals back to back: %@ dB",
                     signal, lowest.map { String(Int($0)) } ?? "none", raw.map { String(Int($0)) } ?? "none"))
    }}

/// The same sweep with two spandsp terminals back to back and no engine, card or channel.
enum FaxTerminalFloor {
    static func lowestPassingSNR(signal: Double, folder: String) -> Double? {
        let page = (folder as NSString).appendingPathComponent("floor.tif")
        var black = [Bool](repeating: false, count: 1728 * 400)
        for i in stride(from: 0, to: black.count, by: 7) { black[i] = true }
        guard (try? FaxDocument.write([FaxDocument.Page(height: 400, black: black)], to: page)) != nil else { return nil }
        var lowest: Double?
        for snr in stride(from: 45.0, through: 9, by: -3) {
            let sender = FaxTerminal(calling: true), receiver = FaxTerminal(calling: false)
            sender.setTransmitFile(page)
            receiver.setReceiveFile((folder as NSString).appendingPathComponent("floor-out.tif"))
            let noise = NoiseGenerator(level: signal - snr)
            var a = [Int16](repeating: 0, count: 160), b = [Int16](repeating: 0, count: 160)
            var blocks = 0
            while (sender.completion == nil || receiver.completion == nil) && blocks < 50 * 300 {
                a.withUnsafeMutableBufferPointer { sender.transmit(into: $0.baseAddress!, count: 160); noise.add(to: $0.baseAddress!, count: 160) }
                b.withUnsafeMutableBufferPointer { receiver.transmit(into: $0.baseAddress!, count: 160) }
                a.withUnsafeBufferPointer { receiver.receive($0.baseAddress!, count: 160) }
                b.withUnsafeBufferPointer { sender.receive($0.baseAddress!, count: 160) }
                blocks += 1
            }
            guard receiver.completion == 0 else { break }
            lowest = snr
        }
        return lowest
    }
}
