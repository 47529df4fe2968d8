import Foundation
import SystemPackage

/// One gateway per data folder: an exclusive lock on `DATA/gateway.lock`, held while the
/// gateway lives, with the holder's process id written in the file. A second gateway on the
/// same folder would recover the first one's live calls as interrupted and dial its queue
/// twice; it refuses to start instead, naming the process that holds the folder.
final class DataFolderLock: Sendable {
    private let descriptor: FileDescriptor

    init(folder: String) throws {
        let path = folder + "/gateway.lock"
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readWrite, options: [.create, .closeOnExec],
                                                 permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw ConfigurationError(message: "cannot open the lock file \(path): \(error)")
        }
        guard flock(descriptor.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            let error = Errno(rawValue: errno)
            var holder = [UInt8](repeating: 0, count: 32)
            let n = (try? holder.withUnsafeMutableBytes { try descriptor.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
            try? descriptor.close()
            guard error == .wouldBlock else { throw ConfigurationError(message: "cannot lock \(path): \(error)") }
            let pid = String(decoding: holder.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ConfigurationError(message: "the data folder \(folder) is in use by another linecard-gateway (process \(pid.isEmpty ? "unknown" : pid)): stop it, or give this one another data folder (--data)")
        }
        _ = ftruncate(descriptor.rawValue, 0)
        _ = try? descriptor.writeAll(toAbsoluteOffset: 0, "\(getpid())\n".utf8)
        self.descriptor = descriptor
    }

    deinit { try? descriptor.close() }
}
