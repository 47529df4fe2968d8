#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The threads that move line time or follow it in lockstep (the engine's tick, a fax
/// session's modem): not the program's. Virtual time asks whether the program has work
/// pending by looking at the process's other threads (`ProgramThreads`).
public enum LineThreads {
    private static let enrolled = Mutex<Set<Int32>>([])

    /// Counts the calling thread as one of the line's, until `leave()`.
    public static func enroll() { _ = enrolled.withLock { $0.insert(gettid()) } }

    public static func leave() { _ = enrolled.withLock { $0.remove(gettid()) } }

    public static var all: Set<Int32> { enrolled.withLock { $0 } }
}

/// The calling thread's kernel id, from /proc/thread-self (Glibc's module does not export
/// gettid).
func gettid() -> Int32 {
    var buffer = [CChar](repeating: 0, count: 64)
    let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard count > 0 else { return 0 }
    let path = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return Int32(path.split(separator: "/").last ?? "") ?? 0
}

/// Whether the program has work pending: any thread of this process that is not a line
/// thread is running or runnable ("R" in /proc), or in an uninterruptible wait ("D", disk
/// I/O). A thread waiting for something (a lock, a socket, a timer, the next job) is asleep.
/// Load does not change the answer: a thread with work stays runnable however long it waits
/// for a core.
public enum ProgramThreads {
    public static func anyWorking() -> Bool {
        let me = gettid()
        let line = LineThreads.all
        guard let folder = opendir("/proc/self/task") else { return true }
        defer { closedir(folder) }
        while let entry = readdir(folder) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { raw -> Int32? in
                Int32(String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self))
            }
            guard let tid, tid != me, !line.contains(tid) else { continue }
            if state(of: tid) != "S" { return true }
        }
        return false
    }

    /// The thread's state letter from /proc/self/task/TID/stat ("S" when it has gone).
    private static func state(of tid: Int32) -> Character {
        let fd = open("/proc/self/task/\(tid)/stat", O_RDONLY)
        guard fd >= 0 else { return "S" }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return "S" }
        // "TID (name) STATE ...": the name may hold spaces and parentheses; the last ')' ends it.
        guard let close = buffer[0..<count].lastIndex(of: UInt8(ascii: ")")), close + 2 < count else { return "S" }
        let letter = Character(Unicode.Scalar(buffer[close + 2]))
        // Stopped or traced threads ("T", "t"), idle kernel waits ("I"), zombies: none is work.
        return letter == "R" || letter == "D" ? letter : "S"
    }
}
