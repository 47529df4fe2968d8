import Foundation
import LinecardDSP

extension CallChannel {
    /// Sends a fax on an answered call (reference: fax-sender.txt), with spandsp's T.30
    /// terminal and its V.27ter, V.29 and V.17 modems. Waits are in line time.
    public struct FaxSender: Sendable {
        public typealias Cause = FaxCause
        public typealias State = FaxJobState
        let channel: CallChannel

        /// SENDING while a job runs; IDLE, or ERROR when the last job failed.
        public var state: FaxJobState { channel.faxStatus.withLock { $0.role == .sending ? $0.state : .idle } }
        /// How the last job ended; NONE while one runs or none has.
        public var cause: FaxCause { channel.faxStatus.withLock { $0.role == .sending && !$0.running ? $0.cause : .none } }
        public var details: FaxDetails { channel.faxStatus.withLock { $0.details } }

        /// Sends `document` and returns the cause once the job has ended. IDLE → Hangup; not
        /// ANSWERED, already sending or receiving, connected to another call, or playing →
        /// Error. Refused options return UNKNOWN_OPTION, UNKNOWN_VALUE or
        /// INCONSISTENT_OPTIONS before any audio is sent (`details.failedOption` says which).
        @discardableResult
        public func send(_ document: FaxToSend, options: [String: String] = [:]) async throws -> FaxCause {
            guard try begin(document, options: options) else { return cause }
            return await waitUntilFinished()
        }

        /// Sends the TIFF-F file at `filename`; as `send(_:options:)`.
        @discardableResult
        public func send(filename: String, options: [String: String] = [:]) async throws -> FaxCause {
            try await send(try FaxToSend(filename), options: options)
        }

        /// Starts sending and blocks until transmission has begun (the first T.30 message has
        /// been exchanged with the other machine) or `timeout` of line time passes. Returns
        /// true when it has begun. Returns false when the options are refused, when the job
        /// ended first (NOTFAX when nothing answered within T.30's own 60 s), or on the
        /// timeout, which stops the job with cause TIMEOUT. Same errors as `send`.
        @discardableResult
        public func start(_ document: FaxToSend, options: [String: String] = [:],
                          timeout: Duration? = CallChannel.faxStartTimeout) async throws -> Bool {
            guard try begin(document, options: options) else { return false }
            return await channel.faxWaitForTransmission(timeout: timeout)
        }

        /// Starts sending the TIFF-F file at `filename`; as `start(_:options:timeout:)`.
        @discardableResult
        public func start(filename: String, options: [String: String] = [:],
                          timeout: Duration? = CallChannel.faxStartTimeout) async throws -> Bool {
            try await start(try FaxToSend(filename), options: options, timeout: timeout)
        }

        private func begin(_ document: FaxToSend, options: [String: String]) throws -> Bool {
            try channel.startFax(.sending, options: options) { terminal in
                let (path, temporary) = try document.singleFile()
                terminal.setTransmitFile(path)
                return temporary ? path : nil
            }
        }

        /// Aborts the job (cause ABORTED); true once it has stopped, and at once when none
        /// runs. IDLE → Hangup; not ANSWERED → Error.
        @discardableResult
        public func stop() async throws -> Bool { try await channel.faxStop() }

        /// The negotiated settings (modem, dataRate, ECM, resolution, compression, remoteId);
        /// empty when negotiation failed. The call IDLE → Hangup; the job failed otherwise → Error.
        public func waitForNegotiatedSettings(timeout: Duration? = nil) async throws -> [String: String] {
            try await channel.faxWaitForNegotiatedSettings(timeout: timeout)
        }

        /// Waits for the next page to be done; returns the pages done so far. The call IDLE →
        /// Hangup; the job ended with an error → Error.
        public func waitForNextPage(timeout: Duration? = nil) async throws -> Int {
            try await channel.faxWaitForNextPage(timeout: timeout)
        }

        /// Waits for the job to end and returns its cause (TIMEOUT when `timeout` passes
        /// first). Never throws, also when the call is already IDLE.
        public func waitUntilFinished(timeout: Duration? = nil) async -> FaxCause {
            await channel.faxWaitUntilFinished(timeout: timeout)
        }
    }

    /// Receives a fax on an answered call into a TIFF-F file; otherwise as `FaxSender`.
    public struct FaxReceiver: Sendable {
        public typealias Cause = FaxCause
        public typealias State = FaxJobState
        let channel: CallChannel

        /// RECEIVING while a job runs; IDLE, or ERROR when the last job failed.
        public var state: FaxJobState { channel.faxStatus.withLock { $0.role == .receiving ? $0.state : .idle } }
        public var cause: FaxCause { channel.faxStatus.withLock { $0.role == .receiving && !$0.running ? $0.cause : .none } }
        public var details: FaxDetails { channel.faxStatus.withLock { $0.details } }

        /// Receives into `path` (created or replaced) and returns the cause once the job has
        /// ended. A path that cannot be written is an Error, before any audio.
        @discardableResult
        public func receive(to path: String, options: [String: String] = [:]) async throws -> FaxCause {
            guard try begin(to: path, options: options) else { return cause }
            return await waitUntilFinished()
        }

        /// Starts receiving and blocks until transmission has begun or `timeout` passes; as
        /// `FaxSender.start`.
        @discardableResult
        public func start(to path: String, options: [String: String] = [:],
                          timeout: Duration? = CallChannel.faxStartTimeout) async throws -> Bool {
            guard try begin(to: path, options: options) else { return false }
            return await channel.faxWaitForTransmission(timeout: timeout)
        }

        private func begin(to path: String, options: [String: String]) throws -> Bool {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CallError.error("cannot write \(path): check that its folder exists and is writable")
            }
            return try channel.startFax(.receiving, options: options) { terminal in
                terminal.setReceiveFile(path)
                return nil
            }
        }

        @discardableResult
        public func stop() async throws -> Bool { try await channel.faxStop() }

        public func waitForNegotiatedSettings(timeout: Duration? = nil) async throws -> [String: String] {
            try await channel.faxWaitForNegotiatedSettings(timeout: timeout)
        }

        public func waitForNextPage(timeout: Duration? = nil) async throws -> Int {
            try await channel.faxWaitForNextPage(timeout: timeout)
        }

        public func waitUntilFinished(timeout: Duration? = nil) async -> FaxCause {
            await channel.faxWaitUntilFinished(timeout: timeout)
        }
    }

    /// How long `start` waits for the first T.30 message by default: longer than the 60 s
    /// T.30 itself gives the other machine (T0), so that a line with no fax machine on it
    /// ends as NOTFAX, as in `send`.
    public static let faxStartTimeout = Duration.seconds(65)

    public var faxSender: FaxSender { FaxSender(channel: self) }
    public var faxReceiver: FaxReceiver { FaxReceiver(channel: self) }
}
