import Foundation
import LinecardDSP

/// WAV files for the line: read into 8 kHz 16-bit mono samples, written as 16-bit PCM or
/// G.711.
public enum WAVFile {
    public enum Encoding: String, Sendable, CaseIterable {
        case pcm16
        case alaw
        case ulaw
    }

    /// What was wrong with a file; the message names the file and the problem.
    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public let message: String
        public var description: String { message }
    }

    /// The longest audio `read` takes unless told otherwise: an hour, 57.6 MB of line audio.
    public static let defaultMaxDuration: Duration = .seconds(3600)

    /// Reads `path` as 8 kHz mono 16-bit samples. Accepts every WAV encoding libsndfile
    /// decodes (PCM 8 to 32 bits, float, A-law, µ-law, IMA and MS ADPCM, GSM 6.10, …), mono or
    /// stereo (mixed down), at any rate from 4 to 192 kHz (resampled to 8 kHz by
    /// libsamplerate). The file is decoded a block at a time and never loaded whole; a file
    /// longer than `maxDuration` is refused before its samples are read.
    public static func read(_ path: String, maxDuration: Duration = defaultMaxDuration) throws -> [Int16] {
        let file: ReadableFile
        do { file = try ReadableFile(path: path) } catch {
            throw FormatError(message: "cannot read \(path): \(error.reason.explanation)")
        }
        return try read(file, maxDuration: maxDuration)
    }

    /// Reads an opened file (see `read(_:maxDuration:)`).
    public static func read(_ file: ReadableFile, maxDuration: Duration = defaultMaxDuration) throws -> [Int16] {
        try AudioDecoder(file: file, maxSeconds: Double(maxDuration.components.seconds)
                            + Double(maxDuration.components.attoseconds) / 1e18).samples()
    }

    /// Writes 8 kHz mono samples to `path`.
    public static func write(_ samples: [Int16], to path: String, encoding: Encoding = .pcm16) throws {
        try encode(samples, encoding: encoding).write(to: URL(fileURLWithPath: path))
    }

    /// The bytes of an 8 kHz mono WAV file holding `samples`.
    public static func encode(_ samples: [Int16], encoding: Encoding = .pcm16) -> Data {
        var body = [UInt8]()
        switch encoding {
        case .pcm16:
            body.reserveCapacity(samples.count * 2)
            for s in samples {
                let v = UInt16(bitPattern: s)
                body.append(UInt8(v & 0xFF))
                body.append(UInt8(v >> 8))
            }
        case .alaw: body = samples.map { G711Law.alaw.encode($0) }
        case .ulaw: body = samples.map { G711Law.ulaw.encode($0) }
        }
        let bits = encoding == .pcm16 ? 16 : 8
        let tag = [Encoding.pcm16: 1, .alaw: 6, .ulaw: 7][encoding]!
        var header = [UInt8]()
        func put16(_ v: Int) { header += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func put32(_ v: Int) { put16(v & 0xFFFF); put16(v >> 16) }
        header += Array("RIFF".utf8); put32(36 + body.count); header += Array("WAVE".utf8)
        header += Array("fmt ".utf8); put32(16); put16(tag); put16(1); put32(8000); put32(8000 * bits / 8); put16(bits / 8); put16(bits)
        header += Array("data".utf8); put32(body.count)
        return Data(header + body)
    }
}
