#include <tiffio.h>

/* TIFFGetField and TIFFSetField are variadic, which Swift cannot call: one typed wrapper
   per kind of tag we use. */

static inline uint32_t lc_tiff_get_u32(TIFF *tiff, uint32_t tag, uint32_t fallback) {
    uint32_t value = fallback;
    return TIFFGetField(tiff, tag, &value) ? value : fallback;
}

static inline uint16_t lc_tiff_get_u16(TIFF *tiff, uint32_t tag, uint16_t fallback) {
    uint16_t value = fallback;
    return TIFFGetField(tiff, tag, &value) ? value : fallback;
}

static inline float lc_tiff_get_float(TIFF *tiff, uint32_t tag, float fallback) {
    float value = fallback;
    return TIFFGetField(tiff, tag, &value) ? value : fallback;
}

static inline int lc_tiff_set_u32(TIFF *tiff, uint32_t tag, uint32_t value) { return TIFFSetField(tiff, tag, value); }
static inline int lc_tiff_set_u16(TIFF *tiff, uint32_t tag, uint16_t value) { return TIFFSetField(tiff, tag, (int) value); }
static inline int lc_tiff_set_float(TIFF *tiff, uint32_t tag, float value) { return TIFFSetField(tiff, tag, (double) value); }
static inline int lc_tiff_set_page(TIFF *tiff, uint16_t page, uint16_t pages) { return TIFFSetField(tiff, TIFFTAG_PAGENUMBER, page, pages); }

/* Quiet libtiff: our own errors say what was wrong. */
static inline void lc_tiff_quiet(void) {
    TIFFSetErrorHandler(0);
    TIFFSetWarningHandler(0);
}
