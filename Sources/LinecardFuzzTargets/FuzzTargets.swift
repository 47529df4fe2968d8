import Dispatch
import Foundation
import Linecard
import LinecardGateway
import Synchronization

/// Every parser of outside bytes as one function of the bytes: libFuzzer drives them in
/// `Fuzz/` (instrumented), and `FuzzRegressionTests` runs the seed corpus and every input that
/// once broke a parser through them in the ordinary test suite. Each must return for any input:
/// a crash, a trap or an allocation libFuzzer refuses is a finding.
public enum FuzzTargets {
    public static let all: [(name: String, run: @Sendable (Data) -> Void)] = [
        ("wav", wav), ("tiff", tiff), ("call-list", callList), ("form", form), ("json", json),
    ]

    /// A WAV file, read as the channel API and the gateway read it.
    public static func wav(_ data: Data) {
        guard let path = scratch("wav", data) else { return }
        _ = try? WAVFile.read(path, maxDuration: .seconds(30))
    }

    /// A TIFF, checked and decoded as a fax document.
    public static func tiff(_ data: Data) {
        guard let path = scratch("tif", data) else { return }
        _ = try? FaxDocument.read(path)
    }

    /// A call-till-confirm call list.
    public static func callList(_ data: Data) {
        guard let path = scratch("voc", data), let file = try? ReadableFile(path: path) else { return }
        _ = try? CallList.read(file)
    }

    /// A form body or query string of the simple call interface, decoded and turned into a
    /// request (its files looked for in a folder of the fuzzer's own).
    public static func form(_ data: Data) {
        guard let fields = try? SimpleCallInterface.decodeForm(data) else { return }
        var form: [String: String] = [:]
        for (name, value) in fields where form[name] == nil { form[name] = value }
        let interface = self.interface
        let done = DispatchSemaphore(value: 0)
        Task {
            _ = try? await interface.request(from: form)
            done.signal()
        }
        done.wait()
    }

    /// A gateway configuration file and an SMS webhook notification.
    public static func json(_ data: Data) {
        _ = try? GatewayConfiguration.parse(data)
        _ = try? SMSWebhookConfiguration.parse(data)
    }

    private static let folder: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let folder = "\(base)/linecard-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }()

    private static let interface: SimpleCallInterface = {
        var configuration = GatewayConfiguration()
        configuration.dataDirectory = folder + "/data"
        let files = try! AllowedFiles(dataDirectory: configuration.dataDirectory, extra: nil)
        return SimpleCallInterface(configuration: configuration, files: files)
    }()

    /// `data` in a file of its own kind, rewritten for each input.
    private static func scratch(_ kind: String, _ data: Data) -> String? {
        let path = "\(folder)/input.\(kind)"
        return FileManager.default.createFile(atPath: path, contents: data) ? path : nil
    }
}
