import Dispatch
import Synchronization

/// Runs blocking work (reading a file, synthesising speech) on threads of its own, outside
/// Swift's cooperative pool, so that a slow disk or a hung network mount cannot starve the
/// HTTP server and the dialler. The caller waits at most `timeout`; work that overruns is
/// abandoned on its thread and its result dropped.
enum BlockingWork {
    private static let queue = DispatchQueue(label: "linecard.gateway.blocking", attributes: .concurrent)
    /// Timeouts fire from here, so that they fire even when every blocking thread is stuck.
    private static let timers = DispatchQueue(label: "linecard.gateway.blocking-timeouts")

    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        let timeout: Duration
        var description: String { "\(what) took longer than \(timeout)" }
    }

    static func run<T: Sendable>(_ what: String, timeout: Duration, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let pending = Mutex<CheckedContinuation<T, any Error>?>(continuation)
            queue.async {
                let result = Result { try work() }
                pending.withLock { $0.take() }?.resume(with: result)
            }
            let (seconds, attoseconds) = timeout.components
            timers.asyncAfter(deadline: .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))) {
                pending.withLock { $0.take() }?.resume(throwing: TimedOut(what: what, timeout: timeout))
            }
        }
    }
}
