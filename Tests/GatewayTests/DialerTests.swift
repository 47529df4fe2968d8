import Foundation
import Linecard
import LinecardCards
@testable import LinecardGateway
import Logging
import XCTest

/// The dialler alone, in this process: the simulated card on a virtual clock and the queue in
/// memory, no HTTP server and no gateway process. What it does with each request is what a
/// client would see in the request's status.
final class DialerTests: XCTestCase {
    func testTheDiallerWorksTheQueueOnTheSimulatedCard() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dialer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = GatewayConfiguration()
        configuration.dataDirectory = folder.path
        configuration.card.clock = .virtual
        configuration.retry = RetryPolicy(attempts: 2, interval: 0.5)
        let queue = try SQLiteCallQueue(path: ":memory:", policy: configuration.retry)
        let opened = try configuration.card.open()
        defer { opened.card.shutdown() }
        let lines = [0, 1]
        let dialer = try Dialer(card: opened.card, lines: lines, queue: queue, configuration: configuration,
                                files: try AllowedFiles(dataDirectory: folder.path, extra: nil),
                                metrics: GatewayMetrics(lines: lines), logger: Logger(label: "dialer-test"))
        let deadline = Date().addingTimeInterval(3600)
        // 200 answers and listens; 300 is busy every time; 500 is not a number.
        let answered = try await queue.submit(NewCallRequest(number: try DialString("200"), message: .text("Hello from the dialler test."),
                                                             deadline: deadline))
        let busy = try await queue.submit(NewCallRequest(number: try DialString("(300)"), message: .text("Busy."), deadline: deadline))
        let unallocated = try await queue.submit(NewCallRequest(number: try DialString("500"), message: .text("Nobody."),
                                                                deadline: deadline))
        dialer.startCalling()
        let running = Task { await dialer.run() }
        let giveUp = Date().addingTimeInterval(60)
        var records: [CallRecord] = []
        while Date() < giveUp {
            records = try await [answered, busy, unallocated].asyncMap { try await queue.record($0)! }
            if records.allSatisfy({ $0.status.isFinal }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        dialer.stop()
        await dialer.cutCalls()
        await running.value

        XCTAssertEqual(records[0].status, .made, "\(records[0])")
        XCTAssertEqual(records[0].attempts.count, 1)
        XCTAssertEqual(records[1].status, .failed, "\(records[1])")
        XCTAssertEqual(records[1].attempts.map(\.dialled), ["(300)", "(300)"], "two attempts, the number as the client wrote it")
        XCTAssertEqual(records[2].status, .failed, "\(records[2])")
        XCTAssertEqual(records[2].attempts.count, 2)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
