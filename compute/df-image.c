/* df-image.c — 8-bit images: PNG in and out with libpng, planar floats for
 * the VAE, masks, resampling and fitting. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "df.h"

/* ------------------------------------------------------------------------
 * Images
 * ------------------------------------------------------------------------ */

static gboolean
check_dimensions (int width, int height, int channels, GError **error)
{
  if (width < 1 || height < 1 || width > DF_IMAGE_MAX_SIZE || height > DF_IMAGE_MAX_SIZE)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Image size %d×%d is outside 1…%d pixels", width, height,
                   DF_IMAGE_MAX_SIZE);
      return FALSE;
    }
  if (channels != 3 && channels != 4)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Images have 3 or 4 channels, not %d", channels);
      return FALSE;
    }
  return TRUE;
}

/* Like df_image_new() but the pixels are left uninitialised. */
static DfImage *
image_alloc (int width, int height, int channels, GError **error)
{
  g_autoptr (DfImage) img = NULL;

  if (!check_dimensions (width, height, channels, error))
    return NULL;

  img = g_new0 (DfImage, 1);
  img->width = width;
  img->height = height;
  img->channels = channels;
  img->stride = (size_t) width * (size_t) channels;
  img->pixels = g_try_malloc (img->stride * (size_t) height);
  if (img->pixels == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_OUT_OF_DEVICE_MEMORY,
                   "Out of memory for a %d×%d image", width, height);
      return NULL;
    }
  return g_steal_pointer (&img);
}

DfImage *
df_image_new (int width, int height, int channels, GError **error)
{
  DfImage *img = image_alloc (width, height, channels, error);

  if (img == NULL)
    return NULL;
  memset (img->pixels, 0, img->stride * (size_t) height);
  if (channels == 4)
    for (int y = 0; y < height; y++)
      for (int x = 0; x < width; x++)
        df_image_pixel (img, x, y)[3] = 255;
  return img;
}

void
df_image_free (DfImage *img)
{
  if (img == NULL)
    return;
  g_free (img->pixels);
  g_free (img);
}

DfImage *
df_image_convert (const DfImage *img, int channels, GError **error)
{
  DfImage *out;

  g_return_val_if_fail (img != NULL, NULL);

  out = image_alloc (img->width, img->height, channels, error);
  if (out == NULL)
    return NULL;
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      {
        const uint8_t *s = df_image_pixel (img, x, y);
        uint8_t *d = df_image_pixel (out, x, y);

        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        if (channels == 4)
          d[3] = img->channels == 4 ? s[3] : 255;
      }
  return out;
}

DfImage *
df_image_copy (const DfImage *img, GError **error)
{
  g_return_val_if_fail (img != NULL, NULL);
  return df_image_convert (img, img->channels, error);
}

/* ------------------------------------------------------------------------
 * PNG reading.  libpng reports errors by longjmp; everything that must be
 * released after one lives in a heap state the jump cannot clobber.
 * ------------------------------------------------------------------------ */

typedef struct
{
  const char *path;
  FILE *fp;
  png_structp png;
  png_infop info;
  char message[256]; /* the last libpng error, or ours */
  uint8_t *pixels;   /* decoded RGBA, height · stride */
  uint8_t *row;      /* one row when the pixels are not wanted */
  png_bytep *rows;
  int width;
  int height;
  gboolean too_large;
  char *parameters; /* UTF-8 */
} PngReader;

static void
png_error_cb (png_structp png, png_const_charp message)
{
  char *buffer = png_get_error_ptr (png);

  g_strlcpy (buffer, message, 256);
  png_longjmp (png, 1);
}

static void
png_warning_cb (png_structp png, png_const_charp message)
{
  /* Warnings (an odd sRGB profile, a bad ancillary CRC) do not stop us. */
  g_debug ("libpng: %s", message);
}

static void
png_read_cb (png_structp png, png_bytep data, size_t length)
{
  FILE *fp = png_get_io_ptr (png);

  if (fread (data, 1, length, fp) != length)
    {
      if (ferror (fp))
        png_error (png, g_strerror (errno));
      png_error (png, "unexpected end of file");
    }
}

