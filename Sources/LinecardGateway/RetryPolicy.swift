import Foundation

/// How often and how far apart a request is tried.
public struct RetryPolicy: Sendable, Codable, Equatable {
    /// Attempts per number (for a call list: rounds through the list).
    public var attempts: Int = 3
    /// Seconds between attempts (between rounds, for a call list).
    public var interval: Double = 60
    /// Rounds of a call-till-confirm list; 0 (the default) keeps calling until someone
    /// confirms or `firstocc` runs out, as "keep calling until anyone enters the code" says.
    public var confirmRounds: Int = 0

    public init(attempts: Int = 3, interval: Double = 60, confirmRounds: Int = 0) {
        self.attempts = attempts
        self.interval = interval
        self.confirmRounds = confirmRounds
    }

    /// When attempt `attempt + 1` of a request may start after attempt `attempt` (counted from
    /// 1) failed at `now`, or nil when the request has run out: a call list goes straight on
    /// to the next number and waits `interval` after each round; no attempt starts after
    /// `deadline` (`firstocc`); a plain request or list stops after `attempts` rounds, a
    /// call-till-confirm list after `confirmRounds` (0: no limit but the deadline).
    public func nextAttempt(after attempt: Int, numbers: Int, untilConfirmed: Bool, now: Date, deadline: Date) -> Date? {
        let calls = max(1, numbers)
        let next = now.addingTimeInterval(attempt % calls == 0 ? interval : 0)
        guard next <= deadline else { return nil }
        let rounds = untilConfirmed ? confirmRounds : attempts
        if rounds > 0, attempt >= rounds * calls { return nil }
        return next
    }
}
