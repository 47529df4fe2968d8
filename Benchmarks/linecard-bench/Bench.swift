import ArgumentParser
import CBaseline
import Foundation
import LinecardDSP
import LinecardEngine
import SimulatedCard
import Synchronization

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linecard-bench",
        abstract: "Benchmarks of the Linecard engine, each against a baseline run in the same process.",
        discussion: "Build in release mode: swift run -c release linecard-bench engine. docs/PERFORMANCE.md records the figures.",
        subcommands: [EngineBench.self, PacedBench.self, LatencyBench.self, FaxBench.self, IsdnBench.self])
}

/// DTMF generation and detection on every channel: raw spandsp in a C loop, then the same
/// work through the engine and the simulated card in virtual time.
struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "ns per channel-sample: a C loop over spandsp vs the engine on the simulated card.",
        discussion: """
            Every channel is in a call with another port of the simulated card (dialled \
            through the exchange), sending DTMF to it and detecting its DTMF (with the engine's \
            own Q.24 detector). The baseline does the same in a plain C loop over spandsp \
            (dtmf_tx, dtmf_rx). Runs alternate, and the median of --runs is reported.

            Example:
              swift run -c release linecard-bench engine --channels 240 --json
            """)

    @Option(help: "Channels (an even number).") var channels = 240
    @Option(help: "Line time per run, in seconds.") var seconds = 10
    @Option(help: "Runs of each; the median is reported.") var runs = 3
    @Option(help: "Block sizes in samples, comma separated.") var blocks = "8,160"
    @Flag(help: "Print one JSON object per block size.") var json = false
    @Flag(help: "Diagnostics: the engine and simulated card moving audio with no DSP, against the same baseline.") var plumbingOnly = false

    func validate() throws {
        guard channels >= 2, channels % 2 == 0 else { throw ValidationError("--channels must be even and at least 2") }
        guard seconds > 0, runs > 0 else { throw ValidationError("--seconds and --runs must be positive") }
    }

    func run() throws {
        var rows: [[String: Any]] = []
        for block in blocks.split(separator: ",").compactMap({ Int($0) }) {
            guard EngineConfiguration.blockSizes.contains(block) else { throw ValidationError(CardError.invalidBlockSize(block).description) }
            let samples = Int64(seconds) * 8000
            var baseline: [Double] = []
            var engine: [Double] = []
            var baselineDigits: Int64 = 0
            var engineDigits = 0
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                baselineDigits = linecard_baseline_dtmf(Int32(channels), Int32(block), samples)
                baseline.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(Int64(channels) * samples))
                let result = try Self.runEngine(channels: channels, block: block, samples: samples, dsp: !plumbingOnly)
                engine.append(result.nanoseconds)
                engineDigits = result.digits
            }
            let b = baseline.sorted()[runs / 2], e = engine.sorted()[runs / 2]
            let row: [String: Any] = [
                "block": block, "baseline_ns": round3(b), "engine_ns": round3(e), "ratio": round3(e / b),
                "channels_per_core": Int(1e9 / (e * 8000)), "channels": channels,
                "digits_baseline": baselineDigits, "digits_engine": engineDigits,
            ]
            rows.append(row)
            if !json {
                if rows.count == 1 {
                    print("channels \(channels), \(seconds) s of line time per run, median of \(runs)")
                    print("block  baseline ns/ch-sample  engine ns/ch-sample  ratio  channels/core  digits (baseline, engine)")
                }
                print(String(format: "%5d  %21.2f  %19.2f  %5.2f  %13d  %d, %d", block, b, e, e / b, Int(1e9 / (e * 8000)), baselineDigits, engineDigits))
            }
        }
        if json {
            for row in rows {
                let data = try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    /// What a port sends, over and over: the two ends of a call send different digits at any
    /// moment, since a port takes a digit heard while it sends that same digit for its own echo.
    /// The C baseline sends the same.
    static func digits(_ port: Int) -> DigitString {
        DigitString(port % 2 == 0 ? "0123456789ABCD*#0123456789ABCD*#" : "123456789ABCD*#0123456789ABCD*#0")!
    }

    /// Sets up the calls (not timed), then times `samples` of line time.
    static func runEngine(channels: Int, block: Int, samples: Int64, dsp: Bool = true) throws -> (nanoseconds: Double, digits: Int) {
        let card = SimulatedCard(fxoPorts: channels, fxsPorts: 0)
        let engine = try Engine(card: card, configuration: EngineConfiguration(blockSize: block, clock: .virtual, eventCapacity: 1 << 16))
        try connectPairs(engine: engine, card: card, channels: channels)
        if !dsp {
            for port in 0..<channels { try engine.submit(EngineCommand(port: port, .detectDigits(false))) }
        } else {
            for port in 0..<channels { try engine.submit(EngineCommand(port: port, .sendDigits(digits(port)))) }
        }
        var detected = 0
        var refill: [Int] = []
        refill.reserveCapacity(channels)
        let ticks = Int(samples) / block
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<ticks {
            try engine.runTicks(1) { event in
                switch event.kind {
                case .digitStarted: detected += 1
                case .digitsSent: refill.append(Int(event.port))
                default: break
                }
            }
            for port in refill { try engine.submit(EngineCommand(port: port, .sendDigits(digits(port)))) }
            refill.removeAll(keepingCapacity: true)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
        engine.shutdown()
        return (elapsed / Double(Int64(channels) * Int64(ticks * block)), detected)
    }

    /// Each even port calls the next port through the exchange, which answers.
    static func connectPairs(engine: Engine, card: SimulatedCard, channels: Int) throws {
        for port in 0..<channels { try engine.open(port: port) }
        for port in stride(from: 0, to: channels, by: 2) { try engine.submit(EngineCommand(port: port, .hook(.offHook))) }
        try engine.runTicks(8000 / engine.blockSize)
        for port in stride(from: 0, to: channels, by: 2) {
            try engine.submit(EngineCommand(port: port, .sendDigits(DigitString(card.number(ofPort: port + 1))!)))
        }
        try engine.runTicks(8000 / engine.blockSize)
        for port in stride(from: 1, to: channels, by: 2) { try engine.submit(EngineCommand(port: port, .hook(.offHook))) }
        var answered = 0
        try engine.runTicks(4000 / engine.blockSize) { if case .line(.polarityReversal, _) = $0.kind { answered += 1 } }
        guard answered == channels / 2 else { throw ValidationError("only \(answered) of \(channels / 2) calls were answered") }
        for port in 0..<channels { try engine.submit(EngineCommand(port: port, .detectDigits(true))) }
        try engine.runTicks(1)
    }
}

/// The engine paced to the wall clock: how late do ticks start?
struct PacedBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paced",
        abstract: "Runs channels in calls with DTMF at 1 ms ticks in real time and reports deadline misses.",
        discussion: """
            A tick is late when it starts after its deadline; a deadline miss is a tick that \
            started more than one tick period late. Real-time scheduling is asked for (and \
            reported); without it, expect misses on a busy machine. First, for --baseline-seconds, \
            a plain C thread with the same scheduling sleeps to the same deadlines doing no \
            work: its misses are the machine's own, and the engine's are read against them.

            Example:
              swift run -c release linecard-bench paced --channels 240 --seconds 60
            """)

    @Option(help: "Channels (an even number).") var channels = 240
    @Option(help: "Wall-clock seconds to run.") var seconds = 60
    @Option(help: "Samples per tick.") var block = 8
    @Option(help: "Seconds of the empty-loop baseline first (0: none).") var baselineSeconds = 20
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        var baseMisses: Int64 = 0, baseWorst: Int64 = 0, baseRealtime: Int32 = 0
        let basePeriods = baselineSeconds > 0
            ? linecard_baseline_pacing(Int64(block) * 125_000, Int32(baselineSeconds), &baseMisses, &baseWorst, &baseRealtime) : 0
        let card = SimulatedCard(fxoPorts: channels, fxsPorts: 0)
        let engine = try Engine(card: card, configuration: EngineConfiguration(blockSize: block, clock: .paced, realtime: true, eventCapacity: 1 << 16))
        try EngineBench.connectPairs(engine: engine, card: card, channels: channels)
        for port in 0..<channels { try engine.submit(EngineCommand(port: port, .sendDigits(EngineBench.digits(port)))) }
        let detected = Atomic<Int>(0)
        let startTicks = engine.statistics.ticks
        try engine.start { event in
            switch event.kind {
            case .digitStarted: detected.add(1, ordering: .relaxed)
            case .digitsSent: try? engine.submit(EngineCommand(port: Int(event.port), .sendDigits(EngineBench.digits(Int(event.port)))))
            default: break
            }
        }
        Thread.sleep(forTimeInterval: Double(seconds))
        engine.stop()
        let stats = engine.statistics
        let ticks = stats.ticks - startTicks
        let realtime = engine.realtimeProblems.map { $0.isEmpty ? "yes" : "no (\($0.joined(separator: "; ")))" } ?? "not asked"
        if json {
            let row: [String: Any] = ["channels": channels, "block": block, "seconds": seconds, "ticks": ticks,
                                      "deadline_misses": stats.deadlineMisses,
                                      "worst_lateness_us": Double(stats.worstLatenessNanoseconds) / 1000,
                                      "longest_tick_us": Double(stats.longestTickNanoseconds) / 1000,
                                      "tick_period_us": Double(block) * 125, "digits_detected": detected.load(ordering: .relaxed),
                                      "realtime": realtime,
                                      "baseline_periods": basePeriods, "baseline_misses": baseMisses,
                                      "baseline_worst_lateness_us": Double(baseWorst) / 1000, "baseline_realtime": baseRealtime != 0]
            print(String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self))
        } else {
            if baselineSeconds > 0 {
                print("baseline: an empty C loop sleeping to the same deadlines for \(baselineSeconds) s (SCHED_FIFO: \(baseRealtime != 0 ? "yes" : "no")): periods \(basePeriods), misses \(baseMisses), worst lateness \(String(format: "%.1f", Double(baseWorst) / 1000)) µs")
            }
            print("channels \(channels), \(block)-sample ticks (\(Double(block) * 0.125) ms), \(seconds) s, real-time scheduling: \(realtime)")
            print("ticks \(ticks), deadline misses \(stats.deadlineMisses), worst lateness \(String(format: "%.1f", Double(stats.worstLatenessNanoseconds) / 1000)) µs (period \(Double(block) * 125) µs), longest tick \(String(format: "%.1f", Double(stats.longestTickNanoseconds) / 1000)) µs, digits detected \(detected.load(ordering: .relaxed))")
        }
        if stats.deadlineMisses > 0 { throw ExitCode(1) }
    }
}

