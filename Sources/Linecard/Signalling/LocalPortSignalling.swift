import LinecardEngine

/// A port inside the box, with no line: its calls come from other ports of the card (local
/// calls and transfers to inbound services), patched to it in the engine. Nothing is
/// signalled; the two ends tell each other by posting (see `LocalCalls.swift`).
struct LocalPortSignalling: LineSignalling {
    var name: String { "a local port (no line)" }

    var capabilities: SignallingCapabilities { SignallingCapabilities() }

    func checkCanCall(_ number: String, port: Int) throws {
        throw CallError.error("port \(port) is a local port, with no line to call \"\(number)\" on: it calls inbound services (startCallToInboundService)")
    }

    /// Never reached: `checkCanCall` refuses every call to a number.
    func placeCall(_ channel: CallChannel, _ c: inout ChannelCore) {}

    func answer(_ channel: CallChannel, _ c: inout ChannelCore) {
        channel.enableDetection(digits: true, progress: false)
    }

    func reject(_ channel: CallChannel, _ c: inout ChannelCore, cause: CallCause) {
        // The caller is told this cause when the call ends (`endLocalCall`).
        c.bridge.localEndCause = cause
        channel.finish(&c, cause, raw: "rejected here")
    }

    func release(_ channel: CallChannel, _ c: inout ChannelCore) {}
}
