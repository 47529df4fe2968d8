import CFuzzDriver
import Foundation
import LinecardFuzzTargets

// libFuzzer over one parser of outside bytes: LINECARD_FUZZ_TARGET names it (FuzzTargets.all),
// libFuzzer's options follow on the command line. SwiftPM gives every executable a main of its
// own (`linecard_fuzz_main`), which hands the process to libFuzzer's driver; should the
// linker pick libFuzzer's main instead, it finds the usual entry points below.

nonisolated(unsafe) private var target: (@Sendable (Data) -> Void)?

private func selectTarget() -> Bool {
    let name = ProcessInfo.processInfo.environment["LINECARD_FUZZ_TARGET"] ?? ""
    guard let found = FuzzTargets.all.first(where: { $0.name == name }) else {
        let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("linecard-fuzz: set LINECARD_FUZZ_TARGET to one of \(names)\n".utf8))
        return false
    }
    target = found.run
    return true
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if target == nil, !selectTarget() { exit(2) }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target?(bytes.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

@_cdecl("linecard_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    guard selectTarget() else { return 2 }
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { bytes, size in testOneInput(bytes, size) }
}
