import Foundation
import LinecardDSP
import LinecardEngine
import SystemPackage

/// How a channel follows its line: the reactions to engine events, under the card's lock
/// (`CardState`). What the line's signals mean is the port's `LineSignalling`'s to say.
extension CallChannel {
    func beginCall(_ c: inout ChannelCore) {
        c.callSerial += 1
        if c.bridge.legOwner != nil, c.bridge.legCallSerial == nil { c.bridge.legCallSerial = c.callSerial }
        c.cause = .normal
        c.details = CallDetails()
        c.media.digitBuffer.removeAll()
        c.line.sawRingback = false
        c.line.dialled = ""
        c.firedTimers.removeAll()
        c.media.audioActive = false
        c.media.silentSince = c.now
        c.media.beepActive = false
        c.media.lastBeep = nil
        c.line.classifying = false
        c.line.firstVoiceAt = nil
        c.placedHere = false
    }

    func enterAnswered(_ c: inout ChannelCore) {
        send(.detectDigits(true))
        send(.detectCallerID(false))
        if c.details.farEndType != .faxMachine { send(.detectFaxTones(true)) }
        c.state = .answered
        c.line.phase = .answered
        c.details.answeredAt = c.now
        c.media.digitBuffer.removeAll()
        cancelTimer(&c.line.phaseTimer)
        cancelTimer(&c.callTimer)
        cancelTimer(&c.line.voiceCheckTimer)
        if c.media.audioActive { c.media.silentSince = c.now } else { c.media.silentSince = max(c.media.silentSince, c.now) }
    }

    /// Activity is reported stopped this long after the far end fell silent.
    static let activityStopDelay = Int64(300 * 8)

    /// Ends the call from this side: the line is released.
    @discardableResult
    func release(_ c: inout ChannelCore, _ cause: CallCause, raw: String) -> CallState {
        signalling.release(self, &c)
        finish(&c, cause, raw: raw)
        return c.state
    }

    /// The call is over (whoever ended it): media stops, state becomes IDLE with `cause`.
    func finish(_ c: inout ChannelCore, _ cause: CallCause, raw: String) {
        send(.stopDigits)
        send(.stopTone)
        send(.stopPlayback)
        disableDetection()
        cancelTimer(&c.line.phaseTimer)
        cancelTimer(&c.callTimer)
        cancelTimer(&c.line.voiceCheckTimer)
        cancelTimer(&c.silenceTimer)
        cancelTimer(&c.line.pulseTimer)
        cancelTimer(&c.line.classifyTimer)
        c.line.classifying = false
        c.line.pulseSteps.removeAll()
        c.media.playingDigits = false
        c.media.toneSequence = nil
        if c.media.playback != nil, c.media.playback?.outcome == nil { c.media.playback?.outcome = .hangup }
        if c.media.recording != nil {
            drainRecording(&c)
            if c.media.recording?.outcome == nil { c.media.recording?.outcome = .hangup }
        }
        if let peer = c.bridge.connectedTo {
            c.bridge.connectedTo = nil
            c.details.connectedPort = nil
            // Told by posting, never under this lock: the peer may be finishing its own call
            // at this moment, holding its lock and posting to us.
            let me = port, serial = c.callSerial
            let directory = self.directory
            directory.post { directory.channel(peer)?.peerDisconnected(from: me, serial: serial) }
        }
        // Connected, transferred, or a transfer's leg: whatever this port transmitted from
        // another port stops with the call.
        send(.stopListening)
        endLocalCall(&c)
        if let leg = c.bridge.transferLeg {
            c.bridge.transferLeg = nil
            let me = port, serial = c.bridge.transferSerial
            let directory = self.directory
            directory.post { directory.channel(leg)?.transferOwnerEnded(me, serial: serial) }
        }
        cancelTimer(&c.bridge.reconnectTimer)
        c.bridge.ringbackPlaying = false
        c.state = .idle
        c.line.phase = .none
        c.cause = cause
        c.details.rawCause = raw
        c.details.endedAt = c.now
    }

