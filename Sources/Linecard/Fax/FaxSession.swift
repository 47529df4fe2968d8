import Foundation
import LinecardDSP
import LinecardEngine
import Synchronization

/// Fax identities, unique across every card in the process.
let faxIdentities = Atomic<Int>(0)

/// A channel's fax job: which way, how it stands, and the session running it.
struct FaxStatus: Sendable {
    enum Role: Sendable { case sending, receiving }
    var role: Role?
    var state: FaxJobState = .idle
    var cause: FaxCause = .none
    var details = FaxDetails()
    var session: FaxSession?
    /// The cause a stop ends the job with: ABORTED, or TIMEOUT when `start` gave up waiting.
    var stopCause: FaxCause = .aborted
    var running: Bool { session != nil }
}

/// Runs spandsp's T.30 terminal on a call, off the tick: a thread of its own reads what the
/// port receives from the record ring, feeds it to the terminal, and writes the terminal's
/// audio to the playback ring, a block for a block. On a virtual clock the engine's lockstep
/// holds each tick until that block is there, so line time and the modem stay in step; on a
/// paced clock the thread keeps up by itself (a late block is sent as silence).
final class FaxSession: @unchecked Sendable {
    let terminal: FaxTerminal
    private let channel: CallChannel
    private let stopping = Atomic<Bool>(false)
    private let temporaryFile: String?
    static let block = 160
    /// Silence queued ahead: the terminal's answer to a block leaves that much later, and the
    /// modem thread may be that late before the line hears a gap in its signal. In virtual
    /// time the engine waits for the modem (lockstep), so 160 ms only lets the two hand over
    /// work in batches. On a line that keeps its own time nothing waits: a modem thread a
    /// loaded machine keeps from a core for longer than the lead sends silence in the middle
    /// of a modem signal, and the far end loses the DCS or the training check ("no response
    /// to DCS or TCF"). There the lead is 480 ms: three times the stalls the DAHDI guest
    /// showed, and far inside T.30's 3 s for an answer (a satellite hop adds as much).
    static let virtualLatencyBlocks = 8
    static let pacedLatencyBlocks = 24

    init(channel: CallChannel, terminal: FaxTerminal, temporaryFile: String?) {
        self.channel = channel
        self.terminal = terminal
        self.temporaryFile = temporaryFile
    }

    func start() {
        // Modem signals are neither speech nor DTMF: detecting either during a fax only
        // costs time in the tick and risks a false digit.
        channel.send(.detectDigits(false))
        channel.send(.detectActivity(threshold: 0, startMilliseconds: 0, stopMilliseconds: 0))
        // With activity unwatched, a silence limit already counting must not end the fax.
        channel.core.withLock { c in channel.cancelTimer(&c.silenceTimer) }
        let paced = channel.engine.card.clock == .card || channel.engine.configuration.clock == .paced
        let silence = [Int16](repeating: 0, count: Self.block * (paced ? Self.pacedLatencyBlocks : Self.virtualLatencyBlocks))
        silence.withUnsafeBufferPointer { _ = channel.playbackRing.write($0.baseAddress!, count: $0.count) }
        channel.send(.record(true))
        channel.send(.startPlayback)
        channel.send(.lockstep(true))
        let thread = Thread { [self] in run() }
        thread.name = "linecard-fax-\(channel.port)"
        thread.start()
    }

    /// Asks the session to end (ABORTED).
    func stop() { stopping.store(true, ordering: .releasing) }
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// The far end hangs up as soon as T.30 is over for it, which can be before our terminal
    /// has finished sending its last frame: give it a second of silence to finish, then end
    /// the session and take whatever completion spandsp reports.
    private func finishAfterCallEnded(_ rx: UnsafeMutablePointer<Int16>, _ tx: UnsafeMutablePointer<Int16>) {
        rx.update(repeating: 0, count: Self.block)
        var fed = 0
        while terminal.completion == nil, fed < 8000 {
            terminal.receive(rx, count: Self.block)
            terminal.transmit(into: tx, count: Self.block)
            fed += Self.block
        }
        if terminal.completion == nil { terminal.terminate() }
    }

