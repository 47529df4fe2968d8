import Foundation
import LinecardEngine
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
/// peer posts the notice (`ChannelDirectory.post`) or, outside the lock, calls it.
/// `Mutex` traps on a recursive lock, so a notice delivered under the lock fails in the
/// first test that reaches it rather than deadlocking in production.
final class CardState: Sendable {
    private struct Cores {
        var channels: [ChannelCore]
        var program = ProgramActivity()
    }

    private let cores: Mutex<Cores>
    /// Takes a hold on virtual line time (nil: the clock is paced, and holds mean nothing).
    private let holdClock: (@Sendable () -> ClockHold)?

    init(ports: Int, holdClock: (@Sendable () -> ClockHold)?) {
        cores = Mutex(Cores(channels: Array(repeating: ChannelCore(), count: ports)))
        self.holdClock = holdClock
    }

    func withChannel<R: Sendable, E: Error>(_ port: Int, _ body: (inout ChannelCore) throws(E) -> R) throws(E) -> R {
        try cores.withLock { (all: inout Cores) throws(E) -> R in
            defer { account(&all, port) }
            return try body(&all.channels[port])
        }
    }

    /// Changes two channels in one step: what links two calls (a local call, a connection, a
    /// transfer and its leg) is made on both sides at once, so that no notice can arrive
    /// between the two halves.
    func withChannels<R: Sendable, E: Error>(_ first: Int, _ second: Int,
                                             _ body: (inout ChannelCore, inout ChannelCore) throws(E) -> R) throws(E) -> R {
        precondition(first != second, "a channel cannot be linked to itself")
        return try cores.withLock { (all: inout Cores) throws(E) -> R in
            defer {
                account(&all, first)
                account(&all, second)
            }
            return try all.channels.withUnsafeMutableBufferPointer { (cores: inout UnsafeMutableBufferPointer<ChannelCore>) throws(E) -> R in
                try body(&cores[first], &cores[second])
            }
        }
    }

    // MARK: Virtual line time follows the program

    /// Line time stands still while a task the card resumed (its wait ended) has not waited
    /// again: the program is working on what it was told. It moves once every such task
    /// waits again (on any channel of the card), returns from a service, or says it is idle
    /// (`programIsIdle`). A task that does none of these (it ended, or went to wait for
    /// something that is not a channel) is done once no thread of the program has work:
    /// every thread but the line's own asleep in three looks 0.3 ms apart. A thread
    /// with work is runnable however long a loaded machine keeps it from a core, so the
    /// outcome does not depend on the machine's load.
    private func account(_ all: inout Cores, _ port: Int) {
        let suspended = all.channels[port].suspendedTasks, resumed = all.channels[port].resumedTasks
        guard !suspended.isEmpty || !resumed.isEmpty else { return }
        all.channels[port].suspendedTasks.removeAll()
        all.channels[port].resumedTasks.removeAll()
        for task in suspended { all.program.working[task] = nil }
        guard let holdClock else { return }
        if !resumed.isEmpty { startWorking(resumed, &all.program) }
        updateHold(&all.program, holdClock)
    }

    /// `tasks` have work from the card (resumed, or started for a service).
    private func startWorking(_ tasks: [Int], _ program: inout ProgramActivity) {
        program.generation &+= 1
        for task in tasks { program.working[task] = program.generation }
        // A task set working since the last quiet look starts the count again.
        program.quietLooks = 0
        if !program.looking {
            program.looking = true
            scheduleLook()
        }
    }

    private func updateHold(_ program: inout ProgramActivity, _ holdClock: @Sendable () -> ClockHold) {
        if program.working.isEmpty {
            program.hold = nil
        } else if program.hold == nil {
            program.hold = holdClock()
        }
    }

    private func scheduleLook() { ProgramLooker.shared.add(self) }

    /// One look at the program's threads (`quiet`: none has work); false when no task is
    /// working any more, so no further look is needed.
    func look(quiet: Bool) -> Bool {
        guard let holdClock else { return false }
        return cores.withLock { all in
            if all.program.working.isEmpty {
                all.program.looking = false
                return false
            }
            if quiet {
                if all.program.quietLooks == 0 { all.program.quietFrom = all.program.generation }
                all.program.quietLooks += 1
            } else {
                all.program.quietLooks = 0
            }
            if all.program.quietLooks >= 3 {
                // Done: the tasks resumed before the quiet began. Any resumed since stay.
                let from = all.program.quietFrom
                all.program.working = all.program.working.filter { $0.value > from }
                all.program.quietLooks = 0
                updateHold(&all.program, holdClock)
            }
            all.program.looking = !all.program.working.isEmpty
            return all.program.looking
        }
    }

    /// The calling task has just started work the card gave it (a service's call): it keeps
    /// line time still until it waits, as a resumed task does.
    func programStarts(task: Int) {
        guard let holdClock else { return }
        cores.withLock { all in
            startWorking([task], &all.program)
            updateHold(&all.program, holdClock)
        }
    }

    /// The calling task has no more work for the card's lines until something wakes it.
    func programIsIdle(task: Int) {
        guard let holdClock else { return }
        cores.withLock { all in
            all.program.working[task] = nil
            updateHold(&all.program, holdClock)
        }
    }
}

/// The program's tasks the card has resumed and that have not waited since, and the hold
/// on line time they keep.
struct ProgramActivity: Sendable {
    /// Each working task, with the resumption that set it working.
    var working: [Int: Int] = [:]
    var generation = 0
    var hold: ClockHold?
    /// Looks at the program's threads: one is scheduled while any task is working.
    var looking = false
    var quietLooks = 0
    var quietFrom = 0
}

/// Names the running task, for the card's account of who is working.
func currentTaskKey() -> Int {
    withUnsafeCurrentTask { $0?.hashValue } ?? 0
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

/// Looks at the program's threads for every card that has tasks working, every 0.3 ms, from
/// a thread of its own that counts as a line thread (so that its own looking is never taken
/// for the program's work), and sleeps while no card needs it.
final class ProgramLooker: @unchecked Sendable {
    static let shared = ProgramLooker()

    private final class WeakCard {
        weak var card: CardState?
        init(_ card: CardState) { self.card = card }
    }

    private let cards = Mutex<[WeakCard]>([])
    private let wake = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in run() }
        thread.name = "linecard-looker"
        thread.start()
    }

    func add(_ card: CardState) {
        let first = cards.withLock { list in
            list.append(WeakCard(card))
            return list.count == 1
        }
        if first { wake.signal() }
    }

    private func run() {
        LineThreads.enroll()
        while true {
            if cards.withLock({ $0.isEmpty }) {
                wake.wait()
                continue
            }
            usleep(300)
            let quiet = !ProgramThreads.anyWorking()
            let looking = cards.withLock { $0 }
            // A card gone, or with no task working any more, needs no further look.
            let done = looking.filter { !($0.card?.look(quiet: quiet) ?? false) }.map(ObjectIdentifier.init)
            cards.withLock { list in list.removeAll { done.contains(ObjectIdentifier($0)) } }
        }
    }
}
