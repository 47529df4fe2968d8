import CDahdi
import Foundation
import XCTest

/// Checks the ABI in CDahdi against the x86_64 figures in
/// shared/reference/dahdi-spandsp-notes.md (section 1), and, when the kernel's own
/// include/dahdi/user.h is installed, against that header compiled with the C compiler.
final class DahdiABITests: XCTestCase {
    /// (our constant, the notes' x86_64 value, the header's macro)
    static let requests: [(UInt, UInt, String)] = [
        (DahdiGetBlockSize, 0x8004_DA01, "DAHDI_GET_BLOCKSIZE"),
        (DahdiSetBlockSize, 0x4004_DA01, "DAHDI_SET_BLOCKSIZE"),
        (DahdiFlush, 0x4004_DA03, "DAHDI_FLUSH"),
        (DahdiGetParams, 0xC088_DA05, "DAHDI_GET_PARAMS"),
        (DahdiSetParams, 0x4088_DA05, "DAHDI_SET_PARAMS"),
        (DahdiHook, 0x4004_DA07, "DAHDI_HOOK"),
        (DahdiGetEvent, 0x8004_DA08, "DAHDI_GETEVENT"),
        (DahdiIOMux, 0xC004_DA09, "DAHDI_IOMUX"),
        (DahdiSpanStat, 0xC13A_DA0A, "DAHDI_SPANSTAT"),
        (DahdiGetGains, 0xC204_DA10, "DAHDI_GETGAINS"),
        (DahdiSetGains, 0x4204_DA10, "DAHDI_SETGAINS"),
        (DahdiSendTone, 0x4004_DA15, "DAHDI_SENDTONE"),
        (DahdiGetToneZone, 0x8004_DA16, "DAHDI_GETTONEZONE"),
        (DahdiGetBufInfo, 0x8018_DA1B, "DAHDI_GET_BUFINFO"),
        (DahdiSetBufInfo, 0x4018_DA1B, "DAHDI_SET_BUFINFO"),
        (DahdiDial, 0x4104_DA1F, "DAHDI_DIAL"),
        (DahdiAudioMode, 0x4004_DA20, "DAHDI_AUDIOMODE"),
        (DahdiEchoCancel, 0x4004_DA21, "DAHDI_ECHOCANCEL"),
        (DahdiEchoCancelParams, 0x4008_DA21, "DAHDI_ECHOCANCEL_PARAMS"),
        (DahdiSpecify, 0x4004_DA26, "DAHDI_SPECIFY"),
        (DahdiSetLaw, 0x4004_DA27, "DAHDI_SETLAW"),
        (DahdiSetLinear, 0x4004_DA28, "DAHDI_SETLINEAR"),
        (DahdiTimerConfig, 0x4004_DA2F, "DAHDI_TIMERCONFIG"),
        (DahdiTimerAck, 0x4004_DA30, "DAHDI_TIMERACK"),
        (DahdiDynamicCreate, 0xC048_DA50, "DAHDI_DYNAMIC_CREATE"),
        (DahdiDynamicDestroy, 0x4048_DA51, "DAHDI_DYNAMIC_DESTROY"),
        (DahdiToneDetect, 0x4004_DA5B, "DAHDI_TONEDETECT"),
        (DahdiSetPolarity, 0x4004_DA5C, "DAHDI_SETPOLARITY"),
        (DahdiEchoCancelFaxMode, 0x4004_DA66, "DAHDI_ECHOCANCEL_FAX_MODE"),
        (DahdiBufferEvents, 0x4004_DA69, "DAHDI_BUFFER_EVENTS"),
    ]

    /// (struct, our size, the notes' size, the header's struct)
    static var sizes: [(String, Int, Int, String)] {
        [
            ("DahdiParams", MemoryLayout<DahdiParams>.size, 136, "struct dahdi_params"),
            ("DahdiSpanInfo", MemoryLayout<DahdiSpanInfo>.size, 314, "struct dahdi_spaninfo"),
            ("DahdiBufferInfo", MemoryLayout<DahdiBufferInfo>.size, 24, "struct dahdi_bufferinfo"),
            ("DahdiGains", MemoryLayout<DahdiGains>.size, 516, "struct dahdi_gains"),
            ("DahdiDialOperation", MemoryLayout<DahdiDialOperation>.size, 260, "struct dahdi_dialoperation"),
            ("DahdiDialParams", MemoryLayout<DahdiDialParams>.size, 24, "struct dahdi_dialparams"),
            ("DahdiEchoCanParams", MemoryLayout<DahdiEchoCanParams>.size, 8, "struct dahdi_echocanparams"),
            ("DahdiEchoCanParam", MemoryLayout<DahdiEchoCanParam>.size, 20, "struct dahdi_echocanparam"),
            ("DahdiDynamicSpan", MemoryLayout<DahdiDynamicSpan>.size, 72, "struct dahdi_dynamic_span"),
            ("DahdiChanConfig", MemoryLayout<DahdiChanConfig>.size, 76, "struct dahdi_chanconfig"),
            ("DahdiRingCadence", MemoryLayout<DahdiRingCadence>.size, 64, "struct dahdi_ring_cadence"),
            ("DahdiConfInfo", MemoryLayout<DahdiConfInfo>.size, 12, "struct dahdi_confinfo"),
            ("DahdiLineConfig", MemoryLayout<DahdiLineConfig>.size, 36, "struct dahdi_lineconfig"),
        ]
    }

