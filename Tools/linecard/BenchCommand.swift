import ArgumentParser
import Foundation

/// `linecard bench`: runs the benchmarks of docs/PERFORMANCE.md through `linecard-bench`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Run the engine benchmarks (linecard-bench) and print their ratios.",
        discussion: """
            Passes its arguments to linecard-bench, found beside this program; with none it runs
            `engine --channels 240 --seconds 2 --runs 3`. Build it in release mode for figures
            worth recording (make bench does); docs/PERFORMANCE.md lists the commands and the
            figures measured. The gateway's benchmark is `make bench-gateway`.

            Example:
              linecard bench engine --channels 48 --seconds 1 --runs 1 --blocks 160
            """)
    @Argument(parsing: .captureForPassthrough, help: "Arguments for linecard-bench.") var arguments: [String] = []

    func run() throws {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let bench = here.appendingPathComponent("linecard-bench")
        guard FileManager.default.isExecutableFile(atPath: bench.path) else {
            throw fail("linecard-bench is not built beside \(here.path): run `swift build -c release --product linecard-bench` (or `make bench`)")
        }
        let process = Process()
        process.executableURL = bench
        process.arguments = arguments.isEmpty ? ["engine", "--channels", "240", "--seconds", "2", "--runs", "3"] : arguments
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
    }
}
