import ArgumentParser
import CBaseline
import Foundation
import Linecard
import LinecardEngine
import SimulatedCard

/// One fax, back to back: raw spandsp in a C loop, then through the whole stack.
struct FaxBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fax",
        abstract: "Wall time of a fax: two spandsp terminals in a C loop vs the channel API on the simulated card.",
        discussion: """
            The same pages (made here: 1728 pixels wide, fine resolution) go from a calling \
            terminal to an answering one, V.17 with ECM. The baseline is a plain C loop over two \
            spandsp fax_state_t. The stack is FaxSender on port 0 calling port 1 through the \
            simulated exchange, FaxReceiver on port 1: the channel API, the engine in virtual \
            time, the rings, the fax threads. Both receive files are checked pixel for pixel.

            Example:
              swift run -c release linecard-bench fax --pages 3 --runs 5
            """)

    @Option(help: "Pages in the fax.") var pages = 3
    @Option(help: "Runs of each; the median is reported.") var runs = 3
    @Flag(help: "Print a JSON object.") var json = false

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-fax-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = folder.appendingPathComponent("send.tif").path
        let content = (1...pages).map { Self.page($0) }
        try FaxDocument.write(content, to: document)

        var raw: [Double] = [], stack: [Double] = [], lineSeconds = 0.0
        for run in 0..<runs {
            let rawOut = folder.appendingPathComponent("raw-\(run).tif").path
            var sent: Int32 = -1, received: Int32 = -1
            let start = DispatchTime.now().uptimeNanoseconds
            let samples = linecard_baseline_fax(document, rawOut, 160, &sent, &received)
            raw.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard sent == 0, received == 0, try FaxDocument.read(rawOut).map(\.black) == content.map(\.black) else {
                throw ValidationError("the baseline fax failed (codes \(sent), \(received))")
            }
            lineSeconds = Double(samples) / 8000
            let (seconds, line) = try await Self.throughTheStack(document, content, out: folder.appendingPathComponent("stack-\(run).tif").path)
            stack.append(seconds)
            _ = line
        }
        let r = raw.sorted()[raw.count / 2], s = stack.sorted()[stack.count / 2]
        let perCore = lineSeconds / s
        if json {
            let row: [String: Any] = ["pages": pages, "line_seconds": lineSeconds, "raw_seconds": r, "stack_seconds": s,
                                      "ratio": s / r, "faxes_per_core": perCore]
            print(String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%d pages, %.1f s of line time; median of %d: raw spandsp %.3f s, stack %.3f s, ratio %.2f; one core carries %.0f faxes in real time",
                         pages, lineSeconds, runs, r, s, s / r, perCore))
        }
    }

    static func page(_ number: Int) -> FaxDocument.Page {
        let height = 1100
        var black = [Bool](repeating: false, count: 1728 * height)
        for row in 0..<height {
            for x in 0..<1728 where (row / 14 + number) % 3 == 0 && (x / 36 + row / 28) % 2 == 0 || abs(x - (row + number * 200) % 1728) < 2 {
                black[row * 1728 + x] = true
            }
        }
        return FaxDocument.Page(height: height, black: black)
    }

    /// Port 0 sends to port 1 through the exchange; returns the wall time from the start of
    /// the fax to its end, and its line time.
    static func throughTheStack(_ document: String, _ content: [FaxDocument.Page], out: String) async throws -> (Double, Double) {
        let sim = SimulatedCard()
        let card = try Card(backend: sim, engine: EngineConfiguration(blockSize: 160, clock: .virtual), localChannels: 0)
        defer { card.shutdown() }
        let a = card.channels[0], b = card.channels[1]
        try a.startCall(to: sim.number(ofPort: 1))
        _ = try await b.waitForIncomingCall(timeout: .seconds(10))
        _ = try await b.answer()
        guard await a.waitForAnswer(timeout: .seconds(10)) == .answered else { throw ValidationError("the call was not answered") }
        let toSend = try FaxToSend(document)
        let lineStart = card.engine.lineTime
        let start = DispatchTime.now().uptimeNanoseconds
        async let receiving = b.faxReceiver.start(to: out)
        // The receiver's session runs before the sender starts, as a fax machine answers first.
        let receiverDeadline = Date().addingTimeInterval(5)
        while b.faxReceiver.state != .receiving, Date() < receiverDeadline { await Task.yield() }
        let cause = try await a.faxSender.send(toSend)
        guard try await receiving else { throw ValidationError("the receiver did not start") }
        _ = await b.faxReceiver.waitUntilFinished(timeout: .seconds(60))
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let line = Double(card.engine.lineTime - lineStart) / 8000
        guard cause == .normal, try FaxDocument.read(out).map(\.black) == content.map(\.black) else {
            throw ValidationError("the fax through the stack failed: \(cause.rawValue) \(a.faxSender.details.rawCauseDescription)")
        }
        await a.hangUp()
        await b.hangUp()
        return (wall, line)
    }
}
