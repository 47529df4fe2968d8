import Foundation
import LinecardFuzzTargets
import XCTest

/// The fuzzers' seed corpus (Fuzz/corpus) and every input that once broke a parser
/// (Fuzz/regressions), run through the same functions the fuzzers drive. A parser that traps,
/// crashes or tries to allocate gigabytes takes this test (and the process) down with it.
final class FuzzRegressionTests: XCTestCase {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    func testEveryParserReturnsOnItsCorpusAndRegressions() throws {
        for target in FuzzTargets.all {
            var count = 0
            for set in ["corpus", "regressions"] {
                let folder = Self.fuzz.appendingPathComponent(set).appendingPathComponent(target.name)
                let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
                for name in names.sorted() {
                    target.run(try Data(contentsOf: folder.appendingPathComponent(name)))
                    count += 1
                }
            }
            XCTAssertGreaterThan(count, 0, "no inputs for the \(target.name) parser")
        }
    }
}
