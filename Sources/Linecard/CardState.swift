import Synchronization

/// The state of every channel of one card, with one owner: every change to any of its
/// channels (an engine event on the dispatcher thread, a program's call, a notice from a
/// peer) runs under this one lock, in one order, as work on a serial executor would.
///
/// Why a lock and not an actor: the reference API's getters and refusals (`state`, `ring`,
/// `reject`, `connect`) are synchronous, and an actor would make them async or block a thread
/// on a semaphore; the changes themselves are short and never wait. What an executor gives
/// is kept: there is one owner per card, so no order between channel locks exists to get
/// wrong, and a channel never takes a peer's lock: there is none. A channel that must tell a
/// peer posts the notice (`ChannelDirectory.notifications`) or, outside the lock, calls it.
/// `Mutex` traps on a recursive lock, so a notice delivered under the lock fails in the
/// first test that reaches it rather than deadlocking in production.
final class CardState: Sendable {
    private let channels: Mutex<[ChannelCore]>

    init(ports: Int) { channels = Mutex(Array(repeating: ChannelCore(), count: ports)) }

    func withChannel<R: Sendable, E: Error>(_ port: Int, _ body: (inout ChannelCore) throws(E) -> R) throws(E) -> R {
        try channels.withLock { (all: inout [ChannelCore]) throws(E) -> R in try body(&all[port]) }
    }

    /// Changes two channels in one step: what links two calls (a local call, a connection, a
    /// transfer and its leg) is made on both sides at once, so that no notice can arrive
    /// between the two halves.
    func withChannels<R: Sendable, E: Error>(_ first: Int, _ second: Int,
                                             _ body: (inout ChannelCore, inout ChannelCore) throws(E) -> R) throws(E) -> R {
        precondition(first != second, "a channel cannot be linked to itself")
        return try channels.withLock { (all: inout [ChannelCore]) throws(E) -> R in
            try all.withUnsafeMutableBufferPointer { (cores: inout UnsafeMutableBufferPointer<ChannelCore>) throws(E) -> R in
                try body(&cores[first], &cores[second])
            }
        }
    }
}

/// One channel's part of its card's state.
struct ChannelState: Sendable {
    let card: CardState
    let port: Int

    func withLock<R: Sendable, E: Error>(_ body: (inout ChannelCore) throws(E) -> R) throws(E) -> R {
        try card.withChannel(port, body)
    }
}

/// One field of a channel's state, reached through the card's lock.
struct ChannelField<Value: Sendable>: Sendable {
    let state: ChannelState
    let keyPath: WritableKeyPath<ChannelCore, Value> & Sendable

    init(_ state: ChannelState, _ keyPath: WritableKeyPath<ChannelCore, Value> & Sendable) {
        self.state = state
        self.keyPath = keyPath
    }

    func withLock<R: Sendable, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try state.withLock { (c: inout ChannelCore) throws(E) -> R in try body(&c[keyPath: keyPath]) }
    }
}
