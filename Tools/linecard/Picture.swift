import CPNG
import CSpanDSP
import Foundation
import LinecardDSP

/// A spectrogram over a level-over-time strip, drawn into RGB pixels and written as PNG
/// with libpng's simplified API.
struct Picture {
    let width: Int
    let height: Int
    private(set) var pixels: [UInt8]

    static let spectrumHeight = 256   // 0 to 4 kHz, 15.6 Hz a row
    static let levelHeight = 96       // -60 to 0 dBm0
    static let margin = 4

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 16, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = rgb.0; pixels[i + 1] = rgb.1; pixels[i + 2] = rgb.2
    }

    /// Black → blue → red → yellow → white over -90 … 0 dB.
    static func heat(_ db: Double) -> (UInt8, UInt8, UInt8) {
        let t = max(0, min(1, (db + 90) / 90))
        func c(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v * 255))) }
        switch t {
        case ..<0.25: return (0, 0, c(t * 4 * 0.8))
        case ..<0.5: return (c((t - 0.25) * 4), 0, c(0.8 - (t - 0.25) * 4 * 0.8))
        case ..<0.75: return (255, c((t - 0.5) * 4), 0)
        default: return (255, 255, c((t - 0.75) * 4))
        }
    }

    /// Draws `samples` (8 kHz): the spectrogram on top, the level in dBm0 below.
    static func draw(_ samples: [Int16], maximumWidth: Int = 1600) -> Picture {
        let frame = 256
        let hop = max(32, (samples.count + maximumWidth - 1) / maximumWidth)
        let columns = max(1, (samples.count - frame) / hop + 1)
        var picture = Picture(width: columns, height: spectrumHeight + margin + levelHeight)
        let bins = spectrumHeight / 2   // 128 bins of 31.25 Hz, two rows each
        // spandsp's Goertzel filters, one per bin, over Hann-windowed frames.
        var descriptors = [goertzel_descriptor_t](repeating: goertzel_descriptor_t(), count: bins)
        var filters = [goertzel_state_t](repeating: goertzel_state_t(), count: bins)
        for k in 0..<bins {
            make_goertzel_descriptor(&descriptors[k], Float(Double(k) * 8000 / Double(frame)), Int32(frame))
        }
        let window = (0..<frame).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(frame - 1)) }
        var windowed = [Int16](repeating: 0, count: frame)
        // A full-scale sine through the window and filter, for 0 dB.
        let reference = pow(32767.0 * Double(frame) / 4, 2) * 2
        for column in 0..<columns {
            let start = column * hop
            var energy = 0.0
            for i in 0..<frame {
                let v = start + i < samples.count ? Double(samples[start + i]) : 0
                windowed[i] = Int16(clamping: Int((v * window[i]).rounded()))
                if i < hop { energy += v * v }
            }
            for k in 0..<bins {
                descriptors.withUnsafeMutableBufferPointer { d in
                    filters.withUnsafeMutableBufferPointer { f in
                        goertzel_init(f.baseAddress! + k, d.baseAddress! + k)
                        _ = goertzel_update(f.baseAddress! + k, windowed, Int32(frame))
                        let power = Double(goertzel_result(f.baseAddress! + k))
                        let db = 10 * log10(max(power, 1e-9) / reference)
                        let colour = heat(db)
                        picture.set(column, spectrumHeight - 1 - 2 * k, colour)
                        picture.set(column, spectrumHeight - 2 - 2 * k, colour)
                    }
                }
            }
            let level = PowerMeter.rmsToDBm0((energy / Double(min(hop, frame))).squareRoot())
            let bar = Int((max(-60, min(0, level)) + 60) / 60 * Double(levelHeight))
            for y in 0..<levelHeight {
                let fromBottom = levelHeight - 1 - y
                let onGrid = fromBottom % (levelHeight / 6) == 0
                picture.set(column, spectrumHeight + margin + y,
                            fromBottom < bar ? (60, 200, 90) : onGrid ? (50, 50, 50) : (16, 16, 16))
            }
        }
        return picture
    }

    /// Writes the picture as a PNG file.
    func write(to path: String) throws {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_RGB)
        let ok = pixels.withUnsafeBytes { raw in
            png_image_write_to_file(&image, path, 0, raw.baseAddress, Int32(width * 3), nil)
        }
        if ok == 0 {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            png_image_free(&image)
            throw PictureError(message: "cannot write \(path): \(message.isEmpty ? "libpng failed" : message)")
        }
    }
}

struct PictureError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
