import Foundation
import Linecard
import Logging
import Synchronization

/// Works the call queue: one worker per calling line, each taking the request that is due
/// soonest, placing the call, playing the message and recording the outcome. As many calls
/// run at once as there are lines; the rest wait in the queue.
final class Dialer: Sendable {
    private let card: Card
    private let queue: any CallQueue
    private let configuration: GatewayConfiguration
    private let metrics: GatewayMetrics
    private let logger: Logger
    private let audioFolder: URL
    private let files: AllowedFiles
    private let stopping = Atomic<Bool>(false)
    /// Opened once the HTTP server listens: a gateway that cannot serve places no call.
    private let listening: AsyncStream<Void>
    private let listeningContinuation: AsyncStream<Void>.Continuation
    private let wakeups: [Int: AsyncStream<Void>.Continuation]
    private let streams: Mutex<[Int: AsyncStream<Void>]>
    /// The request each line is calling for, so that removing it can hang up.
    private let calls = Mutex<[Int64: Int]>([:])
    /// The ports that place calls.
    let lines: [Int]
    /// Lines whose call the gateway cut short (removal or shutdown).
    private let cut = Mutex<Set<Int>>([])

    init(card: Card, lines: [Int], queue: any CallQueue, configuration: GatewayConfiguration, files: AllowedFiles,
         metrics: GatewayMetrics, logger: Logger) throws {
        self.card = card
        self.files = files
        (listening, listeningContinuation) = AsyncStream<Void>.makeStream()
        self.lines = lines
        self.queue = queue
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        audioFolder = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("audio")
        try FileManager.default.createDirectory(at: audioFolder, withIntermediateDirectories: true)
        var wakeups: [Int: AsyncStream<Void>.Continuation] = [:]
        var streams: [Int: AsyncStream<Void>] = [:]
        for line in lines {
            let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            wakeups[line] = continuation
            streams[line] = stream
        }
        self.wakeups = wakeups
        self.streams = Mutex(streams)
    }

    /// Tells idle lines that work may have arrived.
    func wake() { for continuation in wakeups.values { continuation.yield() } }

    /// Lets the workers start calling (the server is listening).
    func startCalling() {
        listeningContinuation.yield()
        listeningContinuation.finish()
    }

    /// Once `startCalling` is called, runs every line's worker until `stop` or cancellation;
    /// returns when all have finished their calls.
    func run() async {
        for await _ in listening { break }
        guard !Task.isCancelled, !stopping.load(ordering: .acquiring) else { return }
        await withTaskGroup(of: Void.self) { group in
            for line in lines {
                let stream = streams.withLock { $0.removeValue(forKey: line) }
                guard let stream else { continue }
                group.addTask { await self.work(line: line, wakeups: stream) }
            }
        }
    }

    /// Stops taking requests. Calls in progress go on; `cutCalls` ends them.
    func stop() {
        stopping.store(true, ordering: .releasing)
        for continuation in wakeups.values { continuation.finish() }
    }

    /// Hangs up every call in progress; their attempts are recorded as interrupted.
    func cutCalls() async {
        let lines = calls.withLock { Array($0.values) }
        for line in lines { await hangUp(line: line) }
    }

    /// Hangs up the call working on request `id`, if any (the request was removed).
    func cancel(request id: Int64) async {
        guard let line = calls.withLock({ $0[id] }) else { return }
        await hangUp(line: line)
    }

    var activeCalls: Int { calls.withLock { $0.count } }

    /// Calling lines with no call on them.
    var freeLines: Int { lines.count - activeCalls }

    /// The request each busy line is calling for.
    func busyLines() -> [Int: Int64] {
        calls.withLock { Dictionary(uniqueKeysWithValues: $0.map { ($0.value, $0.key) }) }
    }

    private func isCut(_ line: Int) -> Bool { cut.withLock { $0.contains(line) } }

    private func hangUp(line: Int) async {
        cut.withLock { _ = $0.insert(line) }
        guard let channel = try? card.channel(line) else { return }
        channel.filePlayer.stop()
        await channel.hangUp()
    }

    // MARK: One line

