import CEspeak
import CSampleRate
import Foundation
import Synchronization

/// Why text could not be turned into speech.
public struct SpeechError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Text to speech with the espeak-ng library, rendered for the line: 8 kHz, 16-bit.
///
/// espeak-ng keeps global state and is not reentrant, so one synthesis runs at a time in the
/// process; the gateway renders a request's speech once, before its first call.
public enum SpeechSynthesizer {
    /// Serialises every use of the library; holds its output rate once initialised.
    private static let library = Mutex<Int32?>(nil)

    /// Accumulates one synthesis's samples; reached from espeak-ng's C callback through the
    /// user-data pointer of each event.
    private final class Sink {
        var samples: [Int16] = []
    }

    /// Renders `text` in `voice` at `wordsPerMinute`, as 8 kHz samples with peaks at
    /// about -6 dBFS.
    public static func speak(_ text: String, voice: String = "en-us", wordsPerMinute: Int = 160) throws -> [Int16] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw SpeechError(message: "there is no text to speak") }
        let (rate, raw) = try library.withLock { rate -> (Int32, [Int16]) in
            if rate == nil {
                let r = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 500, nil, Int32(espeakINITIALIZE_DONT_EXIT))
                guard r > 0 else { throw SpeechError(message: "espeak-ng did not start (is espeak-ng-data installed?)") }
                espeak_SetSynthCallback { wav, count, events in
                    guard let wav, count > 0, let sinkPointer = events?.pointee.user_data else { return 0 }
                    let sink = Unmanaged<Sink>.fromOpaque(sinkPointer).takeUnretainedValue()
                    sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count)))
                    return 0
                }
                rate = r
            }
            guard espeak_SetVoiceByName(voice) == EE_OK else {
                throw SpeechError(message: "espeak-ng has no voice \"\(voice)\" (espeak-ng --voices lists them)")
            }
            espeak_SetParameter(espeakRATE, Int32(min(max(wordsPerMinute, 80), 450)), 0)
            let sink = Sink()
            let pointer = Unmanaged.passRetained(sink).toOpaque()
            defer { Unmanaged<Sink>.fromOpaque(pointer).release() }
            let bytes = Array(trimmed.utf8CString)
            let result = bytes.withUnsafeBytes { buffer in
                espeak_Synth(buffer.baseAddress, buffer.count, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, pointer)
            }
            guard result == EE_OK else { throw SpeechError(message: "espeak-ng could not speak the text (error \(result.rawValue))") }
            espeak_Synchronize()
            return (rate!, sink.samples)
        }
        guard !raw.isEmpty else { throw SpeechError(message: "espeak-ng produced no audio for the text") }
        return normalise(try resample(raw, from: Int(rate)))
    }

    /// Band-limited conversion to 8 kHz with libsamplerate.
    static func resample(_ samples: [Int16], from rate: Int) throws -> [Int16] {
        guard rate != 8000 else { return samples }
        var input = [Float](repeating: 0, count: samples.count)
        src_short_to_float_array(samples, &input, Int32(samples.count))
        let ratio = 8000 / Double(rate)
        var output = [Float](repeating: 0, count: Int(Double(samples.count) * ratio) + 64)
        var produced = 0
        let error = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                var data = SRC_DATA(data_in: inBuffer.baseAddress, data_out: outBuffer.baseAddress,
                                    input_frames: inBuffer.count, output_frames: outBuffer.count,
                                    input_frames_used: 0, output_frames_gen: 0, end_of_input: 1, src_ratio: ratio)
                let error = src_simple(&data, Int32(SRC_SINC_MEDIUM_QUALITY), 1)
                produced = data.output_frames_gen
                return error
            }
        }
        guard error == 0 else { throw SpeechError(message: "resampling failed: \(String(cString: src_strerror(error)))") }
        var result = [Int16](repeating: 0, count: produced)
        src_float_to_short_array(output, &result, Int32(produced))
        return result
    }

    /// Scales to peaks at half of full scale: loud enough on a line, clear of clipping.
    static func normalise(_ samples: [Int16]) -> [Int16] {
        let peak = samples.reduce(1) { max($0, abs(Int($1))) }
        let gain = 16_384 / Double(peak)
        return samples.map { Int16(clamping: Int((Double($0) * gain).rounded())) }
    }
}
