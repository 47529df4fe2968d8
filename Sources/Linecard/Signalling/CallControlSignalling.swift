import LinecardEngine

/// A B-channel whose calls are controlled by messages (ISDN's Q.931 over the span's
/// D-channel): nothing is dialled or heard to know where a call stands; the network says so,
/// and says why a call ended with a Q.850 cause, kept in `CallDetails.q850Cause`. The tones
/// the network plays in-band are still heard by the call-progress detector, for a program
/// that listens.
struct CallControlSignalling: LineSignalling {
    let control: any CallControl

    var name: String { "an ISDN B-channel" }

    var capabilities: SignallingCapabilities {
        SignallingCapabilities(callsNumbers: true, dialsNumbers: true, takesIncomingCalls: true, bringsDialledNumbers: true)
    }

    func placeCall(_ channel: CallChannel, _ c: inout ChannelCore) {
        // Set when the call was placed: this line dials numbers.
        guard let number = c.line.dialString else { return }
        c.line.phase = .dialling
        c.line.callReference = c.callSerial
        channel.enableDetection(digits: false, progress: true)
        control.place(OutgoingCallSetup(number: number, callingNumber: c.details.callingNumber), port: channel.port, call: c.callSerial)
    }

    func answer(_ channel: CallChannel, _ c: inout ChannelCore) {
        guard let call = c.line.callReference else { return }
        control.answer(port: channel.port, call: call)
        channel.enableDetection(digits: true, progress: false)
    }

    func reject(_ channel: CallChannel, _ c: inout ChannelCore, cause: CallCause) {
        let q850 = Q850Cause(cause)
        if let call = c.line.callReference { control.clear(port: channel.port, call: call, cause: q850) }
        c.line.callReference = nil
        channel.finish(&c, cause, raw: "rejected here (\(q850))")
        c.details.q850Cause = q850
    }

    func release(_ channel: CallChannel, _ c: inout ChannelCore) {
        guard let call = c.line.callReference else { return }
        c.line.callReference = nil
        control.clear(port: channel.port, call: call, cause: .normalClearing)
    }

    func callControl(_ event: CallControlEvent, call: Int?, _ channel: CallChannel, _ c: inout ChannelCore) {
        switch event {
        case .service(let reason):
            c.outOfService = reason
            return
        case .incoming(let setup):
            guard c.state == .idle || c.state == .waiting, let call else { return }
            channel.beginCall(&c)
            c.line.callReference = call
            c.state = .ringIncoming
            c.line.phase = .incomingRinging
            c.details.calledNumber = setup.calledNumber
            c.details.callingNumber = setup.callingNumber
            c.details.callerIDStatus = setup.callingNumber.isEmpty && setup.callingNumberPresentation == .received
                ? .unavailable : setup.callingNumberPresentation
            return
        default:
            break
        }
        // Anything else is about one call: a message about an earlier call is stale.
        guard c.isInCall, let call, c.line.callReference == call else { return }
        switch event {
        case .proceeding(let inband):
            if c.line.phase == .dialling { c.line.phase = .progress }
            if inband { channel.send(.detectCallProgress(true)) }
        case .alerting:
            if c.state == .callOutgoing { c.state = .ringOutgoing }
            c.line.phase = .progress
        case .progress(_, let cause?):
            // An in-band announcement of why the call fails: the caller learns the cause now.
            guard c.state == .callOutgoing || c.state == .ringOutgoing else { return }
            c.details.q850Cause = cause
            channel.release(&c, cause.callCause, raw: "\(cause) (with an in-band announcement)")
            c.details.q850Cause = cause
        case .progress:
            break
        case .answered:
            guard c.state == .callOutgoing || c.state == .ringOutgoing else { return }
            channel.enterAnswered(&c)
        case .cleared(let cause):
            c.line.callReference = nil
            let outcome: CallCause
            switch c.state {
            case .callIncoming, .ringIncoming:
                // The caller gave up (or the network did for them) before the call was answered.
                outcome = cause.value == 16 || cause.value == 31 ? .normal : cause.callCause
            default:
                outcome = cause.callCause
            }
            channel.finish(&c, outcome, raw: cause.description)
            c.details.q850Cause = cause
        case .incoming, .service:
            break
        }
    }
}

extension CallChannel {
    /// A message from the card's call-control module about this port's call `call` (nil:
    /// about the port itself).
    func callControlEvent(_ event: CallControlEvent, call: Int?) {
        let resumptions = core.withLock { c -> [@Sendable () -> Void] in
            c.now = max(c.now, engine.lineTime)
            signalling.callControl(event, call: call, self, &c)
            return pollWaiters(&c)
        }
        for resume in resumptions { resume() }
        reportToOwner()
    }
}
