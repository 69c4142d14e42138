/* df-image.h — images in and out: PNG files with libpng, the conversions
 * the engine needs (planar floats for the VAE, masks, resizing), and the
 * generation parameters carried in a PNG's `parameters` text chunk in the
 * format the common Stable Diffusion web UIs write and read.
 *
 * Part of the public API: df.h includes it.  Every failure is a GError in
 * DF_ERROR; nothing aborts on a bad file. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------------
 * Images: 8-bit RGB or RGBA, rows top to bottom, not premultiplied.
 * ------------------------------------------------------------------------ */

/* The largest width or height accepted anywhere (a 16384² RGBA image is
 * already 1 GiB). */
#define DF_IMAGE_MAX_SIZE 16384

typedef struct
{
  int width;
  int height;
  int channels;    /* 3 (RGB) or 4 (RGBA) */
  size_t stride;   /* bytes from one row to the next, ≥ width · channels */
  uint8_t *pixels; /* owned; height · stride bytes */
} DfImage;

/* A new image of opaque black (alpha 255 when channels is 4).  Sizes
 * outside 1..DF_IMAGE_MAX_SIZE and channels other than 3 or 4 are
 * DF_ERROR_INVALID_ARGUMENT; memory exhaustion is
 * DF_ERROR_OUT_OF_DEVICE_MEMORY. */
DfImage *df_image_new (int width, int height, int channels, GError **error);
void df_image_free (DfImage *img);
DfImage *df_image_copy (const DfImage *img, GError **error);
/* The same pixels with channels 3 or 4 (alpha dropped, or added as 255). */
DfImage *df_image_convert (const DfImage *img, int channels, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfImage, df_image_free)

static inline uint8_t *
df_image_pixel (const DfImage *img, int x, int y)
{
  return img->pixels + (size_t) y * img->stride + (size_t) x * (size_t) img->channels;
}

/* Reads any PNG (every colour type and bit depth, palette, tRNS
 * transparency, interlacing) as 8-bit RGBA; 16-bit samples are scaled to
 * 8 bits with rounding; gamma and colour profiles are ignored, as the web
 * UIs and diffusers ignore them.  A missing or unreadable file is
 * DF_ERROR_IO; a file that is not a PNG, is truncated or damaged, or is
 * larger than DF_IMAGE_MAX_SIZE is DF_ERROR_INVALID_ARGUMENT. */
DfImage *df_image_load_png (const char *path, GError **error);

typedef struct _DfParams DfParams;

/* Writes @img as an 8-bit RGB or RGBA PNG, with @params (or NULL) as the
 * `parameters` text chunk (see df_params_to_text()).  The write is atomic:
 * the data goes to a temporary file in the same directory, is flushed to
 * disk, and is renamed over @path only when complete; on any failure
 * (no such directory, a read-only directory, a full disk) nothing is left
 * behind, any existing @path is untouched, and the GError is DF_ERROR_IO
 * naming @path. */
gboolean df_image_save_png (const DfImage *img, const char *path, const DfParams *params,
                            GError **error);

/* The UTF-8 text of the PNG's `parameters` chunk (tEXt and zTXt are read
 * as Latin-1, iTXt as UTF-8).  A PNG without one is DF_ERROR_FAILED; other
 * errors as df_image_load_png(). */
char *df_png_read_parameters (const char *path, GError **error);

/* --- conversions for the engine ------------------------------------------ */

/* The RGB channels as planar floats [3, H, W] in [−1, 1] the way the VAE
 * takes them (diffusers: 2 · (v / 255) − 1).  Alpha is ignored, as
 * diffusers' convert("RGB") ignores it.  Free with g_free(). */
float *df_image_to_planar (const DfImage *img);

/* The inverse: planar floats [channels, H, W] (channels 3 or 4) in [−1, 1]
 * to an image of as many channels: v = round(255 · clamp(x / 2 + 0.5, 0,
 * 1)), rounding half to even as NumPy does. */
DfImage *df_image_from_planar (const float *chw, int channels, int width, int height,
                               GError **error);

/* An inpainting mask: one float per pixel [H, W] in [0, 1], where 1 (a
 * white pixel) means repaint and 0 (black) means keep.  The value is the
 * pixel's luminance as PIL's convert("L") computes it (ITU-R 601:
 * 0.299 R + 0.587 G + 0.114 B, rounded to 8 bits), so grey, RGB and opaque
 * RGBA masks read as they do in diffusers; a pixel's alpha scales it
 * (transparent counts as black, i.e. keep), so a mask painted on a
 * transparent layer works too.  Free with g_free(). */
float *df_image_to_mask (const DfImage *img);

/* Loads a PNG mask (df_image_to_mask()) that must be @width × @height
 * (a different size is DF_ERROR_INVALID_ARGUMENT saying both sizes). */
float *df_mask_load_png (const char *path, int width, int height, GError **error);

/* --- size ---------------------------------------------------------------- */

/* Resamples to @width × @height with a separable Lanczos-3 filter (the
 * filter diffusers' image processor and the web UIs use through PIL),
 * widened by the scale factor when shrinking so every source pixel counts;
 * RGBA is filtered premultiplied, as PIL does. */
DfImage *df_image_resize (const DfImage *img, int width, int height, GError **error);

/* A @width × @height copy of the rectangle at (@x, @y); the rectangle must
 * lie inside the image. */
