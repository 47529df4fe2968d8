import CTiff
import Synchronization
import Foundation

/// Fax pages as TIFF-F files: checked, counted, read back to pixels, and written (one bit per
/// pixel, 1728 pixels wide, T.4 2D), through libtiff.
public enum FaxDocument {
    /// One page: `width` × `height` pixels, `true` = black, at `xResolution` × `yResolution`
    /// pixels per inch.
    public struct Page: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var xResolution: Int
        public var yResolution: Int
        public var black: [Bool]

        public init(width: Int = 1728, height: Int, xResolution: Int = 204, yResolution: Int = 196, black: [Bool]) {
            self.width = width
            self.height = height
            self.xResolution = xResolution
            self.yResolution = yResolution
            self.black = black
        }
    }

    /// The page widths T.4 allows at 204 pixels per inch (A4, B4, A3).
    static let widths: Set<Int> = [1728, 2048, 2432]

    /// The most rows a page may have: 16,384, over 2 m of paper at fine resolution (196 rows an
    /// inch). A longer page is refused before any of it is decoded.
    public static let maxRowsPerPage = 16_384
    /// The most pages one file may have.
    public static let maxPages = 1_000

    /// The number of pages of a TIFF fit to fax; throws saying what is wrong with it.
    public static func pageCount(of path: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { throw CallError.error("no file \(path)") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw CallError.error("cannot read \(path): permission denied") }
        lc_tiff_quiet()
        guard let tiff = TIFFOpen(path, "r") else { throw CallError.error("\(path) is not a TIFF file") }
        defer { TIFFClose(tiff) }
        var pages = 0
        repeat {
            pages += 1
            let width = Int(lc_tiff_get_u32(tiff, UInt32(TIFFTAG_IMAGEWIDTH), 0))
            let height = Int(lc_tiff_get_u32(tiff, UInt32(TIFFTAG_IMAGELENGTH), 0))
            let bits = lc_tiff_get_u16(tiff, UInt32(TIFFTAG_BITSPERSAMPLE), 1)
            let samples = lc_tiff_get_u16(tiff, UInt32(TIFFTAG_SAMPLESPERPIXEL), 1)
            guard bits == 1, samples == 1 else {
                throw CallError.error("\(path) page \(pages) is not black and white (\(bits) bits × \(samples) samples a pixel): fax pages are one bit a pixel")
            }
            guard widths.contains(width) else {
                throw CallError.error("\(path) page \(pages) is \(width) pixels wide: a fax page is 1728 (A4), 2048 (B4) or 2432 (A3)")
            }
            guard height > 0 else { throw CallError.error("\(path) page \(pages) has no rows") }
            guard height <= maxRowsPerPage else {
                throw CallError.error("\(path) page \(pages) has \(height) rows: a fax page has at most \(maxRowsPerPage)")
            }
            guard pages < maxPages || TIFFReadDirectory(tiff) == 0 else {
                throw CallError.error("\(path) has more than \(maxPages) pages, the most a fax document may have")
            }
        } while TIFFReadDirectory(tiff) != 0
        return pages
    }

    /// Every page of a TIFF as pixels.
    public static func read(_ path: String) throws -> [Page] {
        _ = try pageCount(of: path)
        guard let tiff = TIFFOpen(path, "r") else { throw CallError.error("\(path) is not a TIFF file") }
        defer { TIFFClose(tiff) }
        var pages: [Page] = []
        repeat {
            let width = Int(lc_tiff_get_u32(tiff, UInt32(TIFFTAG_IMAGEWIDTH), 0))
            let height = Int(lc_tiff_get_u32(tiff, UInt32(TIFFTAG_IMAGELENGTH), 0))
            let photometric = lc_tiff_get_u16(tiff, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_MINISWHITE))
            let xRes = Int(lc_tiff_get_float(tiff, UInt32(TIFFTAG_XRESOLUTION), 204).rounded())
            let yRes = Int(lc_tiff_get_float(tiff, UInt32(TIFFTAG_YRESOLUTION), 196).rounded())
            let lineBytes = Int(TIFFScanlineSize(tiff))
            var line = [UInt8](repeating: 0, count: max(lineBytes, (width + 7) / 8))
            var black = [Bool](repeating: false, count: width * height)
            for row in 0..<height {
                guard line.withUnsafeMutableBytes({ TIFFReadScanline(tiff, $0.baseAddress, UInt32(row), 0) }) >= 0 else {
                    throw CallError.error("\(path): row \(row) of page \(pages.count + 1) cannot be decoded")
                }
                for x in 0..<width {
                    let byte = line[x / 8]
                    // Decoded rows are most significant bit first whatever the FillOrder tag
                    // (which describes the coded data).
                    let bit = (byte >> (7 - x % 8)) & 1
                    black[row * width + x] = (bit == 1) == (photometric == UInt16(PHOTOMETRIC_MINISWHITE))
                }
            }
            pages.append(Page(width: width, height: height, xResolution: xRes, yResolution: yRes, black: black))
        } while TIFFReadDirectory(tiff) != 0
        return pages
    }

    /// Writes `pages` as a TIFF-F file (T.4 2D, the form fax machines store).
    public static func write(_ pages: [Page], to path: String) throws {
        lc_tiff_quiet()
        guard let tiff = TIFFOpen(path, "w") else { throw CallError.error("cannot write \(path)") }
        defer { TIFFClose(tiff) }
        for (number, page) in pages.enumerated() {
            _ = lc_tiff_set_u32(tiff, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(page.width))
            _ = lc_tiff_set_u32(tiff, UInt32(TIFFTAG_IMAGELENGTH), UInt32(page.height))
            _ = lc_tiff_set_u16(tiff, UInt32(TIFFTAG_BITSPERSAMPLE), 1)
            _ = lc_tiff_set_u16(tiff, UInt32(TIFFTAG_SAMPLESPERPIXEL), 1)
            _ = lc_tiff_set_u16(tiff, UInt32(TIFFTAG_COMPRESSION), UInt16(COMPRESSION_CCITTFAX3))
            _ = lc_tiff_set_u32(tiff, UInt32(TIFFTAG_GROUP3OPTIONS), UInt32(GROUP3OPT_2DENCODING | GROUP3OPT_FILLBITS))
            _ = lc_tiff_set_u16(tiff, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_MINISWHITE))
            _ = lc_tiff_set_u16(tiff, UInt32(TIFFTAG_FILLORDER), UInt16(FILLORDER_LSB2MSB))
            _ = lc_tiff_set_u16(tiff, UInt32(TIFFTAG_RESOLUTIONUNIT), UInt16(RESUNIT_INCH))
            _ = lc_tiff_set_float(tiff, UInt32(TIFFTAG_XRESOLUTION), Float(page.xResolution))
            _ = lc_tiff_set_float(tiff, UInt32(TIFFTAG_YRESOLUTION), Float(page.yResolution))
            _ = lc_tiff_set_u32(tiff, UInt32(TIFFTAG_ROWSPERSTRIP), UInt32(page.height))
            _ = lc_tiff_set_u32(tiff, UInt32(TIFFTAG_SUBFILETYPE), UInt32(FILETYPE_PAGE))
            _ = lc_tiff_set_page(tiff, UInt16(number), UInt16(pages.count))
            var line = [UInt8](repeating: 0, count: (page.width + 7) / 8)
            for row in 0..<page.height {
                for i in line.indices { line[i] = 0 }
                for x in 0..<page.width where page.black[row * page.width + x] { line[x / 8] |= 0x80 >> UInt8(x % 8) }
                guard line.withUnsafeMutableBytes({ TIFFWriteScanline(tiff, $0.baseAddress, UInt32(row), 0) }) >= 0 else {
                    throw CallError.error("cannot write row \(row) of page \(number + 1) to \(path)")
                }
            }
            guard TIFFWriteDirectory(tiff) != 0 else { throw CallError.error("cannot write page \(number + 1) to \(path)") }
        }
    }
}

