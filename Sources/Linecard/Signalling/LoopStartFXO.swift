import Foundation
import LinecardDSP
import LinecardEngine

/// Analog loop-start signalling on a port that faces an exchange line: it seizes the line,
/// waits for dial tone, dials in DTMF or pulses, follows the call by its tones, the far
/// end's voice and polarity, and sees an incoming call by its rings (with caller ID after
/// the first). An analog line cannot refuse a call: a rejected call rings out.
struct LoopStartFXO: LineSignalling {
    var name: String { "an FXO line" }

    var capabilities: SignallingCapabilities {
        SignallingCapabilities(callsNumbers: true, dialsNumbers: true, takesIncomingCalls: true, sendsCallerIDAfterRing: true,
                               flashTransfers: true)
    }

    func placeCall(_ channel: CallChannel, _ c: inout ChannelCore) {
        c.line.phase = .seizing
        channel.enableDetection(digits: false, progress: true)
        channel.send(.hook(.offHook))
        c.line.phaseTimer = channel.setTimer(&c, .phase, after: channel.configuration.dialToneTimeout)
    }

    func answer(_ channel: CallChannel, _ c: inout ChannelCore) {
        channel.send(.hook(.offHook))
        // Tones stay heard on an answered line: the exchange's busy or dial tone is how an
        // analog line says the far end has gone.
        channel.enableDetection(digits: true, progress: true)
    }

    func reject(_ channel: CallChannel, _ c: inout ChannelCore, cause: CallCause) {
        channel.finish(&c, cause, raw: "rejected here; left to ring out")
        c.line.phase = .ignoringRings
        c.line.phaseTimer = channel.setTimer(&c, .phase, after: channel.configuration.ringGap)
    }

    func release(_ channel: CallChannel, _ c: inout ChannelCore) {
        channel.send(.hook(.onHook))
    }

    func flash(_ channel: CallChannel, _ c: inout ChannelCore) throws {
        c.line.phase = .flashTransfer
        channel.send(.hook(.flash))
    }

    func lineSignal(_ signal: LineEvent.Kind, _ channel: CallChannel, _ c: inout ChannelCore) {
        let configuration = channel.configuration
        switch signal {
        case .polarityReversal:
            // The far end may answer before the last digit's gap is over.
            if c.line.phase == .progress || c.line.phase == .dialling, configuration.answerDetection != .voiceAfterRingback {
                channel.enterAnswered(&c)
                startClassifying(channel, &c)
            } else if c.line.phase == .answered {
                channel.release(&c, .normal, raw: "polarity reversal (far end hung up)")
            }
        case .loopCurrentDrop:
            if c.line.phase == .answered {
                channel.release(&c, .normal, raw: "loop current drop (far end hung up)")
            } else if c.isInCall {
                channel.release(&c, .failed, raw: "loop current drop")
            }
        case .ringBegin:
            switch c.state {
            case .idle, .waiting:
                guard c.line.phase != .ignoringRings else {
                    channel.cancelTimer(&c.line.phaseTimer)
                    c.line.phaseTimer = channel.setTimer(&c, .phase, after: configuration.ringGap)
                    return
                }
                channel.beginCall(&c)
                c.state = .callIncoming
                c.line.phase = .incomingRinging
                c.line.phaseTimer = channel.setTimer(&c, .phase, after: configuration.ringGap)
                // Caller ID comes in the pause after the first ring.
                channel.send(.detectCallerID(true))
            case .callIncoming, .ringIncoming:
                channel.cancelTimer(&c.line.phaseTimer)
                c.line.phaseTimer = channel.setTimer(&c, .phase, after: configuration.ringGap)
            default: break
            }
        default: break
        }
    }

    func heard(_ tone: CallProgressTone, _ channel: CallChannel, _ c: inout ChannelCore) {
        switch c.line.phase {
        case .seizing:
            guard tone == .dial else { return }
            channel.cancelTimer(&c.line.phaseTimer)
            c.line.phase = .dialling
            channel.send(.detectCallProgress(false))
            channel.send(.detectCallProgress(true))
            // Set when the call was placed: this line dials numbers.
            guard let number = c.line.dialString else { return }
            if channel.configuration.pulseDialling {
                c.line.pulseSteps = pulses(for: number.digits)
                nextPulse(channel, &c)
            } else {
                channel.send(.sendDigits(number.digitString))
            }
        case .progress, .dialling:
            c.line.toneSinceVoice = true
            switch tone {
            case .ringback:
                c.line.sawRingback = true
                c.state = .ringOutgoing
            case .busy: channel.release(&c, .busy, raw: "busy tone")
            case .congestion: channel.release(&c, .congestion, raw: "congestion tone")
            case .specialInformation: channel.release(&c, .unobtainable, raw: "special information tone")
            case .dial: break
            }
        case .answered where channel.configuration.clearOnTone:
            if tone == .busy || tone == .congestion || tone == .dial {
                channel.release(&c, .normal, raw: "\(tone) tone after the far end hung up")
            }
        default: break
        }
    }