/* Text chunk bytes as UTF-8.  tEXt and zTXt are Latin-1 by the standard,
 * but some writers put UTF-8 there: bytes that are valid UTF-8 are taken as
 * such (Latin-1 text that also parses as UTF-8 is vanishingly rare). */
static char *
text_to_utf8 (const png_text *t)
{
  const char *s = t->text != NULL ? t->text : "";
  size_t n = strlen (s);

  if (t->compression == PNG_ITXT_COMPRESSION_NONE || t->compression == PNG_ITXT_COMPRESSION_zTXt
      || g_utf8_validate (s, (gssize) n, NULL))
    return g_utf8_make_valid (s, (gssize) n);
  return g_convert (s, (gssize) n, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
}

static void
reader_take_parameters (PngReader *r)
{
  png_textp text = NULL;
  int n = 0;

  if (r->parameters != NULL)
    return;
  png_get_text (r->png, r->info, &text, &n);
  for (int i = 0; i < n; i++)
    if (g_strcmp0 (text[i].key, "parameters") == 0)
      {
        r->parameters = text_to_utf8 (&text[i]);
        return;
      }
}

/* Runs libpng; FALSE after a libpng error (in r->message) or when the
 * image is too large (r->too_large). */
static gboolean
reader_run (PngReader *r, gboolean want_pixels, gboolean want_parameters)
{
  png_uint_32 width, height;
  int bit_depth, color_type, passes;
  size_t stride;

  if (setjmp (png_jmpbuf (r->png)))
    return FALSE;

  png_set_read_fn (r->png, r->fp, png_read_cb);
  png_set_sig_bytes (r->png, 8);
  png_read_info (r->png, r->info);
  png_get_IHDR (r->png, r->info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
  if (width > DF_IMAGE_MAX_SIZE || height > DF_IMAGE_MAX_SIZE)
    {
      r->width = (int) MIN (width, G_MAXINT);
      r->height = (int) MIN (height, G_MAXINT);
      r->too_large = TRUE;
      return FALSE;
    }
  r->width = (int) width;
  r->height = (int) height;

  if (want_parameters)
    {
      reader_take_parameters (r);
      if (r->parameters != NULL && !want_pixels)
        return TRUE;
    }

  /* Everything to 8-bit RGBA. */
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (r->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8 (r->png);
  if (png_get_valid (r->png, r->info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha (r->png);
  if (bit_depth == 16)
    png_set_scale_16 (r->png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb (r->png);
  if (!(color_type & PNG_COLOR_MASK_ALPHA) && !png_get_valid (r->png, r->info, PNG_INFO_tRNS))
    png_set_add_alpha (r->png, 0xff, PNG_FILLER_AFTER);
  passes = png_set_interlace_handling (r->png);
  png_read_update_info (r->png, r->info);

  stride = (size_t) width * 4;
  if (png_get_rowbytes (r->png, r->info) != stride)
    png_error (r->png, "unexpected row size after conversion");

  if (want_pixels)
    {
      r->pixels = g_try_malloc (stride * height);
      r->rows = g_try_new (png_bytep, height);
      if (r->pixels == NULL || r->rows == NULL)
        png_error (r->png, "out of memory");
      for (png_uint_32 y = 0; y < height; y++)
        r->rows[y] = r->pixels + y * stride;
      png_read_image (r->png, r->rows);
    }
  else
    {
      /* Only the text after the image data is wanted: decode row by row
       * into one buffer, passes × height rows when interlaced. */
      r->row = g_try_malloc (stride);
      if (r->row == NULL)
        png_error (r->png, "out of memory");
      for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < height; y++)
          png_read_row (r->png, r->row, NULL);
    }

  /* Reads the chunks after the image data, text included, into info. */
  png_read_end (r->png, r->info);
  if (want_parameters)
    reader_take_parameters (r);
  return TRUE;
}

static gboolean
png_read_file (const char *path, DfImage **image_out, char **parameters_out, GError **error)
{
  PngReader *r = g_new0 (PngReader, 1);
  png_byte signature[8];
  gboolean ok = FALSE;
  size_t got;

  r->path = path;
  r->fp = fopen (path, "rb");
  if (r->fp == NULL)
    {
      int saved = errno;

      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not open “%s”: %s", path,
                   g_strerror (saved));
      goto out;
    }

  got = fread (signature, 1, sizeof signature, r->fp);
  if (got != sizeof signature || png_sig_cmp (signature, 0, sizeof signature) != 0)
    {
      if (ferror (r->fp))
        g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not read “%s”: %s", path,
                     g_strerror (errno));
      else
        g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "“%s” is not a PNG file",
                     path);
      goto out;
    }

  r->png = png_create_read_struct (PNG_LIBPNG_VER_STRING, r->message, png_error_cb,
                                   png_warning_cb);
  if (r->png != NULL)
    r->info = png_create_info_struct (r->png);
  if (r->png == NULL || r->info == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_OUT_OF_DEVICE_MEMORY,
                   "Out of memory reading “%s”", path);
      goto out;
    }

  if (!reader_run (r, image_out != NULL, parameters_out != NULL))
    {
      if (r->too_large)
        g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                     "“%s” is %d×%d pixels, larger than the limit of %d", path, r->width,
                     r->height, DF_IMAGE_MAX_SIZE);
      else
        g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                     "“%s” is a damaged or truncated PNG file: %s", path, r->message);
      goto out;
    }

  if (parameters_out != NULL)
    {
      if (r->parameters == NULL)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_FAILED,
                       "“%s” carries no generation parameters", path);
          goto out;
        }
      *parameters_out = g_steal_pointer (&r->parameters);
    }
  if (image_out != NULL)
    {
      DfImage *img = g_new0 (DfImage, 1);

      img->width = r->width;
      img->height = r->height;
      img->channels = 4;
      img->stride = (size_t) r->width * 4;
      img->pixels = g_steal_pointer (&r->pixels);
      *image_out = img;
    }
  ok = TRUE;

