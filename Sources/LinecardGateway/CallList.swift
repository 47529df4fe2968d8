import Foundation
import Linecard

/// Call lists for call-till-confirm. BroadcastByPhone's `.voc` files are its own format; we
/// read plain text instead, whatever the file is called:
/// - one number per line, optionally after a name and a comma (`Ann Smith, 555-0100`);
/// - or CSV with a header row that has a column named `phone`, `phoneno`, `number` or
///   `telephone` (any case); other columns are ignored.
///
/// Blank lines and lines starting with `#` are skipped.
public enum CallList {
    public struct ListError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    static let phoneColumns: Set<String> = ["phone", "phoneno", "phone number", "number", "telephone"]

    /// The largest call list read: 1 MiB.
    public static let maxBytes = 1 << 20

    /// Reads an opened list. Errors name the file and the line, never what the line says.
    public static func read(_ file: ReadableFile) throws -> [String] {
        let bytes: [UInt8]
        do { bytes = try file.readAll(limit: maxBytes) } catch {
            throw ListError(message: "cannot read the call list \(file.name): \(error.reason.explanation)")
        }
        guard !bytes.contains(0) else { throw ListError(message: "the call list \(file.name) is not text") }
        // Not UTF-8: taken as ISO-8859-1, where every byte is a character.
        let text = String(validating: bytes, as: UTF8.self) ?? String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        return try parse(text, name: file.name)
    }

    static func parse(_ text: String, name: String) throws -> [String] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let first = lines.first else { return [] }
        let header = fields(first).map { $0.lowercased() }
        if let column = header.firstIndex(where: phoneColumns.contains) {
            return try lines.dropFirst().enumerated().compactMap { n, line in
                let row = fields(line)
                guard column < row.count else {
                    throw ListError(message: "\(name) line \(n + 2) has no \(header[column]) column")
                }
                let number = row[column]
                return number.isEmpty ? nil : number
            }
        }
        return lines.map { line in fields(line).last ?? line }
    }

    /// CSV fields, with double-quoted fields allowed.
    static func fields(_ line: String) -> [String] {
        var fields: [String] = [], current = "", quoted = false
        for c in line {
            if c == "\"" { quoted.toggle() } else if c == "," && !quoted {
                fields.append(current.trimmingCharacters(in: .whitespaces)); current = ""
            } else { current.append(c) }
        }
        fields.append(current.trimmingCharacters(in: .whitespaces))
        return fields
    }
}
