import LinecardEngine

/// A clear channel (a USB codec, a B-channel without our signalling): a standing connection
/// with nothing to dial or answer. A call placed on it is answered at once.
struct ClearChannelSignalling: LineSignalling {
    var name: String { "a clear channel (no signalling)" }

    var capabilities: SignallingCapabilities { SignallingCapabilities(knowsWhoCalled: false) }

    func placeCall(_ channel: CallChannel, _ c: inout ChannelCore) {
        channel.enableDetection(digits: true, progress: false)
        channel.enterAnswered(&c)
    }

    func answer(_ channel: CallChannel, _ c: inout ChannelCore) {
        channel.enableDetection(digits: true, progress: false)
    }

    func reject(_ channel: CallChannel, _ c: inout ChannelCore, cause: CallCause) {
        channel.finish(&c, cause, raw: "rejected here")
    }

    func release(_ channel: CallChannel, _ c: inout ChannelCore) {}
}