out:
  if (r->png != NULL)
    png_destroy_read_struct (&r->png, r->info != NULL ? &r->info : NULL, NULL);
  if (r->fp != NULL)
    fclose (r->fp);
  g_free (r->pixels);
  g_free (r->rows);
  g_free (r->row);
  g_free (r->parameters);
  g_free (r);
  return ok;
}

DfImage *
df_image_load_png (const char *path, GError **error)
{
  DfImage *img = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  if (!png_read_file (path, &img, NULL, error))
    return NULL;
  return img;
}

char *
df_png_read_parameters (const char *path, GError **error)
{
  char *text = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  if (!png_read_file (path, NULL, &text, error))
    return NULL;
  return text;
}

/* ------------------------------------------------------------------------
 * PNG writing, atomically: a temporary file beside the target, flushed and
 * synced, then renamed over it.
 * ------------------------------------------------------------------------ */

typedef struct
{
  FILE *fp;
  png_structp png;
  png_infop info;
  char message[256];
  const DfImage *img;
  png_bytep *rows;
  char *text;       /* the parameters, Latin-1 (tEXt) or UTF-8 (iTXt) */
  gboolean latin1;
} PngWriter;

static void
png_write_cb (png_structp png, png_bytep data, size_t length)
{
  FILE *fp = png_get_io_ptr (png);

  if (fwrite (data, 1, length, fp) != length)
    png_error (png, g_strerror (errno));
}

static void
png_flush_cb (png_structp png)
{
  FILE *fp = png_get_io_ptr (png);

  if (fflush (fp) != 0)
    png_error (png, g_strerror (errno));
}