    func apply(_ event: EngineEvent, _ c: inout ChannelCore) {
        switch event.kind {
        case .timer(let id): timerFired(id, &c)
        case .callProgressStarted(let tone): signalling.heard(tone, self, &c)
        case .callProgressEnded: break
        case .line(let signal, let value): lineSignal(signal, value: value, &c)
        case .digitStarted(let code, _): received(Character(Unicode.Scalar(code)), &c)
        case .digitEnded: break
        case .digitsSent:
            signalling.digitsSent(self, &c)
            c.media.digitsDone = true
        case .activityStarted: activity(started: true, &c)
        case .activityStopped: activity(started: false, &c)
        case .beepStarted:
            c.media.beepActive = true
            c.media.mediaVersion += 1
            if c.details.farEndType == .unknown || c.line.classifying {
                c.details.farEndType = .answerMachine
                c.line.classifying = false
                cancelTimer(&c.line.classifyTimer)
            }
        case .faxTone:
            // Decisive, whatever the first words or a beep suggested: CED is a 2100 Hz
            // "beep", and CNG a 1100 Hz one.
            send(.detectFaxTones(false))
            c.details.farEndType = .faxMachine
            c.line.classifying = false
            cancelTimer(&c.line.classifyTimer)
            c.media.mediaVersion += 1
        case .callerID(let number):
            send(.detectCallerID(false))
            if c.state == .callIncoming || c.state == .ringIncoming {
                let text = number.description
                // "O" (out of area) and "P" (private) say why there is no number.
                c.details.callingNumber = text == "O" || text == "P" ? "" : text
                c.details.callerIDStatus = text == "O" ? .unavailable : text == "P" ? .withheld : .received
                c.media.mediaVersion += 1
            }
        case .beepEnded(let milliseconds):
            c.media.beepActive = false
            c.media.lastBeep = (c.now, Int(milliseconds))
            c.media.mediaVersion += 1
        case .toneFinished:
            if c.media.toneSequence != nil { playNextToneStep(&c) }
        case .playbackFinished:
            if c.media.playback != nil, c.media.playback?.outcome == nil { c.media.playback?.outcome = .normal }
        case .playbackNeedsData: feedPlayback(&c)
        case .recordNeedsDraining: drainRecording(&c)
        }
    }

    private func timerFired(_ id: Int32, _ c: inout ChannelCore) {
        guard let purpose = TimerPurpose(timer: id) else { return }
        switch purpose {
        case .wait: break
        case .call where id == c.callTimer:
            c.callTimer = nil
            if c.state == .ringOutgoing {
                release(&c, .noAnswer, raw: "no answer in time")
            } else if c.state == .callOutgoing {
                release(&c, .timeout, raw: "no call progress in time")
            }
        case .silence where id == c.silenceTimer:
            c.silenceTimer = nil
            if c.line.phase == .answered { release(&c, .normal, raw: "silence") }
        case .recordingSilence where id == c.media.recording?.silenceTimer:
            c.media.recording?.silenceTimer = nil
            if c.media.recording?.outcome == nil { c.media.recording?.outcome = .silence }
        case .reconnect where id == c.bridge.reconnectTimer:
            c.bridge.reconnectTimer = nil
            if c.state == .reconnecting { c.state = .answered }
        case .phase, .pulse, .voiceCheck, .classify:
            signalling.timerFired(id, purpose, self, &c)
        default: break
        }
    }

    /// The device's own signals are the call layer's; the line's are the signalling's.
    private func lineSignal(_ signal: LineEvent.Kind, value: Int32, _ c: inout ChannelCore) {
        switch signal {
        case .alarm, .removed:
            c.outOfService = signal == .alarm ? "the line is in alarm" : "the device was removed"
            if c.isInCall { release(&c, .outOfOrder, raw: c.outOfService!) }
        case .alarmCleared:
            if c.outOfService == "the line is in alarm" { c.outOfService = nil }
        case .readOverrun, .writeUnderrun: break
        case .hookFailed:
            // DAHDI answers ENODATA to ringing and dialling until a tone zone is loaded.
            let refusal = Errno(rawValue: value)
            let reason = refusal == .noData
                ? "the card has no tone zone loaded: add loadzone= and defaultzone= to /etc/dahdi/system.conf and run dahdi_cfg"
                : "the card refused a hook command: \(refusal)"
            if c.isInCall { finish(&c, .failed, raw: reason) }
        case .polarityReversal, .loopCurrentDrop, .ringBegin, .ringEnd, .offHook, .onHook, .flash:
            signalling.lineSignal(signal, self, &c)
        }
    }

    private func received(_ digit: Character, _ c: inout ChannelCore) {
        if c.media.playback?.bargeIn == true, c.media.playback?.outcome == nil {
            c.media.playback?.outcome = .bargeIn
            send(.stopPlayback)
        }
        if c.media.recording?.bargeIn == true, c.media.recording?.outcome == nil { c.media.recording?.outcome = .bargeIn }
        if signalling.collect(digit, self, &c) { return }
        if c.isInCall { c.media.digitBuffer.append((digit, c.now)) }
    }

    private func activity(started: Bool, _ c: inout ChannelCore) {
        c.media.audioActive = started
        if !started { c.media.silentSince = c.now - Self.activityStopDelay }
        c.media.mediaVersion += 1
        signalling.activityChanged(started: started, self, &c)
        switch c.line.phase {
        case .answered:
            if started {
                cancelTimer(&c.silenceTimer)
            } else if let limit = configuration.silenceLimit {
                c.silenceTimer = setTimer(&c, .silence, after: limit)
            }
            if var job = c.media.recording, job.outcome == nil {
                if started {
                    job.heardAudio = true
                    cancelTimer(&job.silenceTimer)
                } else if let limit = job.silenceLimit {
                    job.silenceTimer = setTimer(&c, .recordingSilence, after: limit)
                }
                c.media.recording = job
            }
        default: break
        }
    }
}