    private func run() {
        // The modem follows line time in lockstep: its thread is the line's, not the program's.
        LineThreads.enroll()
        defer { LineThreads.leave() }
        let rx = UnsafeMutablePointer<Int16>.allocate(capacity: Self.block)
        let tx = UnsafeMutablePointer<Int16>.allocate(capacity: Self.block)
        defer { rx.deallocate(); tx.deallocate() }
        var terminated = false
        var callEnded = false
        var idle = 0
        while terminal.completion == nil {
            if isStopping, !terminated {
                terminal.terminate()
                terminated = true
                continue
            }
            let n = channel.recordRing.read(into: rx, count: Self.block)
            if n == 0 {
                if !channel.core.withLock({ $0.isInCall }) {
                    callEnded = true
                    finishAfterCallEnded(rx, tx)
                    break
                }
                // The engine is a tick away: yield a few times before sleeping.
                idle += 1
                if idle < 64 { sched_yield() } else { usleep(50) }
                continue
            }
            idle = 0
            terminal.receive(rx, count: n)
            terminal.transmit(into: tx, count: n)
            var written = 0
            while written < n {
                written += channel.playbackRing.write(tx + written, count: n - written)
                if written < n {
                    if !channel.core.withLock({ $0.isInCall }) { break }
                    usleep(50)
                }
            }
        }
        channel.send(.lockstep(false))
        channel.send(.stopPlayback)
        channel.send(.record(false))
        if channel.state == .answered {
            channel.send(.detectDigits(true))
            channel.send(.detectActivity(threshold: Int16(channel.configuration.activityThreshold), startMilliseconds: 40, stopMilliseconds: 300))
        }
        if let temporaryFile { try? FileManager.default.removeItem(atPath: temporaryFile) }
        let code = terminal.completion
        let cause: FaxCause = isStopping ? .aborted : callEnded && code == nil ? .hangup : code.map(FaxCause.from(completion:)) ?? .hangup
        channel.faxEnded(cause: cause, code: code)
    }
}

extension CallChannel {
    /// Starts a fax job after the reference's checks; returns false (with `cause` and
    /// `details.failedOption` set) when the options are refused.
    func startFax(_ role: FaxStatus.Role, options: [String: String], prepare: (FaxTerminal) throws -> String?) throws -> Bool {
        let calling = try core.withLock { c -> Bool in
            try requireAnswered(c, role == .sending ? "send a fax" : "receive a fax")
            if let peer = c.bridge.connectedTo {
                throw CallError.error("port \(port) has an external audio source (connected to port \(peer)): it cannot run a fax")
            }
            if c.media.playback != nil || c.media.recording != nil || c.media.toneSequence != nil || c.media.playingDigits {
                throw CallError.error("port \(port) is playing or recording: stop that before a fax")
            }
            // A clear channel has no caller and answerer: the sender takes the calling
            // terminal's part (CNG) and the receiver the answering one's (CED), as on a call
            // placed to a fax machine.
            return signalling.capabilities.knowsWhoCalled ? c.placedHere : role == .sending
        }
        let busy = faxStatus.withLock { $0.running ? $0.state : nil }
        if let busy { throw CallError.error("port \(port) is already \(busy.rawValue)") }
        let parsed = FaxOptions.parse(options)
        let id = faxIdentities.add(1, ordering: .relaxed).newValue
        faxStatus.withLock { f in
            f.role = role
            f.stopCause = .aborted
            f.details = FaxDetails(id: id, line: port, options: options)
        }
        switch parsed {
        case .failure(let refusal):
            faxStatus.withLock { f in
                f.state = .error
                f.cause = refusal.cause
                f.details.failedOption = refusal.options
                f.details.lastPage = true
            }
            return false
        case .success(let chosen):
            let terminal = FaxTerminal(calling: calling)
            chosen.apply(to: terminal)
            let temporary = try prepare(terminal)
            let session = FaxSession(channel: self, terminal: terminal, temporaryFile: temporary)
            let v17 = chosen.usableModems.v17
            terminal.onNegotiated = { [weak self] in self?.faxNegotiated(terminal, v17Offered: v17) }
            terminal.onPage = { [weak self] last in self?.faxPageDone(terminal, last: last) }
            faxStatus.withLock { f in
                f.state = role == .sending ? .sending : .receiving
                f.cause = .none
                f.session = session
            }
            session.start()
            return true
        }
    }

    private func faxNegotiated(_ terminal: FaxTerminal, v17Offered: Bool) {
        let s = terminal.statistics
        // The modem from the rate: 7200 and 9600 are V.17 when we offered it (spandsp picks
        // the best both ends have, and the exchange's machine has V.17), else V.29.
        let modem = s.bitRate <= 4800 ? "V.27ter" : s.bitRate > 9600 || v17Offered ? "V.17" : "V.29"
        faxStatus.withLock { f in
            f.details.negotiated = [
                "modem": modem, "dataRate": String(s.bitRate), "ECM": s.errorCorrection ? "YES" : "NO",
                "resolution": "\(s.xResolution)x\(s.yResolution)", "compression": s.compression, "remoteId": s.remoteIdentity,
            ]
        }
        wakeWaiters()
    }