static gboolean
writer_run (PngWriter *w)
{
  const DfImage *img = w->img;
  png_text text = { 0 };

  if (setjmp (png_jmpbuf (w->png)))
    return FALSE;

  png_set_write_fn (w->png, w->fp, png_write_cb, png_flush_cb);
  png_set_IHDR (w->png, w->info, (png_uint_32) img->width, (png_uint_32) img->height, 8,
                img->channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
                PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (w->text != NULL)
    {
      /* Before the image data, where PIL (and so the web UIs) put it. */
      text.key = (png_charp) "parameters";
      text.text = w->text;
      if (w->latin1)
        {
          text.compression = PNG_TEXT_COMPRESSION_NONE;
          text.text_length = strlen (w->text);
        }
      else
        {
          text.compression = PNG_ITXT_COMPRESSION_NONE;
          text.itxt_length = strlen (w->text);
          text.lang = (png_charp) "";
          text.lang_key = (png_charp) "";
        }
      png_set_text (w->png, w->info, &text, 1);
    }
  png_write_info (w->png, w->info);
  png_write_image (w->png, w->rows);
  png_write_end (w->png, NULL);
  return TRUE;
}

static void
sync_directory (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  /* The rename itself reaches the disk; failures here lose durability
   * only, not correctness, so they are not reported. */
  if (fd >= 0)
    {
      (void) fsync (fd);
      close (fd);
    }
}

gboolean
df_image_save_png (const DfImage *img, const char *path, const DfParams *params,
                   GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp_name = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree char *utf8 = NULL;
  PngWriter *w = NULL;
  gboolean ok = FALSE;
  int fd;
  int saved;

  g_return_val_if_fail (img != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!check_dimensions (img->width, img->height, img->channels, error))
    return FALSE;

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  tmp_name = g_strdup_printf (".%s.XXXXXX", base);
  tmp_path = g_build_filename (dir, tmp_name, NULL);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not save “%s”: %s", path,
                   g_strerror (saved));
      return FALSE;
    }

  w = g_new0 (PngWriter, 1);
  w->img = img;
  w->fp = fdopen (fd, "wb");
  if (w->fp == NULL)
    {
      saved = errno;
      close (fd);
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not save “%s”: %s", path,
                   g_strerror (saved));
      goto out;
    }

  if (params != NULL)
    {
      /* tEXt (Latin-1) when the text fits Latin-1, else iTXt (UTF-8): what
       * PIL's PngInfo.add_text writes, and what every reader accepts. */
      utf8 = df_params_to_text (params);
      w->text = g_convert (utf8, -1, "ISO-8859-1", "UTF-8", NULL, NULL, NULL);
      w->latin1 = w->text != NULL;
      if (w->text == NULL)
        w->text = g_strdup (utf8);
    }

  w->rows = g_new (png_bytep, img->height);
  for (int y = 0; y < img->height; y++)
    w->rows[y] = img->pixels + (size_t) y * img->stride;

  w->png = png_create_write_struct (PNG_LIBPNG_VER_STRING, w->message, png_error_cb,
                                    png_warning_cb);
  if (w->png != NULL)
    w->info = png_create_info_struct (w->png);
  if (w->png == NULL || w->info == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_OUT_OF_DEVICE_MEMORY,
                   "Out of memory saving “%s”", path);
      goto out;
    }

  if (!writer_run (w))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not save “%s”: %s", path, w->message);
      goto out;
    }

  if (fflush (w->fp) != 0 || fsync (fileno (w->fp)) != 0)
    {
      saved = errno;
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not save “%s”: %s", path,
                   g_strerror (saved));
      goto out;
    }
  if (fclose (g_steal_pointer (&w->fp)) != 0)
    {
      saved = errno;
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not save “%s”: %s", path,
                   g_strerror (saved));
      goto out;
    }
  if (g_rename (tmp_path, path) != 0)
    {
      saved = errno;
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "Could not save “%s”: %s", path,
                   g_strerror (saved));
      goto out;
    }
  sync_directory (dir);
  ok = TRUE;

out:
  if (w->png != NULL)
    png_destroy_write_struct (&w->png, w->info != NULL ? &w->info : NULL);
  if (w->fp != NULL)
    fclose (w->fp);
  if (!ok)
    g_unlink (tmp_path);
  g_free (w->rows);
  g_free (w->text);
  g_free (w);
  return ok;
}

/* ------------------------------------------------------------------------
 * Conversions for the engine
 * ------------------------------------------------------------------------ */

float *
df_image_to_planar (const DfImage *img)
{
  size_t plane;
  float *chw;

  g_return_val_if_fail (img != NULL, NULL);

  plane = (size_t) img->width * (size_t) img->height;
  chw = g_new (float, 3 * plane);
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);
        size_t i = (size_t) y * (size_t) img->width + (size_t) x;

        /* In fp32, in this order, as diffusers computes it. */
        for (int c = 0; c < 3; c++)
          chw[(size_t) c * plane + i] = 2.0f * ((float) p[c] / 255.0f) - 1.0f;
      }
  return chw;
}

