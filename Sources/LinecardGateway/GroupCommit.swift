import Synchronization

/// Group commit for a queue's submissions: one writer at a time, and what arrives while a
/// batch is being written waits for the next batch, so that a busy gateway commits (and
/// syncs) once for many clients rather than once for each.
final class GroupCommit<Item: Sendable>: Sendable {
    private typealias Waiting = (item: Item, continuation: CheckedContinuation<Int64, any Error>)
    private let pending = Mutex<[Waiting]>([])
    private let writing = Atomic<Bool>(false)

    init() {}

    /// Adds `item` to the next batch and returns its id once the batch is committed. `write`
    /// commits a batch and returns the ids in the batch's order; the writer is the caller's
    /// to name each time, so that this holds no reference to its store.
    func submit(_ item: Item, write: @escaping @Sendable ([Item]) async throws -> [Int64]) async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            pending.withLock { $0.append((item, continuation)) }
            if !writing.exchange(true, ordering: .acquiringAndReleasing) {
                Task { await self.drain(write) }
            }
        }
    }

    private func drain(_ write: @Sendable ([Item]) async throws -> [Int64]) async {
        while true {
            let batch = pending.withLock { all in defer { all.removeAll() }; return all }
            if batch.isEmpty {
                writing.store(false, ordering: .releasing)
                // A submission that came after the batch was taken and saw the writer busy.
                guard pending.withLock({ !$0.isEmpty }), !writing.exchange(true, ordering: .acquiringAndReleasing) else { return }
                continue
            }
            do {
                let ids = try await write(batch.map(\.item))
                guard ids.count == batch.count else { throw GroupCommitError(written: ids.count, submitted: batch.count) }
                for (waiting, id) in zip(batch, ids) { waiting.continuation.resume(returning: id) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}

/// A writer answered for a different number of submissions than it was given.
struct GroupCommitError: Error, CustomStringConvertible {
    let written: Int
    let submitted: Int
    var description: String { "the queue stored \(written) of \(submitted) requests" }
}
