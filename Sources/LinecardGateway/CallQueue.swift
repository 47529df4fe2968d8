import Foundation
import Linecard

/// The call queue the gateway works from: requests stored durably, claimed one attempt at a
/// time by the lines, and their outcomes recorded. `SQLiteCallQueue` is the embedded store;
/// every store decides retries with the same rule, `RetryPolicy.nextAttempt`.
///
/// A store's promises: a request is durable before `submit` returns its id; an attempt is
/// durable before `claimNext` returns it, so a crash never dials the same attempt twice;
/// ids are never reused.
public protocol CallQueue: Sendable {
    /// Stores `request` and returns its ReqId once it is durable.
    func submit(_ request: NewCallRequest) async throws -> Int64
    /// Takes the request due soonest for an attempt on `line`, recording the attempt as
    /// dialling when `isPrepared` says its message is ready, else as preparing. Requests whose
    /// deadline has passed fail here.
    func claimNext(line: Int, now: Date, isPrepared: @escaping @Sendable (CallRecord) -> Bool) async throws -> CallClaim?
    /// A preparing attempt's message is ready: it is now dialling.
    func markDialling(id: Int64, attempt: Int) async throws
    /// Records how attempt `attempt` of request `id` ended; returns the request's new status,
    /// or nil when the request was removed meanwhile.
    func finish(id: Int64, attempt: Int, result: AttemptResult, now: Date) async throws -> RequestStatus?
    func record(_ id: Int64) async throws -> CallRecord?
    func list(status: RequestStatus?, limit: Int) async throws -> [CallRecord]
    /// Deletes request `id` whatever its state; false when there is none.
    func remove(_ id: Int64) async throws -> Bool
    /// How many requests are in each status.
    func counts() async throws -> [RequestStatus: Int]
    /// When the next waiting request falls due (nil: none waits).
    func nextDue() async throws -> Date?
}

extension CallQueue {
    /// Claims for an attempt now, whatever the message's state.
    public func claimNext(line: Int) async throws -> CallClaim? {
        try await claimNext(line: line, now: Date()) { _ in true }
    }

    public func claimNext(line: Int, isPrepared: @escaping @Sendable (CallRecord) -> Bool) async throws -> CallClaim? {
        try await claimNext(line: line, now: Date(), isPrepared: isPrepared)
    }

    @discardableResult
    public func finish(id: Int64, attempt: Int, result: AttemptResult) async throws -> RequestStatus? {
        try await finish(id: id, attempt: attempt, result: result, now: Date())
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

/// A request taken for one attempt on one line.
public struct CallClaim: Sendable {
    public let record: CallRecord
    public let attempt: Int
    public let number: DialString
    /// The attempt is recorded as preparing: call `markDialling` once the message is ready.
    public let preparing: Bool
}
