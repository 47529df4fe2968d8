import Foundation
import Linecard

/// The call queue the gateway works from: requests stored durably, claimed one attempt at a
/// time by the lines, and their outcomes recorded. `SQLiteCallQueue` is the embedded store of
/// one box; `PostgresCallQueue` is shared by any number of boxes. Every store decides what an
/// attempt's end means with the same rule, `RetryPolicy.conclude`.
///
/// A store's promises: a request is durable before `submit` returns its id; an attempt is
/// durable before `claimNext` returns it, so a crash never dials the same attempt twice;
/// ids are never reused. Where a method takes `now`, nil means the store's own clock (for
/// a shared store, the database's, so that boxes whose clocks differ agree).
public protocol CallQueue: Sendable {
    /// Stores `request` and returns its ReqId once it is durable. `audio`, the request's
    /// message as a prepared WAV, is kept with it by a store that `keepsAudio`.
    func submit(_ request: NewCallRequest, audio: Data?) async throws -> Int64
    /// Takes the request due soonest for an attempt on `line`, recording the attempt as
    /// dialling when its message is ready (`isPrepared`, or audio the store keeps), else as
    /// preparing. Requests whose deadline has passed fail here.
    func claimNext(line: Int, now: Date?, isPrepared: @escaping @Sendable (CallRecord) -> Bool) async throws -> CallClaim?
    /// A preparing attempt's message is ready: it is now dialling.
    func markDialling(id: Int64, attempt: Int) async throws
    /// Records how attempt `attempt` of request `id` ended; returns the request's new status,
    /// or nil when the request was removed meanwhile (or, on a shared store, when another box
    /// already ended the attempt because this box's lease on it ran out).
    func finish(id: Int64, attempt: Int, result: AttemptResult, now: Date?) async throws -> RequestStatus?
    func record(_ id: Int64) async throws -> CallRecord?
    func list(status: RequestStatus?, limit: Int) async throws -> [CallRecord]
    /// Deletes request `id` whatever its state; false when there is none.
    func remove(_ id: Int64) async throws -> Bool
    /// How many requests are in each status.
    func counts() async throws -> [RequestStatus: Int]
    /// When the next waiting request falls due (nil: none waits).
    func nextDue() async throws -> Date?

    /// Whether every box reads a request's prepared message from the store (a shared store),
    /// rather than from its own data folder.
    var keepsAudio: Bool { get }
    /// The prepared message the store keeps for request `id`, if any.
    func audio(for id: Int64) async throws -> Data?
    /// Keeps `wav` as request `id`'s prepared message (a store that does not keep audio
    /// ignores it).
    func storeAudio(_ wav: Data, for id: Int64) async throws
}

extension CallQueue {
    public func submit(_ request: NewCallRequest) async throws -> Int64 {
        try await submit(request, audio: nil)
    }

    /// Claims for an attempt now, whatever the message's state.
    public func claimNext(line: Int) async throws -> CallClaim? {
        try await claimNext(line: line, now: nil) { _ in true }
    }

    public func claimNext(line: Int, isPrepared: @escaping @Sendable (CallRecord) -> Bool) async throws -> CallClaim? {
        try await claimNext(line: line, now: nil, isPrepared: isPrepared)
    }

    @discardableResult
    public func finish(id: Int64, attempt: Int, result: AttemptResult) async throws -> RequestStatus? {
        try await finish(id: id, attempt: attempt, result: result, now: nil)
    }

    /// The newest hundred requests.
    public func list() async throws -> [CallRecord] {
        try await list(status: nil, limit: 100)
    }
}

/// What the outcome of an attempt means for its request.
public enum AttemptResult: Sendable, Equatable {
    case made(String)
    /// The call did not succeed; `retryable` false ends the request (a bad audio file).
    case failed(String, retryable: Bool)
    /// The gateway is stopping: the attempt is counted, the request tried again later.
    case interrupted(String)
}

extension NewCallRequest {
    /// The number attempt `attempt` (counted from 1) dials: a call list is called in turn.
    public func number(forAttempt attempt: Int) -> DialString? {
        numbers.isEmpty ? nil : numbers[(attempt - 1) % numbers.count]
    }

    /// Whether, `attempts` attempts having been made, the next may not start at `now`:
    /// `firstocc` bounds retries, but a first attempt is always made.
    public func isTooLate(afterAttempts attempts: Int, now: Date) -> Bool {
        attempts > 0 && deadline < now
    }
}

extension AttemptResult {
    /// What an attempt that no box will finish (its gateway stopped) counts as. Stopping while
    /// its message was prepared once may be a kill or a power cut; twice, the request itself
    /// kills the gateway, and trying it again would only do so again.
    static func abandoned(whilePreparing preparing: Bool, earlierStopsWhilePreparing: Int, otherwise reason: String) -> AttemptResult {
        guard preparing else { return .interrupted(reason) }
        return earlierStopsWhilePreparing == 0
            ? .interrupted(stoppedWhilePreparing)
            : .failed("Service Error: \(stoppedWhilePreparing) twice; it is not tried again", retryable: false)
    }

    /// How an attempt's reason begins when its gateway stopped while preparing the message.
    static let stoppedWhilePreparing = "the gateway stopped while preparing this request's message"
}

/// A request taken for one attempt on one line.
public struct CallClaim: Sendable {
    public let record: CallRecord
    public let attempt: Int
    public let number: DialString
    /// The attempt is recorded as preparing: call `markDialling` once the message is ready.
    public let preparing: Bool
}
