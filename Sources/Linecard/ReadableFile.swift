#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A regular file opened once for reading. Everything read from it goes through this
/// descriptor, so the file that was checked (where it really is, what kind it is) is the file
/// that is read: a path swapped for a link afterwards changes nothing.
public final class ReadableFile: Sendable {
    /// Why a file cannot be read. Messages name the path as given, never the content.
    public struct OpenError: Error, CustomStringConvertible, Equatable {
        public enum Reason: Sendable, Equatable {
            case missing
            case permissionDenied
            /// A directory, FIFO, socket or device: only regular files are read.
            case notRegular(String)
            /// Larger than the reader takes, in bytes.
            case tooLarge(limit: Int)
            case other(Errno)

            /// What is wrong, without the path.
            public var explanation: String {
                switch self {
                case .missing: "it does not exist"
                case .permissionDenied: "permission denied"
                case .notRegular(let kind): "it is \(kind), not a regular file"
                case .tooLarge(let limit): "it is larger than the \(limit) bytes read at most"
                case .other(let errno): "\(errno)"
                }
            }
        }

        public let path: String
        public let reason: Reason

        public var description: String { "cannot read \(path): \(reason.explanation)" }
    }

    public let descriptor: FileDescriptor
    /// The path as given.
    public let name: String
    /// Where the open descriptor really points, with symbolic links and `..` resolved by the
    /// kernel.
    public let resolvedPath: String
    public let size: Int64

    /// Opens `path` without blocking (a FIFO does not hang the opener) and refuses anything
    /// but a regular file.
    public init(path: String) throws(OpenError) {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.nonBlocking, .closeOnExec])
        } catch let error as Errno {
            switch error {
            case .noSuchFileOrDirectory, .notDirectory: throw OpenError(path: path, reason: .missing)
            case .permissionDenied: throw OpenError(path: path, reason: .permissionDenied)
            default: throw OpenError(path: path, reason: .other(error))
            }
        } catch {
            throw OpenError(path: path, reason: .other(.ioError))
        }
        var status = stat()
        guard fstat(descriptor.rawValue, &status) == 0 else {
            let error = Errno(rawValue: errno)
            try? descriptor.close()
            throw OpenError(path: path, reason: .other(error))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            try? descriptor.close()
            throw OpenError(path: path, reason: .notRegular(Self.kind(of: status.st_mode)))
        }
        self.descriptor = descriptor
        name = path
        size = Int64(status.st_size)
        resolvedPath = Self.path(of: descriptor) ?? path
    }

    deinit { try? descriptor.close() }

    /// Reads the whole file, refusing one larger than `limit` bytes before reading any of it.
    public func readAll(limit: Int) throws(OpenError) -> [UInt8] {
        guard size <= Int64(limit) else {
            throw OpenError(path: name, reason: .tooLarge(limit: limit))
        }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < bytes.count {
            let n: Int
            do {
                n = try bytes.withUnsafeMutableBytes { buffer in
                    try descriptor.read(fromAbsoluteOffset: Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                }
            } catch {
                throw OpenError(path: name, reason: .other(error as? Errno ?? .ioError))
            }
            if n == 0 { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }

    private static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR, S_IFBLK: "a device"
        default: "not a regular file"
        }
    }

    /// The kernel's name for the file behind `descriptor` (Linux's /proc/self/fd).
    private static func path(of descriptor: FileDescriptor) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(descriptor.rawValue)", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
