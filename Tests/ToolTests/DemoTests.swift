import Foundation
import ToolRunner
import XCTest

/// Runs `linecard-demo` as a user would and checks what it prints and its exit status.
final class DemoTests: XCTestCase {
    func testDemoPlacesACallAndHearsTheFarEndsDigits() throws {
        let (status, output) = try runDemo([])
        XCTAssertEqual(status, 0, output)
        for line in ["hears dial tone", "dialling 201", "hears ringback tone", "line polarity reversed",
                     "far end heard DTMF #", "hears DTMF # at", "OK: heard DTMF 1234# from the far end"] {
            XCTAssertTrue(output.contains(line), "missing \"\(line)\" in:\n\(output)")
        }
    }

    func testDemoInTheUKWithOneMillisecondTicks() throws {
        let (status, output) = try runDemo(["--country", "uk", "--block-size", "8", "--number", "200", "--digits", "9"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("uk tones"))
        XCTAssertTrue(output.contains("OK: heard DTMF 1234 from the far end"), output)
    }

    func testBusyNumberFailsWithAReason() throws {
        let (status, output) = try runDemo(["--number", "300"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(output.contains("FAILED: the call did not go through: busy tone"), output)
    }

    func testBadArgumentsGetOneLineErrorsNotCrashes() throws {
        for (arguments, message) in [(["--digits", "12x"], "--digits must be"), (["--block-size", "12"], "multiple of 8"),
                                     (["--number", ""], "--number must be digits"), (["--country", "fr"], "fr")] {
            let (status, output) = try runDemo(arguments)
            XCTAssertNotEqual(status, 0)
            XCTAssertTrue(output.contains(message), "\(arguments): \(output)")
            XCTAssertFalse(output.contains("Fatal error"), output)
        }
    }

    private func runDemo(_ arguments: [String]) throws -> (Int32, String) {
        try runTool("linecard-demo", arguments)
    }
}