DfImage *df_image_crop (const DfImage *img, int x, int y, int width, int height,
                        GError **error);

typedef enum
{
  DF_FIT_STRETCH, /* resize to the target, ignoring the aspect ratio */
  DF_FIT_CROP,    /* scale to cover the target, keep the centre, crop the rest */
  DF_FIT_PAD,     /* scale to fit inside the target, fill the rest by
                   * repeating the edge pixels outwards */
} DfFit;

/* An init image of the wrong size made @width × @height. */
DfImage *df_image_fit (const DfImage *img, int width, int height, DfFit fit, GError **error);

/* Checks a generation size: both dimensions in 8..DF_IMAGE_MAX_SIZE and
 * multiples of 8 (the VAE's factor), else DF_ERROR_INVALID_ARGUMENT with a
 * message like "width 513 is not a multiple of 8 (try 512 or 520)". */
gboolean df_image_check_size (int width, int height, GError **error);

/* ------------------------------------------------------------------------
 * Generation parameters, in the web UIs' `parameters` text:
 *
 *   a prompt, on one or more lines
 *   Negative prompt: a negative prompt, on one or more lines
 *   Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, …
 *
 * ------------------------------------------------------------------------ */

typedef struct
{
  char *key;
  char *value; /* unquoted */
} DfParamsExtra;

struct _DfParams
{
  char *prompt;          /* never NULL; "" when none */
  char *negative_prompt; /* never NULL; "" when none */
  int steps;             /* 0 when absent */
  char *sampler;         /* our name ("euler_a", see df_sampler_to_webui());
                          * for a sampler we lack, the web UI's name as
                          * written; NULL when absent */
  double cfg_scale;      /* < 0 when absent */
  int64_t seed;          /* < 0 when absent */
  int width, height;     /* 0 when absent */
  char *model_hash;      /* NULL when absent */
  char *model;           /* NULL when absent */
  double denoising_strength; /* < 0 when absent */
  GPtrArray *extra;      /* DfParamsExtra*, every other key in order */
};

/* Parameters with nothing set. */
DfParams *df_params_new (void);
DfParams *df_params_copy (const DfParams *params);
void df_params_free (DfParams *params);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfParams, df_params_free)

void df_params_set_prompt (DfParams *params, const char *prompt);
void df_params_set_negative_prompt (DfParams *params, const char *negative_prompt);
void df_params_set_sampler (DfParams *params, const char *sampler);
void df_params_set_model (DfParams *params, const char *model_hash, const char *model);
/* Appends an extra key (kept after the known ones, in order). */
void df_params_add_extra (DfParams *params, const char *key, const char *value);
/* The value of the first extra @key, or NULL. */
const char *df_params_get_extra (const DfParams *params, const char *key);

gboolean df_params_equal (const DfParams *a, const DfParams *b);

/* The `parameters` text: the prompt, a "Negative prompt: " line when there
 * is one, and a settings line with Steps, Sampler, CFG scale, Seed, Size,
 * Model hash, Model, Denoising strength (each when set), then the extras.
 * Values holding a comma, a colon, a quote or a line break are written as
 * JSON strings, as the web UIs quote them.  Numbers are written in the
 * fewest digits that read back to the same value.  df_params_parse() reads
 * the text back to equal parameters, unless a prompt has whitespace at its
 * ends or a line starting "Negative prompt:", or only extras are set. */
char *df_params_to_text (const DfParams *params);

/* Reads the `parameters` text, leniently like the web UIs: Windows line
 * endings are accepted; the last line is the settings line when it holds
 * at least three `key: value` pairs or starts with "Steps:" (as in the web
 * UIs), or is nothing but pairs with at least one of the known keys above
 * (so that all df_params_to_text() writes reads back), else the whole text
 * is prompt and negative prompt; a known key whose value
 * does not read as its type (say "Steps: many") is kept among the extras
 * unchanged; "Sampler: DPM++ 2M" with "Schedule type: Karras" reads as
 * dpmpp_2m_karras (another schedule type stays an extra).  It fails, with
 * DF_ERROR_INVALID_ARGUMENT, only for text that is empty, not UTF-8, or
 * holds control characters other than tab, CR and LF. */
DfParams *df_params_parse (const char *text, GError **error);

/* df_png_read_parameters() and df_params_parse(). */
DfParams *df_params_load_png (const char *path, GError **error);

/* Our sampler names and the web UIs' names for them:
 *   euler "Euler", euler_a "Euler a", heun "Heun", ddim "DDIM", lms "LMS",
 *   dpmpp_2m "DPM++ 2M", dpmpp_2m_karras "DPM++ 2M Karras", lcm "LCM".
 * df_sampler_to_webui() returns NULL for a name not in the list;
 * df_sampler_from_webui() matches case-insensitively, folds a schedule type
 * (or NULL) into the name ("DPM++ 2M" + "Karras"), and returns NULL when
 * the combination is not one of ours. */
const char *df_sampler_to_webui (const char *sampler);
const char *df_sampler_from_webui (const char *name, const char *schedule_type);

/* The short model hash the web UIs print as "Model hash:": the first 10
 * hex digits of the SHA-256 of the whole file (their "AutoV2" hash),
 * streamed, so a multi-gigabyte model is never held in memory. */
char *df_model_hash (const char *path, GError **error);

G_END_DECLS
