import Foundation
import Linecard

/// The gateway's rule for the files a request names (audio files, call lists): it reads them
/// only from its own files folder (`DATA/files`) and the folders in `allowedFileFolders`.
///
/// A path is opened once, through `ReadableFile`, and the folder check is made on where the
/// open descriptor really points, so a symbolic link or `..` cannot lead outside, and a link
/// swapped in after the request was accepted is caught when the file is read. For a path
/// outside the folders the answer is the same whether or not it exists; no error carries a
/// file's content.
public struct AllowedFiles: Sendable {
    /// The files folder: relative paths are taken from here.
    public let base: String
    /// Every allowed folder, resolved, each ending in `/`.
    public let folders: [String]

    /// Creates `DATA/files` if need be and resolves every folder; a configured folder that
    /// does not exist is a configuration error.
    public init(dataDirectory: String, extra: [String]?) throws {
        let base = URL(fileURLWithPath: dataDirectory).appendingPathComponent("files").path
        do { try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true) } catch {
            throw ConfigurationError(message: "cannot create the files folder \(base): \(error.localizedDescription)")
        }
        var folders: [String] = []
        for folder in [base] + (extra ?? []) {
            guard let resolved = Self.realPath(folder) else {
                throw ConfigurationError(message: "allowedFileFolders: \(folder) does not exist or cannot be reached")
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigurationError(message: "allowedFileFolders: \(folder) is not a folder")
            }
            folders.append(resolved.hasSuffix("/") ? resolved : resolved + "/")
        }
        self.base = Self.realPath(base) ?? base
        self.folders = folders
    }

    /// Opens `path` for reading if it lies in an allowed folder. `parameter` names the path in
    /// errors as the request named it.
    public func open(_ path: String, parameter: String) throws -> ReadableFile {
        do { return try openInside(absolutePath(path, parameter: parameter)) } catch let refusal as Refusal {
            throw refusal.error(path, parameter: parameter, base: base)
        }
    }

    /// The check made when a request arrives: a path outside the folders, or one that is not a
    /// readable regular file, is refused; a file that is not there yet is accepted (the request
    /// fails when its call is due if it is still missing then).
    public func check(_ path: String, parameter: String) throws {
        do { _ = try openInside(absolutePath(path, parameter: parameter)) } catch let refusal as Refusal {
            if case .unreadable(.missing) = refusal { return }
            throw refusal.error(path, parameter: parameter, base: base)
        }
    }

    private enum Refusal: Error {
        case outside
        case unreadable(ReadableFile.OpenError.Reason)

        func error(_ path: String, parameter: String, base: String) -> RequestError {
            switch self {
            case .outside:
                RequestError(status: 403, message: "\(parameter) \(path) is outside the folders this gateway reads files from: put the file in \(base) or add its folder to allowedFileFolders")
            case .unreadable(.missing):
                .bad("\(parameter) \(path) does not exist on the gateway")
            case .unreadable(let reason):
                .bad("\(parameter) \(path) cannot be read by the gateway: \(reason.explanation)")
            }
        }
    }

    /// Opens `absolute` when both the path as written and the file it really reaches lie in an
    /// allowed folder.
    private func openInside(_ absolute: String) throws -> ReadableFile {
        guard contains(Self.lexical(absolute)) else { throw Refusal.outside }
        let file: ReadableFile
        do { file = try ReadableFile(path: absolute) } catch { throw Refusal.unreadable(error.reason) }
        guard contains(file.resolvedPath) else { throw Refusal.outside }
        return file
    }

    private func absolutePath(_ path: String, parameter: String) throws -> String {
        if Self.isWindowsPath(path) {
            throw RequestError.bad("\(parameter) \(path) is a Windows path: the file must be on the gateway host, in \(base) (or a folder in allowedFileFolders)")
        }
        return path.hasPrefix("/") ? path : base + "/" + path
    }

    private func contains(_ resolved: String) -> Bool {
        folders.contains { resolved.hasPrefix($0) }
    }

    /// `C:\x.wav`, `C:/x.wav`, `\\server\share\x.wav`.
    static func isWindowsPath(_ path: String) -> Bool {
        let chars = Array(path.utf8)
        if chars.count >= 3, (65...90).contains(chars[0] & 0xDF), chars[1] == UInt8(ascii: ":"),
           chars[2] == UInt8(ascii: "\\") || chars[2] == UInt8(ascii: "/") { return true }
        return path.hasPrefix("\\\\")
    }

    /// `path` with `.` and `..` taken out, without touching the file system.
    static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
