import CSpanDSP

/// A fax machine on audio: spandsp's T.30 terminal with its V.21, V.27ter, V.29 and V.17
/// modems (`fax_state_t`). It answers with CED, or calls with CNG, and then sends or receives
/// TIFF-F pages as T.30 negotiates.
///
/// spandsp opens and writes the TIFF files itself as pages start and end, so a terminal is
/// not for the engine's tick; the simulated exchange's fax machine runs one in its far-end
/// model.
public final class FaxTerminal {
    private let state: OpaquePointer
    /// The T.30 completion code (T30_ERR_*) once the session has ended, -1 before. Written by
    /// spandsp's phase E callback.
    private let completionCode: UnsafeMutablePointer<Int32>
    public private(set) var isCalling: Bool

    public init(calling: Bool) {
        completionCode = .allocate(capacity: 1)
        completionCode.initialize(to: -1)
        isCalling = calling
        guard let s = fax_init(nil, calling ? 1 : 0) else { fatalError("spandsp fax_init failed: out of memory") }
        state = s
        configure()
    }

    deinit {
        fax_free(state)
        completionCode.deallocate()
    }

    private func configure() {
        fax_set_transmit_on_idle(state, 1)
        let t30 = fax_get_t30_state(state)
        t30_set_phase_e_handler(t30, faxPhaseEHandler, UnsafeMutableRawPointer(completionCode))
        t30_set_supported_modems(t30, Int32(T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17))
        t30_set_ecm_capability(t30, 1)
        t30_set_supported_compressions(t30, Int32(T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION))
    }

    /// Starts a new session: the last one's files and result are forgotten.
    public func restart(calling: Bool) {
        isCalling = calling
        fax_restart(state, calling ? 1 : 0)
        completionCode.pointee = -1
        configure()
    }

    /// Pages received are written to `path` (TIFF-F).
    public func setReceiveFile(_ path: String) {
        t30_set_rx_file(fax_get_t30_state(state), path, -1)
    }

    /// The pages of `path` (TIFF-F) are sent.
    public func setTransmitFile(_ path: String) {
        t30_set_tx_file(fax_get_t30_state(state), path, -1, -1)
    }

    /// The identity (up to 20 characters: digits, '+' and space) sent to the other machine.
    public func setIdentity(_ identity: String) {
        _ = t30_set_tx_ident(fax_get_t30_state(state), identity)
    }

    /// Hears the line.
    public func receive(_ samples: UnsafePointer<Int16>, count: Int) {
        _ = fax_rx(state, UnsafeMutablePointer(mutating: samples), Int32(count))
    }

    /// Speaks on the line: fills `count` samples (silence when it has nothing to send).
    public func transmit(into samples: UnsafeMutablePointer<Int16>, count: Int) {
        let n = Int(fax_tx(state, samples, Int32(count)))
        if n < count { (samples + n).update(repeating: 0, count: count - n) }
    }

    /// The T.30 completion code once the session has ended (0 is success), nil before.
    public var completion: Int32? {
        let code = completionCode.pointee
        return code < 0 ? nil : code
    }

    /// spandsp's text for a completion code.
    public static func describe(completion code: Int32) -> String {
        String(cString: t30_completion_code_to_str(code))
    }
}

private func faxPhaseEHandler(_ t30: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ code: Int32) {
    userData!.assumingMemoryBound(to: Int32.self).pointee = code
}
