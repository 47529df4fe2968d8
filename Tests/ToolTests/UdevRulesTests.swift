import Foundation
import XCTest

/// udev/60-linecard.rules read with a parser of our own (Debian 12's udevadm has no `verify`):
/// every line is a well-formed rule of known keys, and what it grants is what README says.
final class UdevRulesTests: XCTestCase {
    struct Pair { let key: String; let op: String; let value: String }

    static let matchKeys: Set<String> = ["SUBSYSTEM", "KERNEL", "ACTION", "DRIVER", "ATTRS", "ATTR", "SUBSYSTEMS", "ENV"]
    static let assignKeys: Set<String> = ["GROUP", "MODE", "OWNER", "SYMLINK", "TAG"]

    /// Splits a rule into KEY{attr} OP "value" pairs; nil when it is not well formed.
    static func parse(_ line: String) -> [Pair]? {
        var pairs: [Pair] = []
        var rest = Substring(line)
        let pattern = /^\s*([A-Z_]+(?:\{[A-Za-z0-9_]+\})?)(==|!=|\+=|-=|:=|=)"([^"]*)"\s*(,|$)/
        while !rest.isEmpty {
            guard let m = rest.prefixMatch(of: pattern) else { return nil }
            pairs.append(Pair(key: String(m.1), op: String(m.2), value: String(m.3)))
            rest = rest[m.range.upperBound...]
            if m.4.isEmpty { break }
        }
        return rest.allSatisfy(\.isWhitespace) ? pairs : nil
    }

    func testRulesParseAndGrantOnlyTheTelephonyGroup() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("udev/60-linecard.rules")
        let text = try String(contentsOf: url, encoding: .utf8)
        var rules = 0
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let pairs = try XCTUnwrap(Self.parse(line), "line \(number + 1) is not a well-formed rule: \(line)")
            rules += 1
            for p in pairs {
                let base = String(p.key.prefix { $0 != "{" })
                if Self.matchKeys.contains(base) {
                    XCTAssertTrue(p.op == "==" || p.op == "!=", "line \(number + 1): \(p.key) is matched with == or !=")
                } else {
                    XCTAssertTrue(Self.assignKeys.contains(base), "line \(number + 1): unknown key \(p.key)")
                    XCTAssertTrue(["=", "+=", ":="].contains(p.op), "line \(number + 1): \(p.key) is assigned with =, += or :=")
                }
            }
            let assigned = Dictionary(pairs.filter { Self.assignKeys.contains($0.key) }.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            XCTAssertEqual(assigned["GROUP"], "telephony", "line \(number + 1)")
            let mode = try XCTUnwrap(assigned["MODE"].flatMap { Int($0, radix: 8) }, "line \(number + 1) sets an octal MODE")
            XCTAssertEqual(mode & 0o007, 0, "line \(number + 1): world permissions in MODE \(assigned["MODE"]!)")
            XCTAssertEqual(mode, 0o660, "line \(number + 1)")
            if let link = assigned["SYMLINK"] { XCTAssertTrue(link.hasPrefix("linecard/"), "line \(number + 1): links live under /dev/linecard") }
            XCTAssertTrue(pairs.contains { Self.matchKeys.contains(String($0.key.prefix { $0 != "{" })) }, "line \(number + 1) matches something")
        }
        XCTAssertGreaterThanOrEqual(rules, 4)
        // The parser itself refuses what udev would.
        XCTAssertNil(Self.parse(#"KERNEL=="dahdi*", GROUP=telephony"#))
        XCTAssertNil(Self.parse(#"KERNEL=="dahdi*" GROUP="telephony""#))
    }
}
