import LinecardDSP
import LinecardEngine

/// Analog loop-start signalling on a port that faces a telephone: a call to it rings the
/// telephone (the number is not dialled anywhere), lifting the handset answers it, and a
/// telephone lifted while idle gets dial tone and dials a number the box collects.
struct LoopStartFXS: LineSignalling {
    var name: String { "an FXS port (a telephone)" }

    var capabilities: SignallingCapabilities {
        SignallingCapabilities(callsNumbers: true, bringsDialledNumbers: true)
    }

    func placeCall(_ channel: CallChannel, _ c: inout ChannelCore) {
        c.line.phase = .ringingTelephone
        channel.enableDetection(digits: true, progress: false)
        channel.send(.hook(.ringStart))
        c.state = .ringOutgoing
    }

    func answer(_ channel: CallChannel, _ c: inout ChannelCore) {
        channel.send(.stopTone)
        channel.send(.hook(.polarityReversed))
        channel.enableDetection(digits: true, progress: false)
    }

    func reject(_ channel: CallChannel, _ c: inout ChannelCore, cause: CallCause) {
        channel.finish(&c, cause, raw: "rejected here")
        channel.send(.playTone(channel.engine.toneID(for: cause == .congestion ? .congestion : .busy), samples: 0))
    }

    func release(_ channel: CallChannel, _ c: inout ChannelCore) {
        if c.line.phase == .ringingTelephone { channel.send(.hook(.ringStop)) }
        channel.send(.hook(.polarityNormal))
    }

    func lineSignal(_ signal: LineEvent.Kind, _ channel: CallChannel, _ c: inout ChannelCore) {
        switch signal {
        case .offHook:
            if c.line.phase == .ringingTelephone {
                channel.send(.hook(.polarityReversed))
                channel.enterAnswered(&c)
                c.details.farEndType = .live
            } else if !c.isInCall {
                // The telephone was lifted: give it dial tone and collect what it dials.
                channel.beginCall(&c)
                c.line.phase = .collecting
                channel.send(.playTone(channel.engine.toneID(for: .dial), samples: 0))
                channel.send(.filterDialTone(true))
                channel.send(.detectDigits(true))
                c.line.phaseTimer = channel.setTimer(&c, .phase, after: .seconds(15))
            }
        case .onHook:
            if c.line.phase == .collecting {
                channel.send(.stopTone)
                channel.cancelTimer(&c.line.phaseTimer)
                channel.disableDetection()
                c.line.phase = .none
            } else if c.isInCall {
                channel.release(&c, .normal, raw: "the telephone hung up")
            } else {
                channel.send(.stopTone)
            }
        default: break
        }
    }

    func timerFired(_ id: Int32, _ purpose: TimerPurpose, _ channel: CallChannel, _ c: inout ChannelCore) {
        guard purpose == .phase, id == c.line.phaseTimer else { return }
        c.line.phaseTimer = nil
        if c.line.phase == .collecting { dialComplete(channel, &c) }
    }

    func collect(_ digit: Character, _ channel: CallChannel, _ c: inout ChannelCore) -> Bool {
        guard c.line.phase == .collecting else { return false }
        channel.send(.stopTone)
        channel.cancelTimer(&c.line.phaseTimer)
        if digit == "#" {
            dialComplete(channel, &c)
            return true
        }
        c.line.dialled.append(digit)
        if c.line.dialled.count >= channel.configuration.maximumDialledDigits {
            dialComplete(channel, &c)
        } else {
            c.line.phaseTimer = channel.setTimer(&c, .phase, after: channel.configuration.interdigitTimeout)
        }
        return true
    }

    /// The telephone has dialled: the number is an incoming call for the box.
    private func dialComplete(_ channel: CallChannel, _ c: inout ChannelCore) {
        channel.cancelTimer(&c.line.phaseTimer)
        channel.send(.filterDialTone(false))
        c.details.calledNumber = c.line.dialled
        c.state = .callIncoming
        c.line.phase = .incomingRinging
    }
}