DfImage *
df_image_from_planar (const float *chw, int channels, int width, int height, GError **error)
{
  DfImage *img;
  size_t plane;

  g_return_val_if_fail (chw != NULL, NULL);

  img = image_alloc (width, height, channels, error);
  if (img == NULL)
    return NULL;
  plane = (size_t) width * (size_t) height;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        uint8_t *p = df_image_pixel (img, x, y);
        size_t i = (size_t) y * (size_t) width + (size_t) x;

        for (int c = 0; c < channels; c++)
          {
            float v = chw[(size_t) c * plane + i] / 2.0f + 0.5f;

            if (!(v > 0.0f)) /* also NaN */
              v = 0.0f;
            if (v > 1.0f)
              v = 1.0f;
            /* rintf rounds half to even in the default rounding mode. */
            p[c] = (uint8_t) rintf (v * 255.0f);
          }
      }
  return img;
}

/* PIL's convert("L"): ITU-R 601 weights in 16-bit fixed point, rounded. */
static inline uint8_t
luminance (const uint8_t *p)
{
  return (uint8_t) (((uint32_t) p[0] * 19595 + (uint32_t) p[1] * 38470 + (uint32_t) p[2] * 7471
                     + 0x8000)
                    >> 16);
}

float *
df_image_to_mask (const DfImage *img)
{
  float *mask;

  g_return_val_if_fail (img != NULL, NULL);

  mask = g_new (float, (size_t) img->width * (size_t) img->height);
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);
        float m = (float) luminance (p) / 255.0f;

        if (img->channels == 4 && p[3] != 255)
          m *= (float) p[3] / 255.0f;
        mask[(size_t) y * (size_t) img->width + (size_t) x] = m;
      }
  return mask;
}

float *
df_mask_load_png (const char *path, int width, int height, GError **error)
{
  g_autoptr (DfImage) img = df_image_load_png (path, error);

  if (img == NULL)
    return NULL;
  if (img->width != width || img->height != height)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "The mask “%s” is %d×%d but the image is %d×%d", path, img->width,
                   img->height, width, height);
      return NULL;
    }
  return df_image_to_mask (img);
}

/* ------------------------------------------------------------------------
 * Resampling: separable Lanczos-3.  For each output sample the filter is
 * centred on the source position (x + 0.5) · scale − 0.5 and, when
 * shrinking, stretched by the scale so it covers every source pixel that
 * maps there; weights are normalised to sum to one.
 * ------------------------------------------------------------------------ */

#define LANCZOS_SUPPORT 3.0

static double
sinc (double x)
{
  if (x == 0.0)
    return 1.0;
  x *= G_PI;
  return sin (x) / x;
}

static double
lanczos3 (double x)
{
  if (x <= -LANCZOS_SUPPORT || x >= LANCZOS_SUPPORT)
    return 0.0;
  return sinc (x) * sinc (x / LANCZOS_SUPPORT);
}

/* Filter taps for one axis: out_size rows of `taps` weights starting at
 * first[i]. */
typedef struct
{
  int taps;
  int *first;     /* [out_size] */
  float *weights; /* [out_size, taps] */
} Taps;

static void
taps_clear (Taps *t)
{
  g_free (t->first);
  g_free (t->weights);
}

static void
taps_compute (Taps *t, int in_size, int out_size)
{
  double scale = (double) in_size / out_size;
  double stretch = MAX (scale, 1.0);
  double support = LANCZOS_SUPPORT * stretch;

  t->taps = (int) ceil (support) * 2 + 1;
  t->first = g_new (int, out_size);
  t->weights = g_new0 (float, (size_t) out_size * (size_t) t->taps);
  for (int i = 0; i < out_size; i++)
    {
      double centre = (i + 0.5) * scale; /* in source pixel edges */
      int lo = MAX ((int) floor (centre - support + 0.5), 0);
      int hi = MIN ((int) floor (centre + support + 0.5), in_size);
      float *w = t->weights + (size_t) i * (size_t) t->taps;
      double sum = 0.0;
      int n = MIN (hi - lo, t->taps);

      for (int k = 0; k < n; k++)
        {
          double v = lanczos3 ((lo + k + 0.5 - centre) / stretch);

          w[k] = (float) v;
          sum += v;
        }
      if (sum != 0.0)
        for (int k = 0; k < n; k++)
          w[k] = (float) (w[k] / sum);
      t->first[i] = lo;
    }
}