    private func work(line: Int, wakeups: AsyncStream<Void>) async {
        var iterator = wakeups.makeAsyncIterator()
        let audioFolder = self.audioFolder
        while !stopping.load(ordering: .acquiring), !Task.isCancelled {
            let claim: CallClaim?
            do {
                claim = try await queue.claimNext(line: line) { record in
                    FileManager.default.fileExists(atPath: Self.audioFile(for: record.id, in: audioFolder).path)
                }
            } catch {
                // A lost shared database is logged once by the queue; this box stops claiming
                // until it answers again.
                if !(error is QueueUnavailable) { logger.error("line \(line): cannot read the call queue: \(error)") }
                claim = nil
            }
            guard let claim else {
                // Sleep until woken (a request arrived) or until the next waiting request
                // falls due; look again every few seconds all the same (the clock may move).
                let due = (try? await queue.nextDue())?.timeIntervalSinceNow ?? Self.longestSleep
                let seconds = min(Self.longestSleep, max(0.02, due))
                // Nothing to call: this line's task waits for a request, not for line time.
                card.programIsIdle()
                let timer = Task { [wakeups = self.wakeups] in
                    // A cancelled sleep must not wake the line: that would make it poll without end.
                    guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
                    wakeups[line]?.yield()
                }
                _ = await iterator.next()
                timer.cancel()
                continue
            }
            calls.withLock { $0[claim.record.id] = line }
            cut.withLock { _ = $0.remove(line) }
            metrics.line(line, busy: true)
            logger.info("line \(line): request \(claim.record.id) attempt \(claim.attempt): calling \(claim.number)")
            var result = await place(claim, line: line)
            if cut.withLock({ $0.remove(line) != nil }), case .failed = result {
                result = .interrupted("the gateway cut the call short")
            }
            calls.withLock { _ = $0.removeValue(forKey: claim.record.id) }
            metrics.line(line, busy: false)
            do {
                let status = try await record(result, of: claim)
                let outcome: CallAttempt.Outcome = switch (result, status) {
                case (.made, _): .made
                case (.interrupted, _): .interrupted
                case (_, .retry?): .retry
                default: .failed
                }
                metrics.attemptEnded(outcome)
                logger.info("line \(line): request \(claim.record.id) attempt \(claim.attempt): \(outcome.rawValue) (\(Self.text(of: result)))")
                if status == nil {
                    logger.notice("request \(claim.record.id) attempt \(claim.attempt): not recorded: the request was removed meanwhile (or, on a shared queue, another box recovered the attempt when this box's lease on it ran out)")
                }
            } catch {
                logger.error("line \(line): cannot record request \(claim.record.id)'s attempt: \(error)")
            }
            // Give the exchange a moment to clear down before the line is seized again.
            _ = await (try? card.channel(line))?.waitForIdleOrTime(1.0)
        }
    }

