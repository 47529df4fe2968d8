import CLibPri
import Foundation
import Glibc
import LinecardCore
import Synchronization

/// The thread that owns one libpri controller: it waits on the D-channel and on an eventfd
/// that work posted to it writes, with libpri's next timer as the limit; it reads frames,
/// runs timers and runs what was posted, all in one order. Nothing else touches the
/// controller, so libpri needs no lock. Never the engine's tick: libpri allocates and logs.
final class PriThread: @unchecked Sendable {
    private let wake: Int32
    private let posted = Mutex<[@Sendable () -> Void]>([])
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)
    private let name: String
    /// Set before `start`, then the thread's own.
    var controller: PriController!
    var handle: ((PriEvent) -> Void)!
    /// Runs on every pass (the simulated network reads its B-channels' signals here).
    var onPass: (() -> Void)?
    /// The longest wait, in milliseconds (nil: until a frame, a timer or posted work).
    var longestWait: Int?

    init(name: String) throws(IsdnError) {
        self.name = name
        wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wake >= 0 else { throw IsdnError("\(name): cannot make an eventfd: \(String(cString: strerror(errno)))") }
    }

    deinit { close(wake) }

    func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Runs `work` on the thread, after the work posted before it.
    func post(_ work: @escaping @Sendable () -> Void) {
        // Work already waiting has woken the thread, which takes the whole list after reading
        // the eventfd: only the first of a run needs to wake it.
        let first = posted.withLock { list in
            list.append(work)
            return list.count == 1
        }
        guard first else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }

    /// Ends the thread and waits for it.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing), started.load(ordering: .acquiring) else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
        stopped.wait()
    }

    private func run() {
        LineThreads.enroll()
        defer {
            LineThreads.leave()
            stopped.signal()
        }
        var fds = [pollfd(fd: controller.io.fd, events: Int16(POLLIN | POLLPRI), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        while !stopping.load(ordering: .acquiring) {
            var timeout = controller.millisecondsToNextTimer() ?? -1
            if let longestWait { timeout = timeout < 0 ? longestWait : min(timeout, longestWait) }
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, Int32(timeout))
            if ready < 0, errno != EINTR { break }
            if fds[1].revents & Int16(POLLIN) != 0 {
                var count: UInt64 = 0
                _ = Glibc.read(wake, &count, 8)
                for work in posted.withLock({ list in defer { list.removeAll() }; return list }) { work() }
            }
            if fds[0].revents & Int16(POLLPRI) != 0 { controller.io.eventsPending?() }
            if fds[0].revents & Int16(POLLIN) != 0 {
                // Every frame waiting, before the next poll: a busy span's messages come in runs.
                repeat {
                    if let event = controller.readEvent() { handle(event) }
                } while controller.io.readFrame
            }
            controller.runTimers { handle($0) }
            onPass?()
        }
    }
}