static inline uint8_t
to_u8 (float v)
{
  if (!(v > 0.0f))
    return 0;
  if (v > 255.0f)
    return 255;
  return (uint8_t) rintf (v);
}

/* One pass along x: [h, w, c] → [h, ow, c]. */
static void
pass_x (const float *in, int w, int h, int c, float *out, int ow, const Taps *t)
{
  for (int y = 0; y < h; y++)
    for (int x = 0; x < ow; x++)
      {
        const float *wt = t->weights + (size_t) x * t->taps;
        int lo = t->first[x];
        int n = MIN (t->taps, w - lo);

        for (int k = 0; k < c; k++)
          {
            float acc = 0.0f;

            for (int j = 0; j < n; j++)
              acc += wt[j] * in[((size_t) y * w + lo + j) * c + k];
            out[((size_t) y * ow + x) * c + k] = acc;
          }
      }
}

/* One pass along y: [h, w, c] → [oh, w, c]. */
static void
pass_y (const float *in, int w, int h, int c, float *out, int oh, const Taps *t)
{
  for (int y = 0; y < oh; y++)
    {
      const float *wt = t->weights + (size_t) y * t->taps;
      int lo = t->first[y];
      int n = MIN (t->taps, h - lo);
      float *o = out + (size_t) y * w * c;

      for (size_t i = 0; i < (size_t) w * c; i++)
        o[i] = 0.0f;
      for (int j = 0; j < n; j++)
        {
          const float *row = in + (size_t) (lo + j) * w * c;

          for (size_t i = 0; i < (size_t) w * c; i++)
            o[i] += wt[j] * row[i];
        }
    }
}

DfImage *
df_image_resize (const DfImage *img, int width, int height, GError **error)
{
  g_autoptr (DfImage) out = NULL;
  g_autofree float *src = NULL;
  g_autofree float *mid = NULL;
  g_autofree float *dst = NULL;
  Taps tx = { 0 }, ty = { 0 };
  gboolean x_first;
  size_t mid_n;
  int c, iw, ih;

  g_return_val_if_fail (img != NULL, NULL);

  c = img->channels;
  iw = img->width;
  ih = img->height;
  out = image_alloc (width, height, c, error);
  if (out == NULL)
    return NULL;

  /* Source as floats (premultiplied for RGBA), one pass per axis:
   * horizontal first, unless only the height shrinks (then the shrinking
   * pass goes first), which is the order Pillow 13 gives.  As PIL does, the
   * result of the first pass is clamped and rounded to 8 bits: overshoot
   * from the filter's negative lobes is cut before the second pass.  Both
   * keep us within a level of the images diffusers resizes through PIL
   * (tests/reference/make_image_data.py). */
  x_first = !(height < ih && width > iw);
  mid_n = x_first ? (size_t) width * ih * c : (size_t) iw * height * c;
  src = g_try_new (float, (size_t) iw * ih * c);
  mid = g_try_new (float, mid_n);
  dst = g_try_new (float, (size_t) width * height * c);
  if (src == NULL || mid == NULL || dst == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_OUT_OF_DEVICE_MEMORY,
                   "Out of memory resizing a %d×%d image to %d×%d", iw, ih, width, height);
      return NULL;
    }
  for (int y = 0; y < ih; y++)
    for (int x = 0; x < iw; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);
        float *s = src + ((size_t) y * iw + x) * c;
        float a = c == 4 ? p[3] / 255.0f : 1.0f;

        for (int k = 0; k < 3; k++)
          s[k] = p[k] * a;
        if (c == 4)
          s[3] = p[3];
      }

  taps_compute (&tx, iw, width);
  taps_compute (&ty, ih, height);
  if (x_first)
    {
      pass_x (src, iw, ih, c, mid, width, &tx);
      for (size_t i = 0; i < mid_n; i++)
        mid[i] = to_u8 (mid[i]);
      pass_y (mid, width, ih, c, dst, height, &ty);
    }
  else
    {
      pass_y (src, iw, ih, c, mid, height, &ty);
      for (size_t i = 0; i < mid_n; i++)
        mid[i] = to_u8 (mid[i]);
      pass_x (mid, iw, height, c, dst, width, &tx);
    }
  taps_clear (&tx);
  taps_clear (&ty);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        const float *d = dst + ((size_t) y * width + x) * c;
        uint8_t *p = df_image_pixel (out, x, y);

        if (c == 4)
          {
            uint8_t a = to_u8 (d[3]);

            p[3] = a;
            for (int k = 0; k < 3; k++)
              p[k] = a == 0 ? 0 : to_u8 (d[k] * 255.0f / a);
          }
        else
          for (int k = 0; k < 3; k++)
            p[k] = to_u8 (d[k]);
      }
  return g_steal_pointer (&out);
}

