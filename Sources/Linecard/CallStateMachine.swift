import Foundation
import LinecardDSP
import LinecardEngine

/// How a channel follows its line: the reactions to engine events, under the channel's lock.
extension CallChannel {
    func beginCall(_ c: inout ChannelCore) {
        c.callSerial += 1
        if c.legOwner != nil, c.legCallSerial == nil { c.legCallSerial = c.callSerial }
        c.cause = .normal
        c.details = CallDetails()
        c.digitBuffer.removeAll()
        c.sawRingback = false
        c.dialled = ""
        c.firedTimers.removeAll()
        c.audioActive = false
        c.silentSince = c.now
        c.beepActive = false
        c.lastBeep = nil
        c.classifying = false
        c.firstVoiceAt = nil
        c.placedHere = false
    }

    func enterAnswered(_ c: inout ChannelCore) {
        send(.detectDigits(true))
        send(.detectCallerID(false))
        if c.details.farEndType != .faxMachine { send(.detectFaxTones(true)) }
        c.state = .answered
        c.phase = .answered
        c.details.answeredAt = c.now
        c.digitBuffer.removeAll()
        cancelTimer(&c.phaseTimer)
        cancelTimer(&c.callTimer)
        cancelTimer(&c.voiceCheckTimer)
        if c.audioActive { c.silentSince = c.now } else { c.silentSince = max(c.silentSince, c.now) }
    }

    /// An outgoing call on an FXO line was answered: listen to the far end's first words.
    /// A person says something short and waits; a machine's greeting runs on.
    func startClassifying(_ c: inout ChannelCore) {
        guard kind == .fxo, c.details.farEndType == .unknown else { return }
        c.classifying = true
        c.firstVoiceAt = c.audioActive ? c.now : nil
        if c.audioActive { c.classifyTimer = setTimer(&c, after: Self.greetingLimit) }
    }

    /// Continuous speech longer than this, right after answer, is an answering machine.
    static let greetingLimit = Duration.milliseconds(2500)
    static let activityStopDelay = Int64(300 * 8)

    /// Ends the call from this side: the line is released.
    @discardableResult
    func release(_ c: inout ChannelCore, _ cause: CallCause, raw: String) -> CallState {
        switch kind {
        case .fxs:
            if c.phase == .ringingTelephone { send(.hook(.ringStop)) }
            send(.hook(.polarityNormal))
        case .local, .clear:
            break
        default:
            send(.hook(.onHook))
        }
        finish(&c, cause, raw: raw)
        return c.state
    }

    /// The call is over (whoever ended it): media stops, state becomes IDLE with `cause`.
    func finish(_ c: inout ChannelCore, _ cause: CallCause, raw: String) {
        send(.stopDigits)
        send(.stopTone)
        send(.stopPlayback)
        disableDetection()
        cancelTimer(&c.phaseTimer)
        cancelTimer(&c.callTimer)
        cancelTimer(&c.voiceCheckTimer)
        cancelTimer(&c.silenceTimer)
        cancelTimer(&c.pulseTimer)
        cancelTimer(&c.classifyTimer)
        c.classifying = false
        c.pulseSteps.removeAll()
        c.playingDigits = false
        c.toneSequence = nil
        if c.playback != nil, c.playback?.outcome == nil { c.playback?.outcome = .hangup }
        if c.recording != nil {
            drainRecording(&c)
            if c.recording?.outcome == nil { c.recording?.outcome = .hangup }
        }
        if let peer = c.connectedTo {
            c.connectedTo = nil
            c.details.connectedPort = nil
            // Told by posting, never under this lock: the peer may be finishing its own call
            // at this moment, holding its lock and posting to us.
            let me = port, serial = c.callSerial
            let directory = self.directory
            directory.notifications.async { directory.channel(peer)?.peerDisconnected(from: me, serial: serial) }
        }
        // Connected, transferred, or a transfer's leg: whatever this port transmitted from
        // another port stops with the call.
        send(.stopListening)
        endLocalCall(&c)
        if let leg = c.transferLeg {
            c.transferLeg = nil
            let me = port, serial = c.transferSerial
            let directory = self.directory
            directory.notifications.async { directory.channel(leg)?.transferOwnerEnded(me, serial: serial) }
        }
        cancelTimer(&c.reconnectTimer)
        c.ringbackPlaying = false
        c.state = .idle
        c.phase = .none
        c.cause = cause
        c.details.rawCause = raw
        c.details.endedAt = c.now
    }

