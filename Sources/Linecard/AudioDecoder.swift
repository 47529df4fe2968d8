import CSampleRate
import CSndFile
#if canImport(Glibc)
import Glibc
#endif

/// Decodes an opened WAV file to 8 kHz mono line audio a block at a time: libsndfile reads
/// (and checks) the container and the encoding, libsamplerate converts the rate. Only the
/// 8 kHz result is kept, and it is bounded by `maxSeconds`.
struct AudioDecoder {
    let file: ReadableFile
    let maxSeconds: Double

    private func fail(_ what: String) -> WAVFile.FormatError {
        WAVFile.FormatError(message: "\(file.name) is not a usable WAV file: \(what)")
    }

    func samples() throws -> [Int16] {
        var magic = [UInt8](repeating: 0, count: 12)
        let got = (try? magic.withUnsafeMutableBytes { try file.descriptor.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
        let riff = magic.prefix(4), wave = magic[8..<12]
        guard got == 12, ["RIFF", "RF64", "BW64"].contains(where: { riff.elementsEqual($0.utf8) }),
              wave.elementsEqual("WAVE".utf8) else {
            throw fail("it does not start with RIFF/WAVE")
        }
        guard lseek(file.descriptor.rawValue, 0, SEEK_SET) == 0 else { throw fail("it cannot be read from the start") }
        var info = SF_INFO()
        guard let sound = sf_open_fd(file.descriptor.rawValue, Int32(SFM_READ), &info, 0) else {
            throw fail(String(cString: sf_strerror(nil)))
        }
        defer { sf_close(sound) }
        let channels = Int(info.channels), rate = Int(info.samplerate)
        guard (1...2).contains(channels) else { throw fail("it has \(channels) channels; mono or stereo only") }
        guard (4000...192_000).contains(rate) else { throw fail("its sample rate \(rate) Hz is not usable") }
        guard info.frames > 0 else { throw fail("it holds no audio") }
        let maxFrames = Int64(maxSeconds * Double(rate))
        guard info.frames <= maxFrames else {
            throw fail("it holds \(Int64(Double(info.frames) / Double(rate))) s of audio; at most \(Self.seconds(maxSeconds)) s is read")
        }
        let block = 4096
        var interleaved = [Float](repeating: 0, count: block * channels)
        var mono = [Float](repeating: 0, count: block)
        var out: [Int16] = []
        out.reserveCapacity(Int(Double(info.frames) * 8000 / Double(rate)) + block)
        let resampler = rate == 8000 ? nil : try Resampler(ratio: 8000 / Double(rate))
        var frames: Int64 = 0
        while true {
            let n = Int(interleaved.withUnsafeMutableBufferPointer { sf_readf_float(sound, $0.baseAddress, sf_count_t(block)) })
            if n < 0 || sf_error(sound) != 0 { throw fail(String(cString: sf_strerror(sound))) }
            // Lengths in headers can lie; the frames decoded are what count.
            frames += Int64(n)
            guard frames <= maxFrames else { throw fail("it holds more than \(Self.seconds(maxSeconds)) s of audio, the most that is read") }
            for f in 0..<n {
                var sum: Float = 0
                for c in 0..<channels { sum += interleaved[f * channels + c] }
                mono[f] = sum / Float(channels)
            }
            if let resampler {
                try resampler.process(mono.prefix(n), last: n == 0, into: &out)
            } else {
                for f in 0..<n { out.append(Self.sample(mono[f])) }
            }
            if n == 0 { break }
        }
        guard !out.isEmpty else { throw fail("it holds no audio") }
        return out
    }

    /// A decoded sample as line audio; a float file can hold anything, NaN and infinities too.
    static func sample(_ value: Float) -> Int16 {
        guard value.isFinite else { return 0 }
        return Int16((min(max(value * 32768, -32768), 32767)).rounded())
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// libsamplerate's streaming converter, mono.
private final class Resampler {
    private let state: OpaquePointer
    private let ratio: Double
    private var output = [Float](repeating: 0, count: 8192)

    init(ratio: Double) throws {
        var error: Int32 = 0
        guard let state = src_new(Int32(SRC_SINC_FASTEST), 1, &error) else {
            throw WAVFile.FormatError(message: "cannot start the rate converter: \(String(cString: src_strerror(error)))")
        }
        self.state = state
        self.ratio = ratio
    }

    deinit { src_delete(state) }

    /// Converts `input`; with `last`, also flushes what the converter holds.
    func process(_ input: ArraySlice<Float>, last: Bool, into out: inout [Int16]) throws {
        var used = 0
        while true {
            var data = SRC_DATA()
            let generated = try input.withUnsafeBufferPointer { source in
                try output.withUnsafeMutableBufferPointer { target in
                    data.data_in = source.baseAddress.map { $0 + used }
                    data.input_frames = Int(source.count - used)
                    data.data_out = target.baseAddress
                    data.output_frames = target.count
                    data.end_of_input = last ? 1 : 0
                    data.src_ratio = ratio
                    let error = src_process(state, &data)
                    guard error == 0 else {
                        throw WAVFile.FormatError(message: "the rate converter failed: \(String(cString: src_strerror(error)))")
                    }
                    return Int(data.output_frames_gen)
                }
            }
            used += Int(data.input_frames_used)
            for i in 0..<generated { out.append(AudioDecoder.sample(output[i])) }
            if used >= input.count && (!last || generated == 0) { return }
        }
    }
}
