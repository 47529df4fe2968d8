import Foundation
import LinecardGateway
import XCTest

/// When the gateway calls again: the one rule every queue uses (docs/GATEWAY.md, "Calls,
/// retries and the queue").
final class RetryRuleTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Runs a request whose every attempt fails at once; returns when each attempt started.
    func schedule(_ policy: RetryPolicy, numbers: Int, untilConfirmed: Bool, firstocc minutes: Double) -> [Double] {
        let deadline = t0.addingTimeInterval(minutes * 60)
        var starts = [0.0]
        var now = t0
        while starts.count < 10_000 {
            // Each call takes 40 s before it fails.
            now = now.addingTimeInterval(40)
            guard let next = policy.nextAttempt(after: starts.count, numbers: numbers, untilConfirmed: untilConfirmed,
                                                now: now, deadline: deadline) else { break }
            now = next
            starts.append(now.timeIntervalSince(t0))
        }
        return starts
    }

    func testASingleNumberStopsAfterItsAttempts() {
        let starts = schedule(RetryPolicy(), numbers: 1, untilConfirmed: false, firstocc: 60)
        XCTAssertEqual(starts, [0, 100, 200])
    }

    func testFirstoccStopsRetriesButNeverTheFirstAttempt() {
        XCTAssertEqual(schedule(RetryPolicy(), numbers: 1, untilConfirmed: false, firstocc: 0), [0])
        XCTAssertEqual(schedule(RetryPolicy(), numbers: 1, untilConfirmed: false, firstocc: 2), [0, 100], "the third would start at 200 s > 120 s")
    }

    /// The reference client sends firstocc=10: a list of three is called round after round
    /// until ten minutes have passed, not for three rounds only.
    func testCallTillConfirmKeepsCallingTheListUntilFirstocc() {
        let starts = schedule(RetryPolicy(), numbers: 3, untilConfirmed: true, firstocc: 10)
        // A round is three calls of 40 s, then the 60 s interval: 180 s from round to round.
        XCTAssertEqual(Array(starts.prefix(7)), [0, 40, 80, 180, 220, 260, 360])
        XCTAssertEqual(starts.count, 11, "the last call starts at 580 s; the next would be after 600 s: \(starts)")
        XCTAssertLessThanOrEqual(starts.last!, 600)
        let plainList = schedule(RetryPolicy(), numbers: 3, untilConfirmed: false, firstocc: 10)
        XCTAssertEqual(plainList.count, 9, "a list without a code keeps to retry.attempts rounds")
    }

    func testConfirmRoundsCapsALongFirstocc() {
        let starts = schedule(RetryPolicy(confirmRounds: 2), numbers: 3, untilConfirmed: true, firstocc: 525_600)
        XCTAssertEqual(starts.count, 6)
        let unlimited = schedule(RetryPolicy(interval: 3600), numbers: 2, untilConfirmed: true, firstocc: 24 * 60)
        XCTAssertEqual(unlimited.count, 48, "a day of hourly rounds of two numbers")
    }
}