private func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

/// How soon after a digit reaches a port its detector reports it.
struct LatencyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Line time from a digit on the line to the detector's start and end events.",
        discussion: """
            Port 0 calls port 1 through the simulated exchange and sends digits of the \
            minimum duration (40 ms on, 60 ms off); port 1 detects them. For each digit: the \
            start event's lag behind the moment the digit had lasted 40 ms, and the end \
            event's lag behind the digit's end, both in milliseconds of line time, from when \
            the audio reached port 1 to the end of the block in which the event fired.

            Example:
              swift run -c release linecard-bench latency --digits 160
            """)

    @Option(help: "Digits to send.") var digits = 160
    @Option(help: "Block sizes in samples, comma separated.") var blocks = "8,160"
    @Flag(help: "Print one JSON object per block size.") var json = false

    func run() throws {
        for block in blocks.split(separator: ",").compactMap({ Int($0) }) {
            let card = SimulatedCard(fxoPorts: 2, fxsPorts: 0)
            let engine = try Engine(card: card, configuration: EngineConfiguration(blockSize: block, clock: .virtual))
            try EngineBench.connectPairs(engine: engine, card: card, channels: 2)
            try engine.submit(EngineCommand(port: 0, .configureDigits(level: -10, twist: 0, onMilliseconds: 40, offMilliseconds: 60)))
            try engine.runTicks(1)
            let keys = Array("0123456789ABCD*#")
            var startLags: [Double] = [], endLags: [Double] = []
            var missed = 0
            for i in 0..<digits {
                // The digit leaves port 0 in the tick that takes the command, and reaches port 1
                // one block later (the exchange carries audio with one block of delay).
                let sentAt = engine.lineTime
                let arrives = sentAt + Int64(block)
                try engine.submit(EngineCommand(port: 0, .sendDigits(DigitString(String(keys[i % keys.count]))!)))
                var started: Int64?, ended: Int64?
                try engine.runTicks(120 * 8 / block) { event in
                    guard event.port == 1 else { return }
                    switch event.kind {
                    case .digitStarted: if started == nil { started = event.lineTime + Int64(block) }
                    case .digitEnded: if ended == nil { ended = event.lineTime + Int64(block) }
                    default: break
                    }
                }
                guard let started, let ended else { missed += 1; continue }
                startLags.append(Double(started - (arrives + 320)) / 8)
                endLags.append(Double(ended - (arrives + 320)) / 8)
            }
            engine.shutdown()
            func summary(_ v: [Double]) -> (Double, Double, Double) {
                let sorted = v.sorted()
                return (sorted.first ?? .nan, sorted[sorted.count / 2], sorted.last ?? .nan)
            }
            let s = summary(startLags), e = summary(endLags)
            if json {
                let row: [String: Any] = ["block": block, "digits": digits, "missed": missed,
                                          "start_lag_ms_min": s.0, "start_lag_ms_median": s.1, "start_lag_ms_max": s.2,
                                          "end_lag_ms_min": e.0, "end_lag_ms_median": e.1, "end_lag_ms_max": e.2]
                print(String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(String(format: "block %3d: %d digits, %d missed; start reported %.1f / %.1f / %.1f ms (min/median/max) after the digit had lasted 40 ms; end reported %.1f / %.1f / %.1f ms after the digit ended",
                             block, digits, missed, s.0, s.1, s.2, e.0, e.1, e.2))
            }
        }
    }
}
