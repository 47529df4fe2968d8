import Foundation
import ToolRunner
import XCTest

/// `linecard --card dahdi` run as a process in the guest, on the looped spans: what a user
/// does first on a new DAHDI box. (Tools/dahdi-guest/run.sh puts the tool next to the test
/// bundle.)
final class DahdiToolTests: DahdiGuestTestCase {
    func testListShowsSpansChannelsAndSignalling() throws {
        let (status, out) = try linecard(["list", "--card", "dahdi", "--json"])
        XCTAssertEqual(status, 0, out)
        let listing = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out)
        let spans = try XCTUnwrap(listing["spans"] as? [[String: Any]])
        XCTAssertEqual(spans.count, 6)
        let channels = spans.flatMap { $0["channels"] as? [[String: Any]] ?? [] }
        XCTAssertEqual(channels.compactMap { $0["number"] as? Int }, Array(1...18))
        XCTAssertEqual(Array(channels.compactMap { $0["signalling"] as? String }[8...]),
                       ["fxoks", "fxoks", "fxsks", "fxsks", "clear", "clear", "hdlcfcs", "clear", "clear", "hdlcfcs"])
        let (textStatus, text) = try linecard(["list", "--card", "dahdi"])
        XCTAssertEqual(textStatus, 0, text)
        XCTAssertTrue(text.contains("dahdi: 6 span(s), 18 channel(s)"), text)
        print(text)
    }

    func testSelftestAcrossTheAnalogPair() throws {
        let (status, out) = try linecard(["selftest", "--card", "dahdi", "--from", "9", "--to", "11"])
        print(out)
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("DTMF round trip"), out)
    }

    func testSelftestAcrossClearChannels() throws {
        let (status, out) = try linecard(["selftest", "--card", "dahdi", "--from", "1", "--to", "5"])
        print(out)
        XCTAssertEqual(status, 0, out)
    }

    /// The pass mark is 99.99 %, which an emulated machine does not reach: the exit status is
    /// not asserted here, the passes and the summary are.
    func testTimingMeasuresTheSpanClock() throws {
        let (_, out) = try linecard(["timing", "--card", "dahdi", "--channel", "1", "--seconds", "3", "--json"])
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out)
        XCTAssertEqual((summary["passes"] as? [Any])?.count, 3)
        XCTAssertGreaterThan(summary["average"] as? Double ?? 0, 95, out)
        print("linecard timing --card dahdi: average \(summary["average"] ?? 0) %, worst \(summary["worst"] ?? 0) %")
    }

    func testBadChannelIsOneLine() throws {
        let (status, out) = try linecard(["call", "99", "200", "--card", "dahdi"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("there is no DAHDI channel 99"), out)
        XCTAssertEqual(out.split(separator: "\n").count, 1, out)
    }

    private func linecard(_ arguments: [String]) throws -> (Int32, String) {
        try runTool("linecard", arguments)
    }
}
