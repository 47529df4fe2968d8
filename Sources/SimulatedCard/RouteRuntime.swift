import Foundation
import LinecardDSP
import LinecardEngine

/// A route prepared for the tick: numbers in samples, digits inline, descriptors built.
final class RouteRuntime {
    let number: String
    /// The number's ASCII digits.
    let numberDigits: UnsafeMutableBufferPointer<UInt8>
    let farEnd: FarEnd
    let kind: FarEndKind
    let path: ImpairmentPath
    let rings: Int
    let personDigits: DigitString
    let beep: ToneDescriptor?
    let greeting: [Int16]
    /// The caller ID message the exchange sends after the first ring (callers only; made
    /// outside the tick).
    var callerID: [UInt8] = []
    /// A fax machine's terminal, made here (outside the tick); one call at a time.
    let fax: FaxTerminal?
    let faxSettings: FaxMachine?
    /// Where the fax machine keeps what it receives: its `receiveFile`, or a file of its own
    /// in the temporary folder (a fax machine with nowhere to print refuses pages).
    let faxReceiveFile: String?
    let calling: Bool
    var faxInUse = false

    init(number: String, route: Route, seed: Int32, calling: Bool = false) {
        self.calling = calling
        self.number = number
        numberDigits = .allocate(capacity: number.utf8.count)
        _ = numberDigits.initialize(from: number.utf8)
        farEnd = route.farEnd
        path = ImpairmentPath(route.impairments, seed: seed)
        if case .faxMachine(let m) = route.farEnd {
            fax = FaxTerminal(calling: calling)
            faxSettings = m
            faxReceiveFile = m.receiveFile ?? FileManager.default.temporaryDirectory
                .appendingPathComponent("linecard-exchange-fax-\(getpid())-\(number.filter(\.isNumber)).tif").path
        } else {
            fax = nil
            faxSettings = nil
            faxReceiveFile = nil
        }
        switch route.farEnd {
        case .person(let p):
            kind = .person
            rings = p.answerAfterRings
            personDigits = DigitString(String(p.digits.prefix(DigitString.capacity)))!
            beep = nil
            greeting = p.greets ? SyntheticVoice.hello : []
        case .answeringMachine(let m):
            kind = .answeringMachine
            rings = m.answerAfterRings
            personDigits = DigitString("")!
            beep = ToneDescriptor(.continuous(m.beepFrequency, level: -12))
            greeting = SyntheticVoice.greeting(milliseconds: m.greetingMilliseconds)
        case .faxMachine(let m):
            kind = .faxMachine
            rings = m.answerAfterRings
            personDigits = DigitString("")!
            beep = nil
            greeting = []
        case .busy: kind = .busy; rings = 0; personDigits = DigitString("")!; beep = nil; greeting = []
        case .noAnswer: kind = .noAnswer; rings = 0; personDigits = DigitString("")!; beep = nil; greeting = []
        case .unobtainable: kind = .unobtainable; rings = 0; personDigits = DigitString("")!; beep = nil; greeting = []
        case .congestion: kind = .congestion; rings = 0; personDigits = DigitString("")!; beep = nil; greeting = []
        case .port: kind = .port; rings = 0; personDigits = DigitString("")!; beep = nil; greeting = []
        }
    }

    deinit {
        numberDigits.deallocate()
        if faxSettings?.receiveFile == nil, let own = faxReceiveFile { try? FileManager.default.removeItem(atPath: own) }
    }
}