DfImage *
df_image_crop (const DfImage *img, int x, int y, int width, int height, GError **error)
{
  DfImage *out;

  g_return_val_if_fail (img != NULL, NULL);

  if (x < 0 || y < 0 || width < 1 || height < 1 || width > img->width - x
      || height > img->height - y)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "The rectangle %d×%d at (%d, %d) is not inside the %d×%d image", width,
                   height, x, y, img->width, img->height);
      return NULL;
    }
  out = image_alloc (width, height, img->channels, error);
  if (out == NULL)
    return NULL;
  for (int r = 0; r < height; r++)
    memcpy (df_image_pixel (out, 0, r), df_image_pixel (img, x, y + r),
            (size_t) width * (size_t) img->channels);
  return out;
}

DfImage *
df_image_fit (const DfImage *img, int width, int height, DfFit fit, GError **error)
{
  g_autoptr (DfImage) scaled = NULL;
  double sx, sy, scale;
  int sw, sh;
  DfImage *out;

  g_return_val_if_fail (img != NULL, NULL);

  if (!check_dimensions (width, height, img->channels, error))
    return NULL;
  if (img->width == width && img->height == height)
    return df_image_copy (img, error);
  if (fit == DF_FIT_STRETCH)
    return df_image_resize (img, width, height, error);

  sx = (double) width / img->width;
  sy = (double) height / img->height;
  if (fit == DF_FIT_CROP)
    {
      scale = MAX (sx, sy);
      sw = MAX (width, (int) lround (img->width * scale));
      sh = MAX (height, (int) lround (img->height * scale));
      scaled = df_image_resize (img, sw, sh, error);
      if (scaled == NULL)
        return NULL;
      return df_image_crop (scaled, (sw - width) / 2, (sh - height) / 2, width, height, error);
    }

  /* DF_FIT_PAD */
  scale = MIN (sx, sy);
  sw = CLAMP ((int) lround (img->width * scale), 1, width);
  sh = CLAMP ((int) lround (img->height * scale), 1, height);
  scaled = df_image_resize (img, sw, sh, error);
  if (scaled == NULL)
    return NULL;
  out = image_alloc (width, height, img->channels, error);
  if (out == NULL)
    return NULL;
  {
    int ox = (width - sw) / 2, oy = (height - sh) / 2;

    for (int y = 0; y < height; y++)
      for (int x = 0; x < width; x++)
        memcpy (df_image_pixel (out, x, y),
                df_image_pixel (scaled, CLAMP (x - ox, 0, sw - 1), CLAMP (y - oy, 0, sh - 1)),
                (size_t) img->channels);
  }
  return out;
}

static gboolean
check_one_size (const char *what, int v, GError **error)
{
  if (v < 8)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "%s %d is too small (at least 8)", what, v);
      return FALSE;
    }
  if (v > DF_IMAGE_MAX_SIZE)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "%s %d is too large (at most %d)", what, v, DF_IMAGE_MAX_SIZE);
      return FALSE;
    }
  if (v % 8 != 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "%s %d is not a multiple of 8 (try %d or %d)", what, v, v / 8 * 8,
                   v / 8 * 8 + 8);
      return FALSE;
    }
  return TRUE;
}

gboolean
df_image_check_size (int width, int height, GError **error)
{
  return check_one_size ("width", width, error) && check_one_size ("height", height, error);
}