    /// (field, our offset, the notes' offset, the header's struct and field)
    static var offsets: [(String, Int?, Int, String)] {
        [
            ("DahdiParams.channo", MemoryLayout<DahdiParams>.offset(of: \.channo), 0, "dahdi_params, channo"),
            ("DahdiParams.idlebits", MemoryLayout<DahdiParams>.offset(of: \.idlebits), 44, "dahdi_params, idlebits"),
            ("DahdiParams.name", MemoryLayout<DahdiParams>.offset(of: \.name), 48, "dahdi_params, name"),
            ("DahdiParams.prewinktime", MemoryLayout<DahdiParams>.offset(of: \.prewinktime), 88, "dahdi_params, prewinktime"),
            ("DahdiParams.pulseaftertime", MemoryLayout<DahdiParams>.offset(of: \.pulseaftertime), 128, "dahdi_params, pulseaftertime"),
            ("DahdiParams.chan_alarms", MemoryLayout<DahdiParams>.offset(of: \.chan_alarms), 132, "dahdi_params, chan_alarms"),
            ("DahdiSpanInfo.name", MemoryLayout<DahdiSpanInfo>.offset(of: \.name), 4, "dahdi_spaninfo, name"),
            ("DahdiSpanInfo.desc", MemoryLayout<DahdiSpanInfo>.offset(of: \.desc), 24, "dahdi_spaninfo, desc"),
            ("DahdiSpanInfo.alarms", MemoryLayout<DahdiSpanInfo>.offset(of: \.alarms), 64, "dahdi_spaninfo, alarms"),
            ("DahdiSpanInfo.fecount", MemoryLayout<DahdiSpanInfo>.offset(of: \.fecount), 92, "dahdi_spaninfo, fecount"),
            ("DahdiSpanInfo.irqmisses", MemoryLayout<DahdiSpanInfo>.offset(of: \.irqmisses), 112, "dahdi_spaninfo, irqmisses"),
            ("DahdiSpanInfo.numchans", MemoryLayout<DahdiSpanInfo>.offset(of: \.numchans), 120, "dahdi_spaninfo, numchans"),
            ("DahdiSpanInfo.lboname", MemoryLayout<DahdiSpanInfo>.offset(of: \.lboname), 140, "dahdi_spaninfo, lboname"),
            ("DahdiSpanInfo.irq", MemoryLayout<DahdiSpanInfo>.offset(of: \.irq), 300, "dahdi_spaninfo, irq"),
            ("DahdiSpanInfo.spantype", MemoryLayout<DahdiSpanInfo>.offset(of: \.spantype), 308, "dahdi_spaninfo, spantype"),
            ("DahdiGains.rxgain", MemoryLayout<DahdiGains>.offset(of: \.rxgain), 4, "dahdi_gains, rxgain"),
            ("DahdiGains.txgain", MemoryLayout<DahdiGains>.offset(of: \.txgain), 260, "dahdi_gains, txgain"),
            ("DahdiBufferInfo.bufsize", MemoryLayout<DahdiBufferInfo>.offset(of: \.bufsize), 12, "dahdi_bufferinfo, bufsize"),
            ("DahdiDialOperation.dialstr", MemoryLayout<DahdiDialOperation>.offset(of: \.dialstr), 4, "dahdi_dialoperation, dialstr"),
            ("DahdiDynamicSpan.addr", MemoryLayout<DahdiDynamicSpan>.offset(of: \.addr), 20, "dahdi_dynamic_span, addr"),
            ("DahdiDynamicSpan.numchans", MemoryLayout<DahdiDynamicSpan>.offset(of: \.numchans), 60, "dahdi_dynamic_span, numchans"),
            ("DahdiDynamicSpan.spanno", MemoryLayout<DahdiDynamicSpan>.offset(of: \.spanno), 68, "dahdi_dynamic_span, spanno"),
            ("DahdiChanConfig.sigtype", MemoryLayout<DahdiChanConfig>.offset(of: \.sigtype), 44, "dahdi_chanconfig, sigtype"),
            ("DahdiChanConfig.netdev_name", MemoryLayout<DahdiChanConfig>.offset(of: \.netdev_name), 60, "dahdi_chanconfig, netdev_name"),
            ("DahdiEchoCanParam.value", MemoryLayout<DahdiEchoCanParam>.offset(of: \.value), 16, "dahdi_echocanparam, value"),
        ]
    }

