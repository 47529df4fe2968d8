import Foundation
import LinecardFuzzTargets

// libFuzzer calls these two; LINECARD_FUZZ_TARGET names the parser (FuzzTargets.all).

nonisolated(unsafe) private var target: (@Sendable (Data) -> Void)?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let name = ProcessInfo.processInfo.environment["LINECARD_FUZZ_TARGET"] ?? ""
    guard let found = FuzzTargets.all.first(where: { $0.name == name }) else {
        let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("linecard-fuzz: set LINECARD_FUZZ_TARGET to one of \(names)\n".utf8))
        exit(2)
    }
    target = found.run
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    target?(Data(bytes: bytes, count: count))
    return 0
}
