import CDahdi
import Foundation
import LinecardCore
import SystemPackage

/// A DAHDI span as `/dev/dahdi/ctl` describes it (what `dahdi_scan` prints).
public struct DahdiSpan: Sendable, Equatable, Codable {
    public var number: Int
    public var name: String
    public var description: String
    /// "analog", "digital-T1", "digital-E1", "digital-BRI", … (the driver's `spantype`, or
    /// "analog" when a span of FXS/FXO channels leaves it empty).
    public var type: String
    public var manufacturer: String
    public var deviceType: String
    public var location: String
    /// Alarm names (RED, YELLOW, BLUE, LOS, …); empty when the span is OK.
    public var alarms: [String]
    public var totalChannels: Int
    public var channels: [DahdiChannel]
}

/// One DAHDI channel: its global number, where it sits, and how it is configured.
public struct DahdiChannel: Sendable, Equatable, Codable {
    /// The global channel number (`DAHDI_SPECIFY`).
    public var number: Int
    public var span: Int
    /// Position within the span, from 1.
    public var position: Int
    public var name: String
    /// dahdi_cfg's word for the signalling: "fxsks", "fxoks", "clear", "hdlcfcs", …;
    /// "unconfigured" when `system.conf` does not mention the channel.
    public var signalling: String
    /// The port kind Linecard drives it as, or nil when it carries no audio (HDLC,
    /// unconfigured).
    public var kind: PortKind?
    public var alarms: [String]
}

/// Reads spans and channels through the control device, as `dahdi_scan` does.
public enum DahdiScanner {
    /// Every span and its channels. Throws a `DahdiError` that says what is missing when
    /// DAHDI is not loaded or the control device cannot be opened.
    public static func scan(controlPath: String = LC_DAHDI_CTL_PATH) throws(DahdiError) -> [DahdiSpan] {
        let control: FileDescriptor
        do {
            control = try FileDescriptor.open(FilePath(controlPath), .readWrite)
        } catch {
            throw DahdiError(device: controlPath, operation: "opening it", errno: error as? Errno ?? .ioError)
        }
        defer { try? control.close() }
        let ctl = control.rawValue

        var channelsBySpan: [Int: [DahdiChannel]] = [:]
        for number in 1..<Int(DahdiMaxChannels) {
            var params = DahdiParams()
            params.channo = CInt(number)
            guard dahdi_ioctl_params(ctl, DahdiGetParams, &params) == 0 else { continue }
            let channel = DahdiChannel(
                number: number, span: Int(params.spanno), position: Int(params.chanpos),
                name: withUnsafeBytes(of: params.name) { string(from: $0) },
                signalling: signallingName(params.sigtype), kind: portKind(params.sigtype),
                alarms: alarmNames(Int32(bitPattern: params.chan_alarms)))
            channelsBySpan[channel.span, default: []].append(channel)
        }

        var spans: [DahdiSpan] = []
        for number in 1..<Int(DahdiMaxSpans) {
            var info = DahdiSpanInfo()
            info.spanno = CInt(number)
            guard dahdi_ioctl_spaninfo(ctl, &info) == 0 else { continue }
            let channels = channelsBySpan[number] ?? []
            var type = withUnsafeBytes(of: info.spantype) { string(from: $0) }
            if type.isEmpty {
                type = channels.contains { $0.kind == .fxo || $0.kind == .fxs } ? "analog" : "digital"
            }
            spans.append(DahdiSpan(
                number: number,
                name: withUnsafeBytes(of: info.name) { string(from: $0) },
                description: withUnsafeBytes(of: info.desc) { string(from: $0) },
                type: type,
                manufacturer: withUnsafeBytes(of: info.manufacturer) { string(from: $0) },
                deviceType: withUnsafeBytes(of: info.devicetype) { string(from: $0) },
                location: withUnsafeBytes(of: info.location) { string(from: $0) },
                alarms: alarmNames(info.alarms),
                totalChannels: Int(info.totalchans),
                channels: channels))
        }
        return spans
    }

    /// Signalling as dahdi_cfg spells it in system.conf.
    public static func signallingName(_ sigtype: CInt) -> String {
        switch sigtype {
        case 0: "unconfigured"
        case DahdiSigFXSLS: "fxsls"
        case DahdiSigFXSGS: "fxsgs"
        case DahdiSigFXSKS: "fxsks"
        case DahdiSigFXOLS: "fxols"
        case DahdiSigFXOGS: "fxogs"
        case DahdiSigFXOKS: "fxoks"
        case DahdiSigEM: "e&m"
        case DahdiSigEM_E1: "e&m-e1"
        case DahdiSigClear: "clear"
        case DahdiSigHDLCRaw: "hdlcraw"
        case DahdiSigHDLCFCS: "hdlcfcs"
        case DahdiSigHDLCNet: "hdlcnet"
        case DahdiSigHardHDLC: "hardhdlc"
        case DahdiSigMTP2: "mtp2"
        case DahdiSigCAS: "cas"
        case DahdiSigSF: "sf"
        case DahdiSigDACS, DahdiSigDACS_RBS: "dacs"
        case DahdiSigSlave: "slave"
        default: String(format: "0x%x", sigtype)
        }
    }

    /// DAHDI names signalling after what it talks to: FXS signalling faces an exchange (our
    /// FXO port), FXO signalling faces a telephone (our FXS port).
    public static func portKind(_ sigtype: CInt) -> PortKind? {
        let signalling = DahdiSignalling(rawValue: sigtype)
        if signalling.facesExchange { return .fxo }
        if signalling.facesTelephone { return .fxs }
        return signalling == .clear ? .clear : nil
    }

    public static func alarmNames(_ alarms: Int32) -> [String] {
        let names: [(Int32, String)] = [
            (Int32(DahdiAlarmRecover), "RECOVERING"), (Int32(DahdiAlarmLoopback), "LOOPBACK"),
            (Int32(DahdiAlarmYellow), "YELLOW"), (Int32(DahdiAlarmRed), "RED"), (Int32(DahdiAlarmBlue), "BLUE"),
            (Int32(DahdiAlarmNotOpen), "NOTOPEN"), (Int32(DahdiAlarmLOS), "LOS"), (Int32(DahdiAlarmLFA), "LFA"),
            (Int32(DahdiAlarmLMFA), "LMFA"),
        ]
        return names.filter { alarms & $0.0 != 0 }.map(\.1)
    }

    private static func string(from bytes: UnsafeRawBufferPointer) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[..<end], as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }
}
