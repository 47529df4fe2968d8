#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread, so that its scheduling policy can be set.
final class TickThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private var handle = pthread_t()

    init(name: String, _ body: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let result = pthread_create(&handle, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw CardError.device("cannot start the \(name) thread: \(String(cString: strerror(result)))")
        }
    }

    func join() { pthread_join(handle, nil) }

    /// Asks for SCHED_FIFO at `priority` and locks the process's memory; returns what failed.
    static func becomeRealtime(priority: Int32 = 50) -> [String] {
        var problems: [String] = []
        var parameters = sched_param()
        parameters.sched_priority = priority
        let r = pthread_setschedparam(pthread_self(), Int32(SCHED_FIFO), &parameters)
        if r != 0 { problems.append("SCHED_FIFO refused (\(String(cString: strerror(r))))") }
        if mlockall(Int32(MCL_CURRENT | MCL_FUTURE)) != 0 {
            problems.append("mlockall refused (\(String(cString: strerror(errno))))")
        }
        return problems
    }
}

/// Monotonic time in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Sleeps until a monotonic deadline in nanoseconds.
@inline(__always)
func sleep(untilNanoseconds deadline: Int64) {
    var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

/// Short waits for a thread with nothing to do: spin-yield first, then sleep.
struct Backoff {
    private var spins = 0
    let maximumSleepNanoseconds: Int

    init(maximumSleepNanoseconds: Int) { self.maximumSleepNanoseconds = maximumSleepNanoseconds }

    mutating func reset() { spins = 0 }

    mutating func wait() {
        spins += 1
        if spins < 64 {
            sched_yield()
        } else {
            var ts = timespec(tv_sec: 0, tv_nsec: min(maximumSleepNanoseconds, 20_000 * (spins - 63)))
            nanosleep(&ts, nil)
        }
    }
}