    /// (our constant, the notes' value, the header's macro)
    static let constants: [(Int64, Int64, String)] = [
        (Int64(DahdiHookOnHook), 0, "DAHDI_ONHOOK"), (Int64(DahdiHookOffHook), 1, "DAHDI_OFFHOOK"),
        (Int64(DahdiHookWink), 2, "DAHDI_WINK"), (Int64(DahdiHookFlash), 3, "DAHDI_FLASH"),
        (Int64(DahdiHookStart), 4, "DAHDI_START"), (Int64(DahdiHookRing), 5, "DAHDI_RING"),
        (Int64(DahdiHookRingOff), 6, "DAHDI_RINGOFF"),
        (Int64(DahdiEventOnHook), 1, "DAHDI_EVENT_ONHOOK"), (Int64(DahdiEventRingOffHook), 2, "DAHDI_EVENT_RINGOFFHOOK"),
        (Int64(DahdiEventWinkFlash), 3, "DAHDI_EVENT_WINKFLASH"), (Int64(DahdiEventAlarm), 4, "DAHDI_EVENT_ALARM"),
        (Int64(DahdiEventNoAlarm), 5, "DAHDI_EVENT_NOALARM"), (Int64(DahdiEventDialComplete), 9, "DAHDI_EVENT_DIALCOMPLETE"),
        (Int64(DahdiEventRingerOn), 10, "DAHDI_EVENT_RINGERON"), (Int64(DahdiEventRingerOff), 11, "DAHDI_EVENT_RINGEROFF"),
        (Int64(DahdiEventPolarity), 17, "DAHDI_EVENT_POLARITY"), (Int64(DahdiEventRingBegin), 18, "DAHDI_EVENT_RINGBEGIN"),
        (Int64(DahdiEventRemoved), 20, "DAHDI_EVENT_REMOVED"), (Int64(DahdiEventReadOverrun), 29, "DAHDI_EVENT_READ_OVERRUN"),
        (Int64(DahdiEventWriteUnderrun), 30, "DAHDI_EVENT_WRITE_UNDERRUN"),
        (Int64(DahdiEventPulseDigit), 1 << 16, "DAHDI_EVENT_PULSEDIGIT"), (Int64(DahdiEventDTMFDown), 1 << 17, "DAHDI_EVENT_DTMFDOWN"),
        (Int64(DahdiEventDTMFUp), 1 << 18, "DAHDI_EVENT_DTMFUP"),
        (Int64(DahdiSigFXSLS), 0x2001, "DAHDI_SIG_FXSLS"), (Int64(DahdiSigFXSGS), 0x2002, "DAHDI_SIG_FXSGS"),
        (Int64(DahdiSigFXSKS), 0x2004, "DAHDI_SIG_FXSKS"), (Int64(DahdiSigFXOLS), 0x1008, "DAHDI_SIG_FXOLS"),
        (Int64(DahdiSigFXOGS), 0x1010, "DAHDI_SIG_FXOGS"), (Int64(DahdiSigFXOKS), 0x1020, "DAHDI_SIG_FXOKS"),
        (Int64(DahdiSigEM), 0x40, "DAHDI_SIG_EM"), (Int64(DahdiSigClear), 0x80, "DAHDI_SIG_CLEAR"),
        (Int64(DahdiSigHDLCRaw), 0x180, "DAHDI_SIG_HDLCRAW"), (Int64(DahdiSigHDLCFCS), 0x380, "DAHDI_SIG_HDLCFCS"),
        (Int64(DahdiSigHDLCNet), 0x780, "DAHDI_SIG_HDLCNET"), (Int64(DahdiSigCAS), 0x8000, "DAHDI_SIG_CAS"),
        (Int64(DahdiSigDACS), 0x10080, "DAHDI_SIG_DACS"), (Int64(DahdiSigDACS_RBS), 0x50000, "DAHDI_SIG_DACS_RBS"),
        (Int64(DahdiSigHardHDLC), 0x80080, "DAHDI_SIG_HARDHDLC"), (Int64(DahdiSigMTP2), 0x100380, "DAHDI_SIG_MTP2"),
        (Int64(DahdiAlarmRed), 8, "DAHDI_ALARM_RED"), (Int64(DahdiAlarmBlue), 16, "DAHDI_ALARM_BLUE"),
        (Int64(DahdiAlarmYellow), 4, "DAHDI_ALARM_YELLOW"), (Int64(DahdiAlarmNotOpen), 32, "DAHDI_ALARM_NOTOPEN"),
        (Int64(DahdiAlarmLOS), 256, "DAHDI_ALARM_LOS"),
        (Int64(DahdiLawMulaw), 1, "DAHDI_LAW_MULAW"), (Int64(DahdiLawAlaw), 2, "DAHDI_LAW_ALAW"),
        (Int64(DahdiPolicyImmediate), 0, "DAHDI_POLICY_IMMEDIATE"), (Int64(DahdiPolicyWhenFull), 1, "DAHDI_POLICY_WHEN_FULL"),
        (Int64(DahdiFlushAll), 7, "DAHDI_FLUSH_ALL"), (Int64(DahdiIOMuxSigEvent), 8, "DAHDI_IOMUX_SIGEVENT"),
        (Int64(DahdiErrnoEventPending), 500, "ELAST"),
    ]

