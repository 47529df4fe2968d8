import Foundation

/// Speech-like audio made without a speech engine: voiced syllables with a moving pitch and
/// two moving formants. It exercises what real speech does to a line (energy in the voice
/// band, no steady tones) without shipping recordings.
enum SyntheticVoice {
    /// Renders `syllables` syllables of about 220 ms with 90 ms gaps, at roughly `level` dBm0.
    static func render(syllables: Int, level: Double = -18, seed: UInt64 = 7) -> [Int16] {
        var rng = seed
        func random() -> Double {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Double(rng >> 11) / Double(1 << 53)
        }
        var samples: [Int16] = []
        samples.reserveCapacity(syllables * 2500)
        let amplitude = 32767.0 / 2.0.squareRoot() * pow(10, (level - 3.14) / 20) * 2.0.squareRoot()
        var phase = 0.0
        for _ in 0..<syllables {
            let length = 1400 + Int(random() * 800)
            let f0Start = 110 + random() * 90
            let f0End = f0Start * (0.8 + random() * 0.4)
            let formant1 = 300 + random() * 500
            let formant2 = 900 + random() * 1400
            for i in 0..<length {
                let t = Double(i) / Double(length)
                let f0 = f0Start + (f0End - f0Start) * t
                phase += 2 * Double.pi * f0 / 8000
                var v = 0.0
                var k = 1.0
                while k * f0 < 3400 {
                    let f = k * f0
                    let w1 = exp(-pow((f - formant1) / 150, 2))
                    let w2 = 0.6 * exp(-pow((f - formant2) / 250, 2))
                    v += (w1 + w2 + 0.03) * sin(k * phase) / k.squareRoot()
                    k += 1
                }
                let envelope = sin(Double.pi * t)
                samples.append(Int16(clamping: Int(v * envelope * amplitude * 0.9)))
            }
            samples.append(contentsOf: repeatElement(0, count: 500 + Int(random() * 400)))
        }
        // Scale so that the voiced parts sit at `level`.
        let voiced = samples.filter { $0 != 0 }
        let rms = (voiced.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, voiced.count))).squareRoot()
        let target = 32767.0 / 2.0.squareRoot() * pow(10, (level - 3.14) / 20)
        let scale = rms > 0 ? target / rms : 1
        return samples.map { Int16(clamping: Int((Double($0) * scale).rounded())) }
    }

    /// "Hello?": what a person says on answering (about 0.8 s).
    static let hello = render(syllables: 2, seed: 11)
    /// An answering machine's greeting of about `milliseconds`.
    static func greeting(milliseconds: Int) -> [Int16] {
        let voice = render(syllables: max(1, milliseconds / 300), seed: 23)
        return Array(voice.prefix(milliseconds * 8)) + Array(repeating: 0, count: max(0, milliseconds * 8 - voice.count))
    }
}