    private func faxPageDone(_ terminal: FaxTerminal, last: Bool) {
        let s = terminal.statistics
        faxStatus.withLock { f in
            // A receiver's phase D comes before spandsp counts the page it ends.
            f.details.pages = f.role == .sending ? s.pagesSent : max(s.pagesReceived, f.details.pages + 1)
            if last { f.details.lastPage = true }
            // Resolution and compression are known once a page has gone.
            // spandsp counts pixels per metre.
            f.details.negotiated["resolution"] = "\(Int((Double(s.xResolution) * 0.0254).rounded()))x\(Int((Double(s.yResolution) * 0.0254).rounded()))"
            f.details.negotiated["compression"] = s.compression
        }
        wakeWaiters()
    }

    func faxEnded(cause: FaxCause, code: Int32?) {
        faxStatus.withLock { f in
            if let terminal = f.session?.terminal {
                let s = terminal.statistics
                f.details.pages = f.role == .sending ? s.pagesSent : s.pagesReceived
            }
            f.session = nil
            let stopped = cause == .aborted
            let cause = stopped ? f.stopCause : cause
            f.cause = cause
            f.state = cause == .normal ? .idle : .error
            f.details.lastPage = true
            f.details.rawCause = ""
            if stopped {
                f.details.rawCauseDescription = cause == .timeout ? "no T.30 message was exchanged before start's timeout" : "stopped"
            } else if let code {
                if code != 0 { f.details.rawCause = String(code) }
                f.details.rawCauseDescription = FaxTerminal.describe(completion: code)
            } else {
                f.details.rawCauseDescription = "the call ended"
            }
        }
        wakeWaiters()
    }

    // MARK: Waits shared by sender and receiver

    /// Waits for the first T.30 message (phase B) of the job just started; on `timeout` the
    /// job is stopped with cause TIMEOUT.
    func faxWaitForTransmission(timeout: Duration?) async -> Bool {
        let begun: Bool? = await wait(until: timeout) { c -> Bool?? in
            let f = c.jobs.fax
            if !f.details.negotiated.isEmpty { return .some(true) }
            return f.running ? .none : .some(false)
        } timedOut: { _ in nil }
        if let begun { return begun }
        let session = faxStatus.withLock { f -> FaxSession? in
            if f.running { f.stopCause = .timeout }
            return f.session
        }
        session?.stop()
        _ = await faxWaitUntilFinished(timeout: .seconds(10))
        return false
    }

    func faxWaitUntilFinished(timeout: Duration?) async -> FaxCause {
        return await wait(until: timeout) { c in
            c.jobs.fax.running ? nil : c.jobs.fax.cause
        } timedOut: { _ in .timeout }
    }

    func faxWaitForNegotiatedSettings(timeout: Duration?) async throws -> [String: String] {
        let result: Result<[String: String], CallError>? = await wait(until: timeout) { c -> Result<[String: String], CallError>?? in
            let f = c.jobs.fax
            if !f.details.negotiated.isEmpty { return .some(.success(f.details.negotiated)) }
            if c.state == .idle && !f.running { return .some(.failure(.hangup("port \(self.port) has no call (IDLE)"))) }
            if !f.running {
                // NOTFAX, COMMSFAULT and TIMEOUT are negotiation failing (the reference's
                // `{}`); any other ending is the session's error.
                if f.state == .error, ![.notFax, .commsFault, .timeout].contains(f.cause) {
                    return .some(.failure(.error("the fax job on port \(self.port) failed: \(f.cause.rawValue)")))
                }
                return .some(.success([:]))
            }
            return .none
        } timedOut: { _ in nil }
        switch result {
        case .success(let settings)?: return settings
        case .failure(let error)?: throw error
        case nil: return [:]
        }
    }

    func faxWaitForNextPage(timeout: Duration?) async throws -> Int {
        let before = self.faxStatus.withLock { $0.details.pages }
        let result: Result<Int, CallError> = await wait(until: timeout) { c -> Result<Int, CallError>? in
            let f = c.jobs.fax
            if f.details.pages > before { return .success(f.details.pages) }
            if c.state == .idle { return .failure(.hangup("port \(self.port) has no call (IDLE)")) }
            if !f.running {
                if f.cause == .normal { return .success(f.details.pages) }
                return .failure(.error("the fax job on port \(self.port) ended (\(f.cause.rawValue)) after \(f.details.pages) pages"))
            }
            return nil
        } timedOut: { c in .success(c.jobs.fax.details.pages) }
        return try result.get()
    }

    func faxStop() async throws -> Bool {
        try core.withLock { c in
            if c.state == .idle { throw CallError.hangup("port \(port) has no call (IDLE)") }
            guard c.state == .answered else { throw CallError.error("cannot stop a fax on port \(port): the call is \(c.state.rawValue)") }
        }
        guard let session = faxStatus.withLock({ $0.session }) else { return true }
        session.stop()
        let cause = await faxWaitUntilFinished(timeout: .seconds(10))
        return cause != .timeout
    }
}
