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

    /// Reads `path` as 8 kHz mono 16-bit samples. Accepts PCM 8- and 16-bit, A-law and
    /// µ-law, mono or stereo (mixed down), at any rate (resampled to 8 kHz).
    public static func read(_ path: String) throws -> [Int16] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FormatError(message: "cannot read \(path): \((error as NSError).localizedDescription)")
        }
        return try decode(data, name: path)
    }

    static func decode(_ data: Data, name: String) throws -> [Int16] {
        let bytes = [UInt8](data)
        func fail(_ what: String) -> FormatError { FormatError(message: "\(name) is not a usable WAV file: \(what)") }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        guard bytes.count >= 12, bytes[0..<4] == [0x52, 0x49, 0x46, 0x46], bytes[8..<12] == [0x57, 0x41, 0x56, 0x45] else {
            throw fail("it does not start with RIFF/WAVE")
        }
        var offset = 12
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)?
        var body: Range<Int>?
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            let size = u32(offset + 4)
            let start = offset + 8
            let end = min(bytes.count, start + size)
            if id == "fmt " {
                guard size >= 16, end - start >= 16 else { throw fail("its fmt chunk is too short") }
                var tag = u16(start)
                if tag == 0xFFFE, size >= 40 { tag = u16(start + 24) }  // WAVE_FORMAT_EXTENSIBLE
                format = (tag, u16(start + 2), u32(start + 4), u16(start + 14))
            } else if id == "data" {
                body = start..<end
            }
            offset = start + size + (size & 1)
        }
        guard let format else { throw fail("it has no fmt chunk") }
        guard let body else { throw fail("it has no data chunk") }
        guard (1...2).contains(format.channels) else { throw fail("it has \(format.channels) channels; mono or stereo only") }
        guard (4000...192_000).contains(format.rate) else { throw fail("its sample rate \(format.rate) Hz is not usable") }
        var mono: [Int16] = []
        let frames: Int
        switch (format.tag, format.bits) {
        case (1, 16):
            frames = body.count / (2 * format.channels)
            mono.reserveCapacity(frames)
            for f in 0..<frames {
                var sum = 0
                for c in 0..<format.channels { sum += Int(Int16(bitPattern: UInt16(u16(body.lowerBound + (f * format.channels + c) * 2)))) }
                mono.append(Int16(sum / format.channels))
            }
        case (1, 8):
            frames = body.count / format.channels
            for f in 0..<frames {
                var sum = 0
                for c in 0..<format.channels { sum += (Int(bytes[body.lowerBound + f * format.channels + c]) - 128) << 8 }
                mono.append(Int16(sum / format.channels))
            }
        case (6, 8), (7, 8):
            let law: G711Law = format.tag == 6 ? .alaw : .ulaw
            frames = body.count / format.channels
            for f in 0..<frames {
                var sum = 0
                for c in 0..<format.channels { sum += Int(law.decode(bytes[body.lowerBound + f * format.channels + c])) }
                mono.append(Int16(sum / format.channels))
            }
        default:
            let kind = [2: "MS ADPCM", 3: "IEEE float", 0x11: "IMA ADPCM", 0x55: "MP3"][format.tag] ?? "format tag \(format.tag)"
            throw fail("\(kind) at \(format.bits) bits is not supported; use 16-bit PCM, 8-bit PCM, A-law or µ-law")
        }
        guard !mono.isEmpty else { throw fail("it holds no audio") }
        return format.rate == 8000 ? mono : resample(mono, from: format.rate)
    }

    /// Linear interpolation, after a moving-average low-pass when going down, which keeps
    /// speech intelligible; line audio needs no better.
    static func resample(_ samples: [Int16], from rate: Int) -> [Int16] {
        var source = samples.map(Double.init)
        if rate > 8000 {
            let width = max(1, Int((Double(rate) / 8000).rounded()))
            var filtered = source
            var sum = 0.0
            for i in source.indices {
                sum += source[i]
                if i >= width { sum -= source[i - width] }
                filtered[i] = sum / Double(min(i + 1, width))
            }
            source = filtered
        }
        let count = Int(Double(source.count) * 8000 / Double(rate))
        var out = [Int16](repeating: 0, count: count)
        for i in 0..<count {
            let position = Double(i) * Double(rate) / 8000
            let j = Int(position)
            let fraction = position - Double(j)
            let a = source[min(j, source.count - 1)], b = source[min(j + 1, source.count - 1)]
            out[i] = Int16(clamping: Int((a + (b - a) * fraction).rounded()))
        }
        return out
    }

    /// Writes 8 kHz mono samples to `path`.
    public static func write(_ samples: [Int16], to path: String, encoding: Encoding = .pcm16) throws {
        try encode(samples, encoding: encoding).write(to: URL(fileURLWithPath: path))
    }

    static func encode(_ samples: [Int16], encoding: Encoding) -> Data {
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
