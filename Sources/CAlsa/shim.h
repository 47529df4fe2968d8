#include <alsa/asoundlib.h>

/* alsa-lib prints its own errors to stderr; ours say the same in one line with the device's
   name. The handler is variadic, which Swift cannot write. */
static void lc_alsa_ignore_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void) file; (void) line; (void) function; (void) err; (void) fmt;
}

static inline void lc_alsa_quiet(void) { snd_lib_error_set_handler(lc_alsa_ignore_error); }