    func timerFired(_ id: Int32, _ purpose: TimerPurpose, _ channel: CallChannel, _ c: inout ChannelCore) {
        switch purpose {
        case .phase where id == c.line.phaseTimer:
            c.line.phaseTimer = nil
            switch c.line.phase {
            case .seizing: channel.release(&c, .outOfOrder, raw: "no dial tone")
            case .incomingRinging: channel.finish(&c, .normal, raw: "the caller hung up before the call was answered")
            case .ignoringRings: c.line.phase = .none
            default: break
            }
        case .voiceCheck where id == c.line.voiceCheckTimer:
            c.line.voiceCheckTimer = nil
            if c.line.phase == .progress, !c.line.toneSinceVoice, channel.configuration.answerDetection != .polarityReversal {
                // Answered by voice 2.6 s ago: still talking means a greeting.
                c.details.farEndType = c.media.audioActive ? .answerMachine : .live
                channel.enterAnswered(&c)
                c.details.answeredAt = c.line.voiceStartedAt
            }
        case .classify where id == c.line.classifyTimer:
            c.line.classifyTimer = nil
            if c.line.classifying, c.media.audioActive {
                c.details.farEndType = .answerMachine
                c.line.classifying = false
            }
        case .pulse where id == c.line.pulseTimer:
            c.line.pulseTimer = nil
            nextPulse(channel, &c)
        default: break
        }
    }

    func digitsSent(_ channel: CallChannel, _ c: inout ChannelCore) {
        if c.line.phase == .dialling { dialled(&c) }
    }

    func activityChanged(started: Bool, _ channel: CallChannel, _ c: inout ChannelCore) {
        if c.line.classifying {
            if started, c.line.firstVoiceAt == nil {
                c.line.firstVoiceAt = c.now
                c.line.classifyTimer = channel.setTimer(&c, .classify, after: Self.greetingLimit)
            } else if !started, c.line.firstVoiceAt != nil {
                // The first words ended within the limit: a person.
                c.details.farEndType = .live
                c.line.classifying = false
                channel.cancelTimer(&c.line.classifyTimer)
            }
        }
        guard c.line.phase == .progress, started, channel.configuration.answerDetection != .polarityReversal else { return }
        // Voice after ringback means an answer; but a ringback burst also starts with
        // activity, so wait until a ringback could have been recognised. A check already
        // under way for voice that no tone has contradicted stands.
        if c.line.voiceCheckTimer != nil, !c.line.toneSinceVoice { return }
        c.line.voiceStartedAt = c.now
        c.line.toneSinceVoice = false
        channel.cancelTimer(&c.line.voiceCheckTimer)
        c.line.voiceCheckTimer = channel.setTimer(&c, .voiceCheck, after: .milliseconds(2600))
    }

    // MARK: Answering-machine classification

    /// Continuous speech longer than this, right after answer, is an answering machine.
    static let greetingLimit = Duration.milliseconds(2500)

    /// An outgoing call was answered: listen to the far end's first words. A person says
    /// something short and waits; a machine's greeting runs on.
    private func startClassifying(_ channel: CallChannel, _ c: inout ChannelCore) {
        guard c.details.farEndType == .unknown else { return }
        c.line.classifying = true
        c.line.firstVoiceAt = c.media.audioActive ? c.now : nil
        if c.media.audioActive { c.line.classifyTimer = channel.setTimer(&c, .classify, after: Self.greetingLimit) }
    }

    // MARK: Dialling

    private func dialled(_ c: inout ChannelCore) {
        c.line.phase = .progress
        c.line.toneSinceVoice = false
    }

    /// 10 pulses a second, 60 ms break and 40 ms make, 700 ms between digits.
    private func pulses(for number: String) -> [(HookCommand, Int)] {
        var steps: [(HookCommand, Int)] = []
        for ch in number {
            guard let d = ch.wholeNumberValue else { continue }
            for _ in 0..<(d == 0 ? 10 : d) {
                steps.append((.onHook, 60))
                steps.append((.offHook, 40))
            }
            steps[steps.count - 1].1 += 700
        }
        return steps
    }

    private func nextPulse(_ channel: CallChannel, _ c: inout ChannelCore) {
        guard c.line.phase == .dialling else { return }
        guard !c.line.pulseSteps.isEmpty else {
            dialled(&c)
            return
        }
        let (hook, milliseconds) = c.line.pulseSteps.removeFirst()
        channel.send(.hook(hook))
        c.line.pulseTimer = channel.setTimer(&c, .pulse, after: .milliseconds(milliseconds))
    }
}
