import DahdiCard
import Foundation
import Linecard
import LinecardEngine
import LinecardISDN
import XCTest

/// ISDN through the real driver's HDLC path: spans 5 and 6 of the guest are a looped
/// BRI-sized pair, B-channels 13-14 and 16-17, D-channels 15 and 18 (`dchan=`, software HDLC
/// with FCS in dahdi-base). A network session runs on one side, ours on the other; every
/// Q.921/Q.931 frame crosses DAHDI's HDLC encoder and decoder.
final class DahdiIsdnTests: DahdiGuestTestCase {
    /// One side of the pair: a card over `channels` with call control as `role`.
    private func side(_ channels: [Int], _ role: IsdnRole) throws -> (Card, IsdnStack) {
        let backend = try DahdiCard(channels: channels)
        let stack = try IsdnStack(card: backend, role: role)
        let card = try Card(backend: backend, engine: EngineConfiguration(blockSize: 160), localChannels: 0, callControl: stack)
        stack.start(card)
        return (card, stack)
    }

    func testTheSpanIsReadAsISDN() throws {
        let card = try DahdiCard(channels: [13, 14])
        XCTAssertEqual(card.ports.map(\.kind), [.isdnBearer, .isdnBearer])
        XCTAssertEqual(card.isdnSpans.count, 1)
        XCTAssertEqual(card.isdnSpans.first?.variant, .bri)
        XCTAssertEqual(card.isdnSpans.first?.bearers, [1: 0, 2: 1])
        XCTAssertEqual(card.isdnSpans.first?.dChannel, .dahdi(channel: 15))
        XCTAssertThrowsError(try DahdiDChannel(channel: 13)) { error in
            XCTAssertTrue("\(error)".contains("not dchan= or hardhdlc="), "\(error)")
        }
        // B-channels without call control are refused, saying why.
        XCTAssertThrowsError(try Card(backend: card, engine: EngineConfiguration(blockSize: 160), localChannels: 0)) { error in
            XCTAssertTrue("\(error)".contains("IsdnStack"), "\(error)")
        }
    }

    func testACallAcrossThePairWithDigitsBothWays() async throws {
        let (network, networkStack) = try side([16, 17], .network)
        let (user, userStack) = try side([13, 14], .cpe)
        defer {
            user.shutdown()
            network.shutdown()
            userStack.stop()
            networkStack.stop()
        }
        XCTAssertTrue(userStack.waitUntilUp(timeout: .seconds(20)), "Q.921 came up across DAHDI's HDLC: \(userStack.status)")
        XCTAssertTrue(networkStack.waitUntilUp(timeout: .seconds(5)))

        let caller = user.channels[0], callee = network.channels[0]
        try caller.startCall(to: "5551000", from: "5552000", timeout: .seconds(20))
        let offered = try await callee.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(offered, .ringIncoming, "SETUP crossed the D-channel")
        XCTAssertEqual(callee.details.calledNumber, "5551000")
        XCTAssertEqual(callee.details.callingNumber, "5552000")
        _ = try await callee.answer()
        let answered = await caller.waitForAnswer(timeout: .seconds(10))
        XCTAssertEqual(answered, .answered, "CONNECT crossed back")

        try await caller.dtmfPlayer.play("159#")
        let there = try await callee.dtmfDetector.getDigits(count: 4, predigitsTimeout: .seconds(5))
        XCTAssertEqual(there, "159#", "audio on the looped B-channel")
        try await callee.dtmfPlayer.play("0*D")
        let back = try await caller.dtmfDetector.getDigits(count: 3, predigitsTimeout: .seconds(5))
        XCTAssertEqual(back, "0*D")

        await callee.hangUp()
        let ended = await caller.waitForIdle(timeout: .seconds(10))
        XCTAssertEqual(ended, .idle)
        XCTAssertEqual(caller.details.q850Cause, .normalClearing)

        // Refused busy on the other B-channel: the cause crosses too.
        try await Task.sleep(for: .milliseconds(500))
        try user.channels[1].startCall(to: "5551001", timeout: .seconds(20))
        _ = try await network.channels[1].waitForIncomingCall(timeout: .seconds(10))
        _ = try network.channels[1].reject(cause: .busy)
        let refused = await user.channels[1].waitForIdle(timeout: .seconds(10))
        XCTAssertEqual(refused, .idle)
        XCTAssertEqual(user.channels[1].cause, .busy)
        XCTAssertEqual(user.channels[1].details.q850Cause, .userBusy)

        let status = userStack.status[0]
        XCTAssertGreaterThan(status.framesIn, 5)
        XCTAssertEqual(status.hdlcErrors, 0, "no frame lost to a bad FCS")
        XCTAssertFalse(status.alarmed)
        print("dahdi isdn: \(status.framesIn) frames in, \(status.framesOut) out, \(status.frameErrors) refused, \(status.hdlcErrors) HDLC errors")
    }

    func testOneFaxPageAcrossTheBChannels() async throws {
        let folder = FileManager.default.temporaryDirectory
        let path = folder.appendingPathComponent("isdn-page.tif").path, out = folder.appendingPathComponent("isdn-received.tif").path
        var black = [Bool](repeating: false, count: 1728 * 200)
        for row in 0..<200 { for x in 0..<1728 where (row / 12 + x / 40) % 2 == 0 || abs(x - row * 7) < 3 { black[row * 1728 + x] = true } }
        try FaxDocument.write([FaxDocument.Page(height: 200, black: black)], to: path)
        let (network, networkStack) = try side([16, 17], .network)
        let (user, userStack) = try side([13, 14], .cpe)
        defer {
            user.shutdown()
            network.shutdown()
            userStack.stop()
            networkStack.stop()
        }
        XCTAssertTrue(userStack.waitUntilUp(timeout: .seconds(20)))
        let sender = user.channels[1], receiver = network.channels[1]
        try sender.startCall(to: "5551800", timeout: .seconds(20))
        _ = try await receiver.waitForIncomingCall(timeout: .seconds(10))
        _ = try await receiver.answer()
        let answered = await sender.waitForAnswer(timeout: .seconds(10))
        XCTAssertEqual(answered, .answered)
        async let receiving = receiver.faxReceiver.start(to: out)
        let receiverDeadline = Date().addingTimeInterval(5)
        while receiver.faxReceiver.state != .receiving, Date() < receiverDeadline { await Task.yield() }
        let started = Date()
        let cause = try await sender.faxSender.send(try FaxToSend(path))
        let received = try await receiving
        XCTAssertTrue(received)
        XCTAssertEqual(cause, .normal, sender.faxSender.details.rawCause)
        _ = await receiver.faxReceiver.waitUntilFinished(timeout: .seconds(30))
        print("dahdi isdn fax: one page in \(Int(Date().timeIntervalSince(started))) s, \(sender.faxSender.details.negotiated)")
        XCTAssertEqual(try FaxDocument.read(out).first?.black, black, "the page arrived pixel for pixel over the B-channels")
        await sender.hangUp()
        await receiver.hangUp()
    }
}