    func apply(_ event: EngineEvent, _ c: inout ChannelCore) {
        switch event.kind {
        case .timer(let id): timerFired(id, &c)
        case .callProgressStarted(let tone): heard(tone, &c)
        case .callProgressEnded: break
        case .line(let signal, let value): lineSignal(signal, value: value, &c)
        case .digitStarted(let code, _): received(Character(Unicode.Scalar(code)), &c)
        case .digitEnded: break
        case .digitsSent:
            if c.phase == .dialling { dialled(&c) }
            c.digitsDone = true
        case .activityStarted: activity(started: true, &c)
        case .activityStopped: activity(started: false, &c)
        case .beepStarted:
            c.beepActive = true
            c.mediaVersion += 1
            if c.details.farEndType == .unknown || c.classifying {
                c.details.farEndType = .answerMachine
                c.classifying = false
                cancelTimer(&c.classifyTimer)
            }
        case .faxTone:
            // Decisive, whatever the first words or a beep suggested: CED is a 2100 Hz
            // "beep", and CNG a 1100 Hz one.
            send(.detectFaxTones(false))
            c.details.farEndType = .faxMachine
            c.classifying = false
            cancelTimer(&c.classifyTimer)
            c.mediaVersion += 1
        case .callerID(let number):
            send(.detectCallerID(false))
            if c.state == .callIncoming || c.state == .ringIncoming {
                let text = number.description
                // "O" (out of area) and "P" (private) say why there is no number.
                c.details.callingNumber = text == "O" || text == "P" ? "" : text
                c.details.callerIDStatus = text == "O" ? .unavailable : text == "P" ? .withheld : .received
                c.mediaVersion += 1
            }
        case .beepEnded(let milliseconds):
            c.beepActive = false
            c.lastBeep = (c.now, Int(milliseconds))
            c.mediaVersion += 1
        case .toneFinished:
            if c.toneSequence != nil { playNextToneStep(&c) }
        case .playbackFinished:
            if c.playback != nil, c.playback?.outcome == nil { c.playback?.outcome = .normal }
        case .playbackNeedsData: feedPlayback(&c)
        case .recordNeedsDraining: drainRecording(&c)
        }
    }

    private func timerFired(_ id: Int32, _ c: inout ChannelCore) {
        if id == c.phaseTimer {
            c.phaseTimer = nil
            switch c.phase {
            case .seizing: release(&c, .outOfOrder, raw: "no dial tone")
            case .incomingRinging: finish(&c, .normal, raw: "the caller hung up before the call was answered")
            case .ignoringRings: c.phase = .none
            case .collecting: dialComplete(&c)
            default: break
            }
        } else if id == c.callTimer {
            c.callTimer = nil
            if c.state == .ringOutgoing {
                release(&c, .noAnswer, raw: "no answer in time")
            } else if c.state == .callOutgoing {
                release(&c, .timeout, raw: "no call progress in time")
            }
        } else if id == c.voiceCheckTimer {
            c.voiceCheckTimer = nil
            if c.phase == .progress, !c.toneSinceVoice, configuration.answerDetection != .polarityReversal {
                // Answered by voice 2.6 s ago: still talking means a greeting.
                c.details.farEndType = c.audioActive ? .answerMachine : .live
                enterAnswered(&c)
                c.details.answeredAt = c.voiceStartedAt
            }
        } else if id == c.reconnectTimer {
            c.reconnectTimer = nil
            if c.state == .reconnecting { c.state = .answered }
        } else if id == c.classifyTimer {
            c.classifyTimer = nil
            if c.classifying, c.audioActive {
                c.details.farEndType = .answerMachine
                c.classifying = false
            }
        } else if id == c.silenceTimer {
            c.silenceTimer = nil
            if c.phase == .answered { release(&c, .normal, raw: "silence") }
        } else if let job = c.recording, id == job.silenceTimer {
            c.recording?.silenceTimer = nil
            if job.outcome == nil { c.recording?.outcome = .silence }
        } else if id == c.pulseTimer {
            c.pulseTimer = nil
            nextPulse(&c)
        }
    }

