import Foundation
import LinecardEngine

/// A recording in progress: samples drained from the port's record ring whenever the
/// engine says it is half full; the file is written when the recording ends.
struct RecordingJob: Sendable {
    var samples: [Int16] = []
    var heardAudio = false
    var bargeIn: Bool
    var silenceLimit: Duration?
    var silenceTimer: Int32?
    var maximumSamples: Int?
    var outcome: CallChannel.FileRecorder.Cause?
}

extension CallChannel {
    /// Records what the call's far end sends to a WAV file (also while connected).
    public struct FileRecorder: Sendable {
        public enum State: String, Sendable { case recording = "RECORDING", idle = "IDLE", error = "ERROR" }
        public enum Cause: String, Sendable {
            case error = "ERROR"
            /// A DTMF digit ended the recording.
            case bargeIn = "BARGEIN"
            /// The silence limit was reached.
            case silence = "SILENCE"
            /// The size limit was reached.
            case size = "SIZE"
            case aborted = "ABORTED", hangup = "HANGUP", timeout = "TIMEOUT", none = "NONE"
        }

        let channel: CallChannel

        public var state: State { channel.fileStatus.withLock { $0.recorder.state } }
        public var cause: Cause { channel.fileStatus.withLock { $0.recorder.state == .recording ? .none : $0.recorder.cause } }

        /// nil before and during a recording; afterwards whether anything but silence was heard.
        public func audioDetectedInRecording() -> Bool? { channel.fileStatus.withLock { $0.audioDetected } }

        /// Records to `path` until a limit is reached, the call ends, or `stop()`; the file is
        /// written when the recording ends, whatever the cause. Returns the cause.
        ///
        /// - Parameters:
        ///   - encoding: 16-bit PCM (default), A-law or µ-law, at 8 kHz.
        ///   - bargeIn: a DTMF digit received during the recording ends it.
        ///   - silenceLimit: this long without audio ends it (from the start, or from the
        ///     last audio).
        ///   - maximumBytes: the size of the audio data, at which it ends.
        ///   - timeout: the longest recording.
        @discardableResult
        public func record(to path: String, encoding: WAVFile.Encoding = .pcm16, bargeIn: Bool = false,
                           silenceLimit: Duration? = nil, maximumBytes: Int? = nil, timeout: Duration? = nil) async throws -> Cause {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CallError.error("cannot write \(path): check that its folder exists and is writable")
            }
            let bytesPerSample = encoding == .pcm16 ? 2 : 1
            try channel.core.withLock { c in
                try channel.requireAnswered(c, "record")
                if c.media.recording != nil { throw CallError.error("port \(channel.port) is already recording") }
                var job = RecordingJob(bargeIn: bargeIn, silenceLimit: silenceLimit,
                                       maximumSamples: maximumBytes.map { max(1, $0 / bytesPerSample) })
                if let silenceLimit { job.silenceTimer = channel.setTimer(&c, .recordingSilence, after: silenceLimit) }
                c.media.recording = job
                channel.recordRing.discardAll()
                channel.send(.record(true))
            }
            channel.fileStatus.withLock {
                $0.recorder = (.recording, .none)
                $0.audioDetected = nil
            }
            let outcome = await channel.wait(until: timeout) { c -> Cause? in
                if c.state == .idle { return .hangup }
                return c.media.recording?.outcome
            } timedOut: { _ in .timeout }
            let job = channel.core.withLock { c -> RecordingJob? in
                channel.send(.record(false))
                channel.drainRecording(&c)
                if let timer = c.media.recording?.silenceTimer { channel.send(.cancelTimer(id: timer)) }
                defer { c.media.recording = nil }
                return c.media.recording
            }
            var samples = job?.samples ?? []
            if let limit = job?.maximumSamples, samples.count > limit { samples.removeLast(samples.count - limit) }
            do {
                try WAVFile.write(samples, to: path, encoding: encoding)
            } catch {
                channel.fileStatus.withLock { $0.recorder = (.error, .error) }
                throw CallError.error("cannot write \(path): \((error as NSError).localizedDescription)")
            }
            channel.fileStatus.withLock {
                $0.recorder = (.idle, outcome)
                $0.audioDetected = job?.heardAudio ?? false
            }
            return outcome
        }

        /// Ends a recording (cause ABORTED); true, also when nothing was recording.
        @discardableResult
        public func stop() -> Bool {
            channel.core.withLock { c in
                if c.media.recording != nil, c.media.recording?.outcome == nil { c.media.recording?.outcome = .aborted }
            }
            channel.wakeWaiters()
            return true
        }
    }

    public var fileRecorder: FileRecorder { FileRecorder(channel: self) }

    func drainRecording(_ c: inout ChannelCore) {
        guard var job = c.media.recording else { return }
        let available = recordRing.available
        guard available > 0 else { return }
        let start = job.samples.count
        job.samples.append(contentsOf: repeatElement(0, count: available))
        let got = job.samples.withUnsafeMutableBufferPointer { recordRing.read(into: $0.baseAddress! + start, count: available) }
        job.samples.removeLast(available - got)
        if let limit = job.maximumSamples, job.samples.count >= limit, job.outcome == nil { job.outcome = .size }
        c.media.recording = job
    }
}
