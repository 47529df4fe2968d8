import ArgumentParser
import DahdiCard
import Foundation
import Linecard

/// `linecard timing`: how closely the card's sample clock keeps time, like dahdi_test.
struct TimingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timing", abstract: "Measure the sample clock against the system clock, one pass a second (like dahdi_test).",
        discussion: """
            Each pass counts the samples the card delivered in one second of the system's
            monotonic clock. The check passes when every pass is within 99.99 %.
            On the simulated card the engine's own pacing is what is measured; on DAHDI and
            ALSA, the card's clock, read through the channel's blocks.

            Examples:
              linecard timing --seconds 10
              linecard timing --card dahdi --channel 1
            """)
    @Option(help: "Passes to run.") var seconds = 5
    @Option(help: "On DAHDI, a channel on the span whose clock to measure (default: the first audio channel).") var channel: Int?
    @OptionGroup var options: CardOptions

    struct Pass: Encodable { let samples: Int64; let wallSeconds: Double; let accuracy: Double }
    struct Summary: Encodable { let passes: [Pass]; let best: Double; let worst: Double; let average: Double; let cumulative: Double; let passed: Bool }

    func validate() throws { guard (1...3600).contains(seconds) else { throw ValidationError("--seconds must be 1 to 3600") } }

    func run() async throws {
        var paced = options
        paced.paced = true
        // Passes start and end on block boundaries, so the block size does not limit the
        // reading; on DAHDI 20 ms blocks leave the CPU to the driver (with 2 ms blocks a
        // loaded machine falls behind and loses samples, which would be counted against the
        // card), elsewhere 1 ms blocks pace the simulated card most finely.
        var channels: [Int] = []
        if options.isDahdi {
            if let channel {
                channels = [channel]
            } else {
                let first = try? DahdiScanner.scan().flatMap(\.channels).first { $0.kind != nil }
                channels = first.map { [$0.number] } ?? []
            }
        }
        let opened = try paced.open(blockSize: options.isDahdi ? 160 : 8, channels: channels)
        defer { opened.shutdown() }
        let card = opened.card
        func now() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        var passes: [Pass] = []
        /// The system time at which line time next moves on, and the new line time: both
        /// read at a tick boundary, so a pass is not off by a part of a tick.
        func boundary() -> (Double, Int64) {
            let before = card.engine.lineTime
            var s = before
            while s == before { s = card.engine.lineTime }
            return (now(), s)
        }
        try await Task.sleep(for: .milliseconds(200))
        var (startTime, startSamples) = boundary()
        let first = (startTime, startSamples)
        for _ in 0..<seconds {
            try await Task.sleep(for: .milliseconds(990))
            let (t, s) = boundary()
            let pass = Pass(samples: s - startSamples, wallSeconds: t - startTime,
                            accuracy: 100 * (1 - abs(Double(s - startSamples) / 8000 - (t - startTime)) / (t - startTime)))
            passes.append(pass)
            if !options.json {
                print(String(format: "%lld samples in %.1f system clock sample intervals (%.3f%%)", pass.samples, pass.wallSeconds * 8000, pass.accuracy))
            }
            (startTime, startSamples) = (t, s)
        }
        let accuracies = passes.map(\.accuracy)
        let total = Double(startSamples - first.1) / 8000, wall = startTime - first.0
        let summary = Summary(passes: passes, best: accuracies.max() ?? 0, worst: accuracies.min() ?? 0,
                              average: accuracies.reduce(0, +) / Double(max(1, accuracies.count)),
                              cumulative: 100 * (1 - abs(total - wall) / wall), passed: (accuracies.min() ?? 0) >= 99.99)
        if options.json { try printJSON(summary) } else {
            print(String(format: "--- best %.3f%%  worst %.3f%%  average %.3f%%  cumulative %.4f%%: %@", summary.best, summary.worst,
                         summary.average, summary.cumulative, summary.passed ? "PASS (99.99% mark)" : "FAIL (below the 99.99% mark)"))
        }
        if !summary.passed { throw ExitCode.failure }
    }
}