    private func heard(_ tone: CallProgressTone, _ c: inout ChannelCore) {
        switch c.phase {
        case .seizing:
            guard tone == .dial else { return }
            cancelTimer(&c.phaseTimer)
            c.phase = .dialling
            send(.detectCallProgress(false))
            send(.detectCallProgress(true))
            if configuration.pulseDialling {
                c.pulseSteps = pulses(for: c.details.calledNumber)
                nextPulse(&c)
            } else {
                send(.sendDigits(DigitString(c.details.calledNumber)!))
            }
        case .progress, .dialling:
            c.toneSinceVoice = true
            switch tone {
            case .ringback:
                c.sawRingback = true
                c.state = .ringOutgoing
            case .busy: release(&c, .busy, raw: "busy tone")
            case .congestion: release(&c, .congestion, raw: "congestion tone")
            case .specialInformation: release(&c, .unobtainable, raw: "special information tone")
            case .dial: break
            }
        case .answered where configuration.clearOnTone && kind == .fxo:
            if tone == .busy || tone == .congestion || tone == .dial {
                release(&c, .normal, raw: "\(tone) tone after the far end hung up")
            }
        default: break
        }
    }

    private func dialled(_ c: inout ChannelCore) {
        c.phase = .progress
        c.toneSinceVoice = false
    }

    private func lineSignal(_ signal: LineEvent.Kind, value: Int32, _ c: inout ChannelCore) {
        switch signal {
        case .polarityReversal:
            // The far end may answer before the last digit's gap is over.
            if c.phase == .progress || c.phase == .dialling, configuration.answerDetection != .voiceAfterRingback {
                enterAnswered(&c)
                startClassifying(&c)
            } else if c.phase == .answered, kind == .fxo {
                release(&c, .normal, raw: "polarity reversal (far end hung up)")
            }
        case .loopCurrentDrop:
            if c.phase == .answered {
                release(&c, .normal, raw: "loop current drop (far end hung up)")
            } else if c.isInCall {
                release(&c, .failed, raw: "loop current drop")
            }
        case .ringBegin:
            switch c.state {
            case .idle, .waiting:
                guard c.phase != .ignoringRings else {
                    cancelTimer(&c.phaseTimer)
                    c.phaseTimer = setTimer(&c, after: configuration.ringGap)
                    return
                }
                beginCall(&c)
                c.state = .callIncoming
                c.phase = .incomingRinging
                c.phaseTimer = setTimer(&c, after: configuration.ringGap)
                // Caller ID comes in the pause after the first ring.
                if kind == .fxo { send(.detectCallerID(true)) }
            case .callIncoming, .ringIncoming:
                cancelTimer(&c.phaseTimer)
                c.phaseTimer = setTimer(&c, after: configuration.ringGap)
            default: break
            }
        case .ringEnd: break
        case .offHook:
            guard kind == .fxs else { return }
            if c.phase == .ringingTelephone {
                send(.hook(.polarityReversed))
                enterAnswered(&c)
                c.details.farEndType = .live
            } else if !c.isInCall {
                // The telephone was lifted: give it dial tone and collect what it dials.
                beginCall(&c)
                c.phase = .collecting
                send(.playTone(engine.toneID(for: .dial), samples: 0))
                send(.filterDialTone(true))
                send(.detectDigits(true))
                c.phaseTimer = setTimer(&c, after: .seconds(15))
            }
        case .onHook:
            guard kind == .fxs else { return }
            if c.phase == .collecting {
                send(.stopTone)
                cancelTimer(&c.phaseTimer)
                disableDetection()
                c.phase = .none
            } else if c.isInCall {
                release(&c, .normal, raw: "the telephone hung up")
            } else {
                send(.stopTone)
            }
        case .flash: break
        case .alarm, .removed:
            c.outOfService = signal == .alarm ? "the line is in alarm" : "the device was removed"
            if c.isInCall { release(&c, .outOfOrder, raw: c.outOfService!) }
        case .alarmCleared:
            if c.outOfService == "the line is in alarm" { c.outOfService = nil }
        case .readOverrun, .writeUnderrun: break
        case .hookFailed:
            // DAHDI answers ENODATA to ringing and dialling until a tone zone is loaded.
            let reason = value == ENODATA
                ? "the card has no tone zone loaded: add loadzone= and defaultzone= to /etc/dahdi/system.conf and run dahdi_cfg"
                : "the card refused a hook command (errno \(value): \(String(cString: strerror(value))))"
            if c.isInCall { finish(&c, .failed, raw: reason) }
        }
    }