    func testRequestNumbersMatchTheDocumentedX86Values() {
        for (ours, documented, name) in Self.requests {
            XCTAssertEqual(ours, documented, "\(name): ours 0x\(String(ours, radix: 16)), documented 0x\(String(documented, radix: 16))")
        }
    }

    func testStructSizesAndOffsetsMatchTheDocumentedX86Layout() {
        for (name, ours, documented, _) in Self.sizes { XCTAssertEqual(ours, documented, "sizeof \(name)") }
        for (name, ours, documented, _) in Self.offsets { XCTAssertEqual(ours, documented, "offset of \(name)") }
    }

    func testConstantsMatchTheDocumentedValues() {
        for (ours, documented, name) in Self.constants { XCTAssertEqual(ours, documented, name) }
    }

    /// Compiles a C program against the installed kernel header and compares every figure.
    func testEverythingMatchesTheInstalledKernelHeader() throws {
        guard let header = Self.installedHeader() else {
            throw XCTSkip("no include/dahdi/user.h installed (apt-get install dahdi-source, or set DAHDI_USER_H); compared with the documented figures only")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dahdi-abi-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // user.h includes <dahdi/dahdi_config.h>-free definitions but needs linux/types.h.
        var program = "#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include <sys/ioctl.h>\n#include \"\(header)\"\nint main(void) {\n"
        for (_, _, macro) in Self.requests { program += "printf(\"%s %lu\\n\", \"\(macro)\", (unsigned long)(\(macro)));\n" }
        for (_, _, _, type) in Self.sizes { program += "printf(\"%s %zu\\n\", \"sizeof \(type)\", sizeof(\(type)));\n" }
        for (_, _, _, field) in Self.offsets { program += "printf(\"%s %zu\\n\", \"offsetof \(field)\", offsetof(struct \(field)));\n" }
        for (_, _, macro) in Self.constants { program += "printf(\"%s %ld\\n\", \"\(macro)\", (long)(\(macro)));\n" }
        program += "return 0;\n}\n"
        let source = directory.appendingPathComponent("abi.c")
        try program.write(to: source, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent("abi").path
        try Self.run("/usr/bin/env", ["cc", "-o", binary, source.path])
        let output = try Self.run(binary, [])
        var values: [String: Int64] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            values[parts.dropLast().joined(separator: " ")] = Int64(parts.last!)
        }
        for (ours, _, macro) in Self.requests { XCTAssertEqual(values[macro], Int64(ours), "\(macro) in \(header)") }
        for (name, ours, _, type) in Self.sizes { XCTAssertEqual(values["sizeof \(type)"], Int64(ours), "sizeof \(name) vs \(type)") }
        for (name, ours, _, field) in Self.offsets { XCTAssertEqual(values["offsetof \(field)"], ours.map(Int64.init), "offset of \(name)") }
        for (ours, _, macro) in Self.constants { XCTAssertEqual(values[macro], ours, macro) }
    }

    static func installedHeader() -> String? {
        if let path = ProcessInfo.processInfo.environment["DAHDI_USER_H"], FileManager.default.fileExists(atPath: path) { return path }
        var candidates = ["/usr/src/modules/dahdi/include/dahdi/user.h", "/usr/include/dahdi/user.h"]
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/usr/src") {
            candidates += entries.filter { $0.hasPrefix("dahdi-") }.map { "/usr/src/\($0)/include/dahdi/user.h" }
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "DahdiABITests", code: Int(process.terminationStatus), userInfo: [NSLocalizedDescriptionKey: text])
        }
        return text
    }
}
