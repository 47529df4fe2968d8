#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <stdlib.h>
#include <string.h>
/* An ALSA PCM with no hardware that runs an xrun on purpose: after `xrun_after` pointer
   queries it reports -EPIPE once. Capture gives silence, playback discards. */
typedef struct { snd_pcm_ioplug_t io; snd_pcm_uframes_t hw; int calls, xrun_after, done; } lc_t;
static int lc_start(snd_pcm_ioplug_t *io) { (void) io; return 0; }
static int lc_stop(snd_pcm_ioplug_t *io) { (void) io; return 0; }
static int lc_prepare(snd_pcm_ioplug_t *io) { ((lc_t *) io->private_data)->hw = 0; return 0; }
static snd_pcm_sframes_t lc_pointer(snd_pcm_ioplug_t *io) {
    lc_t *s = io->private_data;
    if (!s->done && ++s->calls >= s->xrun_after) { s->done = 1; return -EPIPE; }
    /* Always a period ready (capture) or room for one (playback). */
    if (io->stream == SND_PCM_STREAM_CAPTURE) s->hw = (io->appl_ptr + io->period_size) % io->buffer_size;
    else s->hw = io->appl_ptr % io->buffer_size;
    return s->hw;
}
static snd_pcm_sframes_t lc_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas, snd_pcm_uframes_t offset, snd_pcm_uframes_t size) {
    if (io->stream == SND_PCM_STREAM_CAPTURE) {
        char *dst = (char *) areas->addr + (areas->first + areas->step * offset) / 8;
        memset(dst, 0, size * 2);
    }
    return size;
}
static int lc_close(snd_pcm_ioplug_t *io) { free(io->private_data); return 0; }
static const snd_pcm_ioplug_callback_t callbacks = {
    .start = lc_start, .stop = lc_stop, .pointer = lc_pointer, .transfer = lc_transfer, .prepare = lc_prepare, .close = lc_close,
};
SND_PCM_PLUGIN_DEFINE_FUNC(lcxrun) {
    (void) root; (void) conf;
    lc_t *s = calloc(1, sizeof *s);
    s->xrun_after = 20;
    s->io.version = SND_PCM_IOPLUG_VERSION;
    s->io.name = "linecard xrun";
    s->io.callback = &callbacks;
    s->io.private_data = s;
    int err = snd_pcm_ioplug_create(&s->io, name, stream, mode);
    if (err < 0) { free(s); return err; }
    unsigned int access[] = { SND_PCM_ACCESS_RW_INTERLEAVED }, formats[] = { SND_PCM_FORMAT_S16_LE };
    snd_pcm_ioplug_set_param_list(&s->io, SND_PCM_IOPLUG_HW_ACCESS, 1, access);
    snd_pcm_ioplug_set_param_list(&s->io, SND_PCM_IOPLUG_HW_FORMAT, 1, formats);
    snd_pcm_ioplug_set_param_minmax(&s->io, SND_PCM_IOPLUG_HW_CHANNELS, 1, 1);
    snd_pcm_ioplug_set_param_minmax(&s->io, SND_PCM_IOPLUG_HW_RATE, 8000, 8000);
    snd_pcm_ioplug_set_param_minmax(&s->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 16, 320);
    snd_pcm_ioplug_set_param_minmax(&s->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 16);
    *pcmp = s->io.pcm;
    return 0;
}
SND_PCM_PLUGIN_SYMBOL(lcxrun);
