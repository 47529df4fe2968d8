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

/// What the end of one attempt does to its request: every store records exactly this, so
/// that a request is retried the same way whichever store (or box) holds it.
public struct AttemptConclusion: Sendable, Equatable {
    public var status: RequestStatus
    public var outcome: CallAttempt.Outcome
    public var reason: String
    /// When the next attempt may start (for a final status: when it ended).
    public var nextAttempt: Date
}

extension RetryPolicy {
    /// How attempt `attempt` of `request`, ended at `now` with `result`, leaves the request:
    /// made; another attempt (the reason says when); or failed, when the result cannot be
    /// retried or `nextAttempt(after:)` says the request has run out.
    public func conclude(_ result: AttemptResult, attempt: Int, of request: NewCallRequest, now: Date) -> AttemptConclusion {
        let text: String, canRetry: Bool, interrupted: Bool
        switch result {
        case .made(let made):
            return AttemptConclusion(status: .made, outcome: .made, reason: made, nextAttempt: now)
        case .failed(let failed, let retryable):
            text = failed; canRetry = retryable; interrupted = false
        case .interrupted(let why):
            text = why; canRetry = true; interrupted = true
        }
        let due = canRetry ? nextAttempt(after: attempt, numbers: max(1, request.numbers.count),
                                         untilConfirmed: request.confirmationCode != nil, now: now, deadline: request.deadline) : nil
        guard let due else {
            return AttemptConclusion(status: .failed, outcome: interrupted ? .interrupted : .failed, reason: text, nextAttempt: now)
        }
        let delay = due.timeIntervalSince(now)
        return AttemptConclusion(status: .retry, outcome: interrupted ? .interrupted : .retry,
                                 reason: delay > 0 ? "\(text). Try in \(Self.describe(seconds: delay))" : "\(text). Calling the next number",
                                 nextAttempt: due)
    }

    static func describe(seconds: Double) -> String {
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 {
            let minutes = Int(seconds / 60)
            return minutes == 1 ? "1 minute" : "\(minutes) minutes"
        }
        return seconds == 1 ? "1 second" : String(format: "%g seconds", seconds)
    }
}
