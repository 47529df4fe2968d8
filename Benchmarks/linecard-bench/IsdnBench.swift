import ArgumentParser
import CIsdnBaseline
import Foundation
import Linecard
import LinecardCore
import LinecardEngine
import LinecardISDN
import SimulatedCard
import Synchronization

/// Call setups and clears per second over an E1: libpri in a C loop vs the channel API.
struct IsdnBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "isdn",
        abstract: "Call setups and clears per second over a simulated E1: two libpri controllers in a C loop vs CallChannel.",
        discussion: """
            Both keep 30 B-channels busy in turn with the same messages: SETUP; the network \
            answers with CALL PROCEEDING, ALERTING and CONNECT; our side clears with DISCONNECT, \
            RELEASE, RELEASE COMPLETE. The baseline is a plain C poll loop over two libpri \
            controllers on a socket pair. The stack is a card of `SimulatedCard(isdn: .e1)`: \
            30 tasks each placing a call with `CallChannel.call(to:)` and hanging it up, our \
            side's libpri session and the simulated network each on its own thread, as in \
            production. Both run in one process, one after the other, for each run.

            Example:
              swift run -c release linecard-bench isdn --calls 6000 --runs 5
            """)

    @Option(help: "Calls in each run.") var calls = 6000
    @Option(help: "Runs of each; the median is reported.") var runs = 5
    @Flag(help: "Print a JSON object.") var json = false

    func run() async throws {
        var raw: [Double] = [], stack: [Double] = []
        for _ in 0..<runs {
            let seconds = linecard_baseline_isdn(30, Int32(calls))
            guard seconds > 0 else { throw ValidationError("the C baseline failed") }
            raw.append(seconds)
            stack.append(try await Self.throughTheStack(calls: calls))
        }
        let r = raw.sorted()[raw.count / 2], s = stack.sorted()[stack.count / 2]
        if json {
            let row: [String: Any] = ["calls": calls, "raw_seconds": r, "stack_seconds": s, "raw_calls_per_second": Double(calls) / r,
                                      "stack_calls_per_second": Double(calls) / s, "ratio": s / r]
            print(String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%d calls over 30 B-channels; median of %d: libpri C loop %.0f calls/s, CallChannel %.0f calls/s, ratio %.2f (runs: C %@; stack %@)",
                         calls, runs, Double(calls) / r, Double(calls) / s, s / r,
                         raw.map { String(format: "%.3f", $0) }.joined(separator: " "), stack.map { String(format: "%.3f", $0) }.joined(separator: " ")))
        }
    }

    /// Seconds for `calls` calls through the channel API, after the link is up and every
    /// channel restarted.
    static func throughTheStack(calls: Int) async throws -> Double {
        let sim = try SimulatedCard(isdn: .e1)
        let network = try SimulatedIsdnNetwork(card: sim, answering: .atOnce)
        let stack = try IsdnStack(card: sim)
        let card = try Card(backend: sim, engine: EngineConfiguration(blockSize: 160, clock: .paced), localChannels: 0, callControl: stack)
        defer {
            card.shutdown()
            stack.stop()
            network.stop()
        }
        stack.start(card)
        guard stack.waitUntilUp(timeout: .seconds(5)) else { throw ValidationError("the D-channel did not come up") }
        let deadline = Date().addingTimeInterval(10)
        while !stack.status[0].bChannels.allSatisfy({ $0.state == .idle }) {
            guard Date() < deadline else { throw ValidationError("the B-channels were not restarted") }
            try await Task.sleep(for: .milliseconds(1))
        }
        let placed = CallCounter()
        let start = DispatchTime.now().uptimeNanoseconds
        try await withThrowingTaskGroup(of: Void.self) { group in
            for line in card.channels {
                group.addTask {
                    while placed.next() < calls {
                        let state = try await line.call(to: "200", timeout: .seconds(30))
                        guard state == .answered else {
                            throw ValidationError("a call on port \(line.port) ended \(line.cause.rawValue) (\(line.details.rawCause))")
                        }
                        await line.hangUp()
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

/// Hands out call numbers to the benchmark's tasks.
private final class CallCounter: Sendable {
    private let count = Atomic<Int>(0)
    func next() -> Int { count.add(1, ordering: .relaxed).oldValue }
}