/// The document a `FaxSender` sends: one or more TIFF files, checked when they are set.
public final class FaxToSend: Sendable {
    private let content = Mutex<(files: [String], pages: Int)>(([], 0))

    public init() {}

    /// A document of `files`, checked now.
    public convenience init(_ files: String...) throws {
        self.init()
        try setContent(files)
    }

    /// Replaces the content with `files` (sent in order); throws, saying which file and what
    /// is wrong, if any is missing, unreadable, not a TIFF, or has a page a fax cannot carry.
    public func setContent(_ files: [String]) throws {
        guard !files.isEmpty else { throw CallError.error("a fax needs at least one TIFF file") }
        var pages = 0
        for file in files { pages += try FaxDocument.pageCount(of: file) }
        content.withLock { $0 = (files, pages) }
    }

    public func setContent(_ files: String...) throws { try setContent(files) }

    public var files: [String] { content.withLock { $0.files } }
    /// Pages in all the files.
    public var pageCount: Int { content.withLock { $0.pages } }

    /// One file to hand to spandsp: the only one, or all pages copied into a temporary file.
    func singleFile() throws -> (path: String, temporary: Bool) {
        let files = self.files
        guard files.count > 1 else {
            guard let only = files.first else { throw CallError.error("the fax document has no content: call setContent first") }
            return (only, false)
        }
        var pages: [FaxDocument.Page] = []
        for file in files { pages += try FaxDocument.read(file) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-fax-\(UUID().uuidString).tif").path
        try FaxDocument.write(pages, to: path)
        return (path, true)
    }
}