    /// Records an attempt's outcome. While a shared queue's database is lost the outcome waits
    /// here, and is recorded when it is back; a box that stops meanwhile leaves the attempt to
    /// be recovered, as interrupted, when its lease runs out.
    private func record(_ result: AttemptResult, of claim: CallClaim) async throws -> RequestStatus? {
        while true {
            do {
                return try await queue.finish(id: claim.record.id, attempt: claim.attempt, result: result)
            } catch let error as QueueUnavailable where !stopping.load(ordering: .acquiring) {
                logger.warning("request \(claim.record.id) attempt \(claim.attempt): its outcome waits for the call queue: \(error)")
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The longest an idle line waits before looking at the queue again.
    static let longestSleep = 5.0

    private static func text(of result: AttemptResult) -> String {
        switch result {
        case .made(let t), .failed(let t, _), .interrupted(let t): t
        }
    }

    /// One attempt: prepare the audio, dial, play, collect the code.
    private func place(_ claim: CallClaim, line: Int) async -> AttemptResult {
        let audio: String
        do {
            audio = try await message(for: claim.record)
            // Prepared: should the gateway die from here on, the attempt is retried, not failed.
            if claim.preparing { try await queue.markDialling(id: claim.record.id, attempt: claim.attempt) }
        } catch let error as RequestError {
            return .failed(error.message, retryable: false)
        } catch let error as QueueUnavailable {
            return .interrupted("the call queue's database was lost while preparing the message (\(error))")
        } catch {
            return .failed("Service Error: \(error)", retryable: false)
        }
        let channel: CallChannel
        do {
            channel = try card.channel(line)
        } catch {
            return .failed("\(error)", retryable: false)
        }
        let state: CallState
        do {
            state = try await channel.call(to: claim.number, timeout: .milliseconds(Int(configuration.ringTimeout * 1000)))
        } catch {
            return .failed("Call did not go through: \(error)", retryable: true)
        }
        guard state == .answered else { return .failed(Self.reason(for: channel), retryable: true) }
        let result = await deliver(audio, for: claim, on: channel)
        // Whatever happened, the line is released here (a no-op when the far end or the
        // gateway already ended the call).
        await channel.hangUp()
        return result
    }

    /// The answered part of an attempt: wait for the far end to speak (or a machine's beep),
    /// play, collect the code.
    private func deliver(_ audio: String, for claim: CallClaim, on channel: CallChannel) async -> AttemptResult {
        do {
            // Let the far end speak first: a person says hello and waits, a machine's
            // greeting runs on; then speak after the machine's beep.
            var waited = 0.0
            while channel.details.farEndType == .unknown, channel.state == .answered, waited < 3 {
                _ = await channel.waitForIdleOrTime(0.1)
                waited += 0.1
            }
            let machine = channel.details.farEndType == .answerMachine
            if machine { _ = try await channel.waitForAnswerMachine(timeout: .seconds(60)) }
            channel.dtmfDetector.clearDigits()
            let played = try await channel.filePlayer.play(audio)
            // Our own hang-up (shutdown, removal) can end the play before `stop` reaches it.
            if played == .aborted || played == .hangup && isCut(channel.port) { return .interrupted("the gateway cut the call short") }
            if let code = claim.record.request.confirmationCode {
                guard channel.state == .answered else { return .failed("\(claim.number) hung up before confirming", retryable: true) }
                let entered = try await channel.dtmfDetector.getDigits(
                    count: code.count, predigitsTimeout: .milliseconds(Int(configuration.confirmationTimeout * 1000)),
                    interdigitTimeout: .seconds(5))
                if entered == code { return .made("Confirmed by \(claim.number)") }
                return .failed(entered.isEmpty ? "\(claim.number) did not confirm" : "\(claim.number) entered a wrong code",
                               retryable: true)
            }
            if machine { return .made("Message left on answering machine") }
            return .made(played == .hangup ? "Call succeeded (the far end hung up during the message)" : "Call succeeded")
        } catch CallError.hangup {
            if isCut(channel.port) { return .interrupted("the gateway cut the call short") }
            if claim.record.request.confirmationCode != nil {
                return .failed("\(claim.number) hung up before confirming", retryable: true)
            }
            return .made("Call succeeded (the far end hung up during the message)")
        } catch {
            return .failed("Service Error: \(error)", retryable: false)
        }
    }

    /// The reason text clients know, for a call that was not answered.
    static func reason(for channel: CallChannel) -> String {
        let raw = channel.details.rawCause
        // An ISDN line says why: "Line Busy (cause 17: user busy)".
        let q850 = channel.details.q850Cause.map { " (\($0))" } ?? ""
        switch channel.cause {
        case .busy: return "Line Busy" + q850
        case .noAnswer: return "No Answer" + q850
        case .congestion: return "Call did not go through (congestion)" + q850
        case .unobtainable: return "Call did not go through (number unobtainable)" + q850
        case .outOfOrder: return "Line disconnected (\(raw))"
        case .timeout: return "Line disconnected (\(raw.isEmpty ? "no dial tone" : raw))"
        default: return "Call did not go through (\(channel.cause.rawValue)\(raw.isEmpty ? "" : ": \(raw)"))"
        }
    }

    /// The request's message as an 8 kHz WAV in the data folder, made once and reused by
    /// retries: from the shared queue when another box prepared it (or it came with the
    /// request), else prepared here (speech synthesised, an audio file read under the
    /// file-access rule) and, on a shared queue, kept there for the other boxes.
    private func message(for record: CallRecord) async throws -> String {
        let file = Self.audioFile(for: record.id, in: audioFolder).path
        if FileManager.default.fileExists(atPath: file) { return file }
        if let wav = try await queue.audio(for: record.id) {
            try store(wav, at: file)
            return file
        }
        let wav = try await BlockingWork.run("preparing the message of request \(record.id)", timeout: configuration.limits.fileTimeout) {
            try self.preparedMessage(record.request.message)
        }
        try store(wav, at: file)
        try await queue.storeAudio(wav, for: record.id)
        return file
    }

    /// `message` as the bytes of an 8 kHz WAV file.
    func preparedMessage(_ message: CallMessage) throws -> Data {
        let samples: [Int16]
        switch message {
        case .text(let text):
            samples = try SpeechSynthesizer.speak(text, voice: configuration.speech.voice,
                                                  wordsPerMinute: configuration.speech.wordsPerMinute)
        case .audioFile(let path):
            let opened: ReadableFile
            do { opened = try files.open(path, parameter: "the audio file") } catch let error as RequestError {
                throw RequestError.bad("Service Error: \(error.message)")
            }
            do {
                samples = try WAVFile.read(opened, maxDuration: configuration.limits.maxAudioDuration)
            } catch {
                throw RequestError.bad("Service Error: the audio file \(path) cannot be played: \(error)")
            }
        }
        return WAVFile.encode(samples)
    }

    private func store(_ wav: Data, at file: String) throws {
        let partial = file + ".partial"
        do { try wav.write(to: URL(fileURLWithPath: partial)) } catch {
            throw RequestError.bad("Service Error: cannot store the message audio in \(file): \(error.localizedDescription)")
        }
        guard rename(partial, file) == 0 else {
            throw RequestError.bad("Service Error: cannot store the message audio in \(file): \(String(cString: strerror(errno)))")
        }
    }

    static func audioFile(for id: Int64, in folder: URL) -> URL { folder.appendingPathComponent("\(id).wav") }

    /// Deletes the prepared audio of requests that are gone or finished.
    func removeAudio(for id: Int64) {
        try? FileManager.default.removeItem(at: Self.audioFile(for: id, in: audioFolder))
    }
}