    private func received(_ digit: Character, _ c: inout ChannelCore) {
        if c.playback?.bargeIn == true, c.playback?.outcome == nil {
            c.playback?.outcome = .bargeIn
            send(.stopPlayback)
        }
        if c.recording?.bargeIn == true, c.recording?.outcome == nil { c.recording?.outcome = .bargeIn }
        if c.phase == .collecting {
            send(.stopTone)
            cancelTimer(&c.phaseTimer)
            if digit == "#" {
                dialComplete(&c)
                return
            }
            c.dialled.append(digit)
            if c.dialled.count >= configuration.maximumDialledDigits {
                dialComplete(&c)
            } else {
                c.phaseTimer = setTimer(&c, after: configuration.interdigitTimeout)
            }
            return
        }
        if c.isInCall { c.digitBuffer.append((digit, c.now)) }
    }

    private func dialComplete(_ c: inout ChannelCore) {
        cancelTimer(&c.phaseTimer)
        send(.filterDialTone(false))
        c.details.calledNumber = c.dialled
        c.state = .callIncoming
        c.phase = .incomingRinging
    }

    private func activity(started: Bool, _ c: inout ChannelCore) {
        c.audioActive = started
        if !started { c.silentSince = c.now - Self.activityStopDelay }
        c.mediaVersion += 1
        if c.classifying {
            if started, c.firstVoiceAt == nil {
                c.firstVoiceAt = c.now
                c.classifyTimer = setTimer(&c, after: Self.greetingLimit)
            } else if !started, c.firstVoiceAt != nil {
                // The first words ended within the limit: a person.
                c.details.farEndType = .live
                c.classifying = false
                cancelTimer(&c.classifyTimer)
            }
        }
        switch c.phase {
        case .progress where started && configuration.answerDetection != .polarityReversal:
            // Voice after ringback means an answer; but a ringback burst also starts with
            // activity, so wait until a ringback could have been recognised. A check already
            // under way for voice that no tone has contradicted stands.
            if c.voiceCheckTimer != nil, !c.toneSinceVoice { return }
            c.voiceStartedAt = c.now
            c.toneSinceVoice = false
            cancelTimer(&c.voiceCheckTimer)
            c.voiceCheckTimer = setTimer(&c, after: .milliseconds(2600))
        case .answered:
            if started {
                cancelTimer(&c.silenceTimer)
            } else if let limit = configuration.silenceLimit {
                c.silenceTimer = setTimer(&c, after: limit)
            }
            if var job = c.recording, job.outcome == nil {
                if started {
                    job.heardAudio = true
                    cancelTimer(&job.silenceTimer)
                } else if let limit = job.silenceLimit {
                    job.silenceTimer = setTimer(&c, after: limit)
                }
                c.recording = job
            }
        default: break
        }
    }

    // MARK: Pulse dialling

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

    private func nextPulse(_ c: inout ChannelCore) {
        guard c.phase == .dialling else { return }
        guard !c.pulseSteps.isEmpty else {
            dialled(&c)
            return
        }
        let (hook, milliseconds) = c.pulseSteps.removeFirst()
        send(.hook(hook))
        c.pulseTimer = setTimer(&c, after: .milliseconds(milliseconds))
    }
}
