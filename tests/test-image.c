/* test-image.c — PNG loading of every colour type, atomic saving under
 * failure, refused files, float and mask conversions, resampling, fitting
 * and size checks. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <glib/gstdio.h>

#include "df-test.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static char *
make_temp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("diffuse-image-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Removes a directory tree made by a test (files and empty folders). */
static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_tree (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

/* The names in a directory, sorted, joined by spaces. */
static char *
list_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

/* An image of pseudo-random pixels. */
static DfImage *
random_image (int width, int height, int channels, guint32 seed)
{
  g_autoptr (GError) error = NULL;
  DfImage *img = df_image_new (width, height, channels, &error);
  GRand *rand = g_rand_new_with_seed (seed);

  g_assert_no_error (error);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      for (int c = 0; c < channels; c++)
        df_image_pixel (img, x, y)[c] = (uint8_t) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
  return img;
}

static DfImage *
load_data (const char *name)
{
  g_autofree char *path = df_test_data_path (name);
  g_autoptr (GError) error = NULL;
  DfImage *img = df_image_load_png (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (img);
  g_assert_cmpint (img->channels, ==, 4);
  return img;
}

/* The 8-bit value libpng's scaling should give for a 16-bit sample: the
 * nearest to v · 255 / 65535. */
static void
assert_scaled (uint8_t got, unsigned v16)
{
  double want = v16 / 257.0;

  if (fabs (got - want) > 0.5 + 1e-9)
    g_error ("16-bit %u read as %u, want %.2f", v16, got, want);
}

/* ------------------------------------------------------------------------
 * Loading every kind of PNG
 * ------------------------------------------------------------------------ */

static void
test_image_new (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) img = df_image_new (5, 3, 4, &error);
  DfImage *bad;

  g_assert_no_error (error);
  g_assert_cmpint (img->stride, >=, 5 * 4);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);

        g_assert_cmpuint (p[0] | p[1] | p[2], ==, 0);
        g_assert_cmpuint (p[3], ==, 255);
      }

  bad = df_image_new (0, 3, 4, &error);
  g_assert_null (bad);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = df_image_new (DF_IMAGE_MAX_SIZE + 1, 1, 3, &error);
  g_assert_null (bad);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = df_image_new (4, 4, 2, &error);
  g_assert_null (bad);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
}

static void
test_image_load_rgba16 (void)
{
  g_autoptr (DfImage) img = load_data ("image/rgba16-5x3.png");

  g_assert_cmpint (img->width, ==, 5);
  g_assert_cmpint (img->height, ==, 3);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);

        assert_scaled (p[0], x * 13107 + y * 1000 + 3);
        assert_scaled (p[1], 65535 - x * 9000 - y * 77);
        assert_scaled (p[2], (x * y * 4001) % 65536);
        assert_scaled (p[3], 65535 - y * 20000);
      }
}

static void
test_image_load_grey16 (void)
{
  g_autoptr (DfImage) img = load_data ("image/grey16-5x3.png");

  g_assert_cmpint (img->width, ==, 5);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);

        assert_scaled (p[0], x * 12000 + y * 3001);
        g_assert_cmpuint (p[1], ==, p[0]);
        g_assert_cmpuint (p[2], ==, p[0]);
        g_assert_cmpuint (p[3], ==, 255);
      }
}

static void
test_image_load_palette (void)
{
  static const uint8_t palette[4][4] = {
    { 255, 0, 0, 255 }, { 0, 255, 0, 255 }, { 0, 0, 255, 0 }, { 10, 20, 30, 128 },
  };
  g_autoptr (DfImage) img = load_data ("image/palette2-trns-7x5.png");

  g_assert_cmpint (img->width, ==, 7);
  g_assert_cmpint (img->height, ==, 5);
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 7; x++)
      g_assert_cmpmem (df_image_pixel (img, x, y), 4, palette[(x + 2 * y) % 4], 4);
}

static void
test_image_load_grey1 (void)
{
  g_autoptr (DfImage) img = load_data ("image/grey1-9x3.png");

  g_assert_cmpint (img->width, ==, 9);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 9; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);
        uint8_t v = (x + y) % 2 ? 255 : 0;

        g_assert_cmpuint (p[0], ==, v);
        g_assert_cmpuint (p[2], ==, v);
        g_assert_cmpuint (p[3], ==, 255);
      }
}

static void
test_image_load_grey_trns (void)
{
  g_autoptr (DfImage) img = load_data ("image/grey-trns-6x4.png");

  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 6; x++)
      {
        const uint8_t *p = df_image_pixel (img, x, y);
        uint8_t v = (uint8_t) ((x * 40 + y * 10) % 256);

        g_assert_cmpuint (p[0], ==, v);
        g_assert_cmpuint (p[1], ==, v);
        g_assert_cmpuint (p[3], ==, v == 100 ? 0 : 255);
      }
  /* the key value does occur, so the check above can fail */
  g_assert_cmpuint (df_image_pixel (img, 2, 2)[3], ==, 0);
}

static void
test_image_load_interlaced (void)
{
  g_autoptr (DfImage) img = load_data ("image/rgb-adam7-7x5.png");

  g_assert_cmpint (img->width, ==, 7);
  g_assert_cmpint (img->height, ==, 5);
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 7; x++)
      {
        const uint8_t want[4] = { x * 30, y * 50, (x * y * 7) % 256, 255 };

        g_assert_cmpmem (df_image_pixel (img, x, y), 4, want, 4);
      }
}

/* ------------------------------------------------------------------------
 * Saving
 * ------------------------------------------------------------------------ */

static void
assert_same_pixels (const DfImage *a, const DfImage *b)
{
  g_assert_cmpint (a->width, ==, b->width);
  g_assert_cmpint (a->height, ==, b->height);
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      {
        const uint8_t *p = df_image_pixel (a, x, y), *q = df_image_pixel (b, x, y);

        g_assert_cmpmem (p, 3, q, 3);
        g_assert_cmpuint (a->channels == 4 ? p[3] : 255, ==, b->channels == 4 ? q[3] : 255);
      }
}

static void
test_image_save_roundtrip (void)
{
  static const int sizes[][3] = { { 1, 1, 4 }, { 7, 5, 3 }, { 13, 3, 4 }, { 3, 17, 3 } };
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "out.png", NULL);

  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (DfImage) img = random_image (sizes[i][0], sizes[i][1], sizes[i][2], 7 + i);
      g_autoptr (DfImage) back = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *names = NULL;

      g_assert_true (df_image_save_png (img, path, NULL, &error));
      g_assert_no_error (error);
      back = df_image_load_png (path, &error);
      g_assert_no_error (error);
      assert_same_pixels (img, back);
      /* the temporary file is gone */
      names = list_dir (dir);
      g_assert_cmpstr (names, ==, "out.png");
    }
  remove_tree (dir);
}

static void
assert_save_fails (const DfImage *img, const char *path)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (df_image_save_png (img, path, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  if (g_test_verbose ())
    g_test_message ("%s", error->message);
}

static void
test_image_save_no_directory (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "missing", "out.png", NULL);
  g_autoptr (DfImage) img = random_image (8, 8, 3, 1);
  g_autofree char *names = NULL;

  assert_save_fails (img, path);
  names = list_dir (dir);
  g_assert_cmpstr (names, ==, "");
  remove_tree (dir);
}

static void
test_image_save_onto_directory (void)
{
  /* The temporary file is written completely, then the rename fails: it
   * must be removed. */
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "taken.png", NULL);
  g_autoptr (DfImage) img = random_image (8, 8, 3, 2);
  g_autofree char *names = NULL;

  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
  assert_save_fails (img, path);
  names = list_dir (dir);
  g_assert_cmpstr (names, ==, "taken.png");
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
  remove_tree (dir);
}

static void
test_image_save_read_only (void)
{
  g_autoptr (DfImage) img = random_image (8, 8, 3, 3);

  /* sysfs refuses new files even to root (EACCES, or EROFS where it is
   * mounted read-only). */
  assert_save_fails (img, "/sys/diffuse-test.png");
  g_assert_false (g_file_test ("/sys/diffuse-test.png", G_FILE_TEST_EXISTS));

  /* A directory without write permission stops everyone but root. */
  if (geteuid () != 0)
    {
      g_autofree char *dir = make_temp_dir ();
      g_autofree char *path = g_build_filename (dir, "out.png", NULL);
      g_autofree char *names = NULL;

      g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
      assert_save_fails (img, path);
      names = list_dir (dir);
      g_assert_cmpstr (names, ==, "");
      g_chmod (dir, 0755);
      remove_tree (dir);
    }
}

/* A disk that fills up mid-write, simulated by a file size limit in a
 * child process: the old file survives and no temporary file remains. */
static void
test_image_save_disk_full (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *names = NULL;
  g_autofree char *contents = NULL;

  if (g_test_subprocess ())
    {
      const char *child_path = g_getenv ("DIFFUSE_TEST_FULL_PATH");
      struct rlimit lim = { 2000, 2000 };
      g_autoptr (DfImage) img = random_image (64, 64, 3, 4); /* ≈ 12 KiB incompressible */

      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
      assert_save_fails (img, child_path);
      return;
    }

  dir = make_temp_dir ();
  path = g_build_filename (dir, "old.png", NULL);
  g_assert_true (g_file_set_contents (path, "previous", -1, NULL));
  g_setenv ("DIFFUSE_TEST_FULL_PATH", path, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();

  names = list_dir (dir);
  g_assert_cmpstr (names, ==, "old.png");
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "previous");
  remove_tree (dir);
}

static void
test_image_save_replaces (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "a.png", NULL);
  g_autoptr (DfImage) first = random_image (5, 5, 4, 5);
  g_autoptr (DfImage) second = random_image (9, 2, 3, 6);
  g_autoptr (DfImage) back = NULL;
  g_autoptr (GError) error = NULL;
  GStatBuf st;
  mode_t mask;

  g_assert_true (df_image_save_png (first, path, NULL, &error));
  g_assert_true (df_image_save_png (second, path, NULL, &error));
  g_assert_no_error (error);
  back = df_image_load_png (path, &error);
  g_assert_no_error (error);
  assert_same_pixels (second, back);
  /* an ordinary file's permissions (0666 less the umask), not mkstemp's 0600 */
  mask = umask (022);
  umask (mask);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0666 & ~mask);
  remove_tree (dir);
}

/* ------------------------------------------------------------------------
 * Refused files
 * ------------------------------------------------------------------------ */

static void
assert_load_fails (const char *path, DfError code, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) img = df_image_load_png (path, &error);

  g_assert_null (img);
  g_assert_error (error, DF_ERROR, (int) code);
  g_assert_nonnull (strstr (error->message, path));
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("“%s” lacks “%s”", error->message, fragment);
}

static void
test_image_refuse_broken (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *good = g_build_filename (dir, "good.png", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.png", NULL);
  g_autoptr (DfImage) img = random_image (16, 16, 4, 8);
  g_autofree char *data = NULL;
  g_autofree char *missing = g_build_filename (dir, "missing.png", NULL);
  gsize len;
  /* cut inside the signature, the header, the image data, and IEND */
  const double cuts[] = { 0.0, 0.02, 0.1, 0.5, 0.9 };

  g_assert_true (df_image_save_png (img, good, NULL, NULL));
  g_assert_true (g_file_get_contents (good, &data, &len, NULL));

  for (size_t i = 0; i < G_N_ELEMENTS (cuts); i++)
    {
      gsize n = (gsize) (cuts[i] * len);

      g_assert_true (g_file_set_contents (bad, data, (gssize) n, NULL));
      assert_load_fails (bad, DF_ERROR_INVALID_ARGUMENT, n < 8 ? "not a PNG" : "truncated");
    }
  /* the last bytes of IEND */
  g_assert_true (g_file_set_contents (bad, data, (gssize) len - 3, NULL));
  assert_load_fails (bad, DF_ERROR_INVALID_ARGUMENT, "truncated");

  /* a damaged byte in the image data: a CRC or zlib error */
  data[len / 2] ^= 0x5a;
  g_assert_true (g_file_set_contents (bad, data, (gssize) len, NULL));
  assert_load_fails (bad, DF_ERROR_INVALID_ARGUMENT, "damaged");

  g_assert_true (g_file_set_contents (bad, "Steps: 20, Sampler: Euler\n", -1, NULL));
  assert_load_fails (bad, DF_ERROR_INVALID_ARGUMENT, "not a PNG file");

  assert_load_fails (missing, DF_ERROR_IO, "No such file");
  remove_tree (dir);
}

static void
put_chunk (GByteArray *png, const char *type, const guint8 *data, guint32 n)
{
  guint8 be[4] = { n >> 24, n >> 16, n >> 8, n };
  uLong crc = crc32 (0, (const Bytef *) type, 4);

  if (n > 0)
    crc = crc32 (crc, data, n);
  g_byte_array_append (png, be, 4);
  g_byte_array_append (png, (const guint8 *) type, 4);
  if (n > 0)
    g_byte_array_append (png, data, n);
  be[0] = crc >> 24, be[1] = crc >> 16, be[2] = crc >> 8, be[3] = crc;
  g_byte_array_append (png, be, 4);
}

static void
test_image_refuse_too_large (void)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  /* 20000 × 2, 8-bit RGB: a valid header, then (empty) image data */
  static const guint8 ihdr[13] = { 0, 0, 0x4e, 0x20, 0, 0, 0, 2, 8, 2, 0, 0, 0 };
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "huge.png", NULL);
  g_autoptr (GByteArray) png = g_byte_array_new ();

  g_byte_array_append (png, signature, 8);
  put_chunk (png, "IHDR", ihdr, 13);
  put_chunk (png, "IDAT", NULL, 0);
  put_chunk (png, "IEND", NULL, 0);
  g_assert_true (g_file_set_contents (path, (const char *) png->data, png->len, NULL));
  assert_load_fails (path, DF_ERROR_INVALID_ARGUMENT, "20000×2");
  remove_tree (dir);
}

/* ------------------------------------------------------------------------
 * Conversions
 * ------------------------------------------------------------------------ */

static void
test_image_planar (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) img = df_image_new (256, 2, 4, &error);
  g_autoptr (DfImage) back = NULL;
  g_autoptr (DfImage) clamped = NULL;
  g_autofree float *chw = NULL;
  const float odd[3 * 2] = { -3.0f, NAN, 3.0f, 1.0f, 0.0f, -1.0f }; /* [3, 1, 2] */

  for (int x = 0; x < 256; x++)
    {
      uint8_t *p = df_image_pixel (img, x, 0), *q = df_image_pixel (img, x, 1);

      p[0] = (uint8_t) x, p[1] = (uint8_t) (255 - x), p[2] = (uint8_t) (x * 7), p[3] = 0;
      q[0] = q[1] = q[2] = (uint8_t) (x / 2);
    }
  chw = df_image_to_planar (img);
  /* [3, 2, 256]: R plane, row 0 */
  g_assert_cmpfloat (chw[0], ==, -1.0f);
  g_assert_cmpfloat (chw[255], ==, 1.0f);
  g_assert_cmpfloat_with_epsilon (chw[128], 128 / 127.5 - 1, 1e-6);
  /* G plane, row 0, x = 0 is 255 */
  g_assert_cmpfloat (chw[2 * 256], ==, 1.0f);

  back = df_image_from_planar (chw, 3, 256, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->channels, ==, 3);
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 256; x++)
      g_assert_cmpmem (df_image_pixel (back, x, y), 3, df_image_pixel (img, x, y), 3);

  clamped = df_image_from_planar (odd, 3, 2, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (df_image_pixel (clamped, 0, 0)[0], ==, 0);   /* −3 */
  g_assert_cmpuint (df_image_pixel (clamped, 1, 0)[0], ==, 0);   /* NaN */
  g_assert_cmpuint (df_image_pixel (clamped, 0, 0)[1], ==, 255); /* 3 */
  g_assert_cmpuint (df_image_pixel (clamped, 1, 0)[1], ==, 255); /* 1 */
  g_assert_cmpuint (df_image_pixel (clamped, 0, 0)[2], ==, 128); /* 0 → 127.5, to even */
  g_assert_cmpuint (df_image_pixel (clamped, 1, 0)[2], ==, 0);   /* −1 */
}

static void
test_image_mask (void)
{
  /* colours and PIL's convert("L") of them (Pillow 13) */
  static const uint8_t colours[][3] = {
    { 255, 255, 255 }, { 0, 0, 0 }, { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 },
    { 128, 128, 128 }, { 10, 200, 30 }, { 1, 2, 3 }, { 250, 128, 7 },
  };
  static const uint8_t pil_l[] = { 255, 0, 76, 150, 29, 128, 124, 2, 151 };
  const int n = G_N_ELEMENTS (pil_l);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) img = df_image_new (n, 2, 4, &error);
  g_autofree float *mask = NULL;
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "mask.png", NULL);
  g_autofree float *loaded = NULL;
  float *wrong;

  for (int x = 0; x < n; x++)
    {
      memcpy (df_image_pixel (img, x, 0), colours[x], 3);
      memcpy (df_image_pixel (img, x, 1), colours[x], 3);
      df_image_pixel (img, x, 1)[3] = 51; /* alpha 0.2 */
    }
  mask = df_image_to_mask (img);
  for (int x = 0; x < n; x++)
    {
      g_assert_cmpfloat (mask[x], ==, pil_l[x] / 255.0f);
      g_assert_cmpfloat_with_epsilon (mask[n + x], pil_l[x] / 255.0f * 0.2f, 1e-6);
    }

  g_assert_true (df_image_save_png (img, path, NULL, &error));
  loaded = df_mask_load_png (path, n, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (loaded, sizeof (float) * 2 * n, mask, sizeof (float) * 2 * n);

  wrong = df_mask_load_png (path, 8, 8, &error);
  g_assert_null (wrong);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "9×2"));
  g_assert_nonnull (strstr (error->message, "8×8"));
  remove_tree (dir);
}

/* ------------------------------------------------------------------------
 * Resizing and fitting
 * ------------------------------------------------------------------------ */

static int
max_difference (const DfImage *a, const DfImage *b)
{
  int worst = 0;

  g_assert_cmpint (a->width, ==, b->width);
  g_assert_cmpint (a->height, ==, b->height);
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      for (int c = 0; c < 3; c++)
        worst = MAX (worst, abs (df_image_pixel (a, x, y)[c] - df_image_pixel (b, x, y)[c]));
  return worst;
}

static void
test_image_resize_pil (void)
{
  g_autoptr (DfImage) src = load_data ("image/resize-src-11x7.png");
  const char *refs[] = { "image/resize-pil-5x9.png", "image/resize-pil-23x4.png",
                         "image/resize-pil-5x3.png", "image/resize-pil-17x12.png" };

  for (size_t i = 0; i < G_N_ELEMENTS (refs); i++)
    {
      g_autoptr (DfImage) want = load_data (refs[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (DfImage) got = df_image_resize (src, want->width, want->height, &error);
      int diff;

      g_assert_no_error (error);
      diff = max_difference (got, want);
      if (g_test_verbose ())
        g_test_message ("%s: max difference from PIL %d", refs[i], diff);
      /* PIL's coefficients are fixed point, ours float */
      g_assert_cmpint (diff, <=, 1);
    }
}

static void
test_image_resize_properties (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) noise = random_image (13, 9, 3, 9);
  g_autoptr (DfImage) same = df_image_resize (noise, 13, 9, &error);
  g_autoptr (DfImage) flat = df_image_new (10, 6, 4, &error);
  g_autoptr (DfImage) halo = NULL;

  /* the same size is the identity (Lanczos is 0 at non-zero integers) */
  g_assert_no_error (error);
  g_assert_cmpint (max_difference (noise, same), ==, 0);

  /* a flat colour stays flat, up and down (colour within a level: the
   * premultiplied values are rounded between the passes, as in PIL) */
  for (int y = 0; y < 6; y++)
    for (int x = 0; x < 10; x++)
      memcpy (df_image_pixel (flat, x, y), (const uint8_t[]) { 90, 180, 30, 200 }, 4);
  for (int i = 0; i < 3; i++)
    {
      static const int sizes[][2] = { { 3, 2 }, { 31, 17 }, { 1, 1 } };
      g_autoptr (DfImage) r = df_image_resize (flat, sizes[i][0], sizes[i][1], &error);

      g_assert_no_error (error);
      for (int y = 0; y < r->height; y++)
        for (int x = 0; x < r->width; x++)
          {
            const uint8_t *p = df_image_pixel (r, x, y);

            g_assert_cmpint (abs (p[0] - 90), <=, 1);
            g_assert_cmpint (abs (p[1] - 180), <=, 1);
            g_assert_cmpint (abs (p[2] - 30), <=, 1);
            g_assert_cmpuint (p[3], ==, 200);
          }
    }

  /* transparent pixels' colour does not bleed (premultiplied filtering):
   * left half transparent red, right half opaque blue */
  for (int y = 0; y < 6; y++)
    for (int x = 0; x < 10; x++)
      memcpy (df_image_pixel (flat, x, y),
              x < 5 ? (const uint8_t[]) { 255, 0, 0, 0 } : (const uint8_t[]) { 0, 0, 255, 255 },
              4);
  halo = df_image_resize (flat, 7, 3, &error);
  g_assert_no_error (error);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 7; x++)
      if (df_image_pixel (halo, x, y)[3] > 0)
        g_assert_cmpuint (df_image_pixel (halo, x, y)[0], ==, 0);
  g_assert_cmpuint (df_image_pixel (halo, 6, 1)[3], ==, 255);
  g_assert_cmpuint (df_image_pixel (halo, 0, 1)[3], ==, 0);
}

static void
test_image_fit (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) wide = random_image (16, 8, 3, 10);
  g_autoptr (DfImage) crop = df_image_fit (wide, 8, 8, DF_FIT_CROP, &error);
  g_autoptr (DfImage) pad = NULL;
  g_autoptr (DfImage) stretch = NULL;
  g_autoptr (DfImage) direct = NULL;
  g_autoptr (DfImage) bad = NULL;

  /* 16×8 covers 8×8 at scale 1: the centre columns 4..11, untouched */
  g_assert_no_error (error);
  g_assert_cmpint (crop->width, ==, 8);
  g_assert_cmpint (crop->height, ==, 8);
  for (int y = 0; y < 8; y++)
    g_assert_cmpmem (df_image_pixel (crop, 0, y), 8 * 3, df_image_pixel (wide, 4, y), 8 * 3);

  /* fits as 8×4 in rows 2..5; rows above and below repeat the edges */
  pad = df_image_fit (wide, 8, 8, DF_FIT_PAD, &error);
  g_assert_no_error (error);
  direct = df_image_resize (wide, 8, 4, &error);
  for (int y = 0; y < 8; y++)
    g_assert_cmpmem (df_image_pixel (pad, 0, y), 8 * 3, df_image_pixel (direct, 0, CLAMP (y - 2, 0, 3)),
                     8 * 3);

  stretch = df_image_fit (wide, 24, 40, DF_FIT_STRETCH, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stretch->width, ==, 24);
  g_assert_cmpint (stretch->height, ==, 40);

  bad = df_image_crop (wide, 10, 0, 8, 8, &error);
  g_assert_null (bad);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
}

static void
test_image_check_size (void)
{
  static const struct
  {
    int w, h;
    const char *message; /* NULL: accepted */
  } cases[] = {
    { 512, 512, NULL },
    { 8, 16384, NULL },
    { 513, 512, "width 513 is not a multiple of 8 (try 512 or 520)" },
    { 512, 300, "height 300 is not a multiple of 8 (try 296 or 304)" },
    { 0, 512, "width 0 is too small (at least 8)" },
    { 512, 4, "height 4 is too small (at least 8)" },
    { 16392, 512, "width 16392 is too large (at most 16384)" },
    { 512, 16381, "height 16381 is not a multiple of 8 (try 16376 or 16384)" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      gboolean ok = df_image_check_size (cases[i].w, cases[i].h, &error);

      if (cases[i].message == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/image/new", test_image_new);
  g_test_add_func ("/image/load/rgba16", test_image_load_rgba16);
  g_test_add_func ("/image/load/grey16", test_image_load_grey16);
  g_test_add_func ("/image/load/palette", test_image_load_palette);
  g_test_add_func ("/image/load/grey1", test_image_load_grey1);
  g_test_add_func ("/image/load/grey-trns", test_image_load_grey_trns);
  g_test_add_func ("/image/load/interlaced", test_image_load_interlaced);
  g_test_add_func ("/image/save/roundtrip", test_image_save_roundtrip);
  g_test_add_func ("/image/save/replaces", test_image_save_replaces);
  g_test_add_func ("/image/save/no-directory", test_image_save_no_directory);
  g_test_add_func ("/image/save/onto-directory", test_image_save_onto_directory);
  g_test_add_func ("/image/save/read-only", test_image_save_read_only);
  g_test_add_func ("/image/save/disk-full", test_image_save_disk_full);
  g_test_add_func ("/image/refuse/broken", test_image_refuse_broken);
  g_test_add_func ("/image/refuse/too-large", test_image_refuse_too_large);
  g_test_add_func ("/image/planar", test_image_planar);
  g_test_add_func ("/image/mask", test_image_mask);
  g_test_add_func ("/image/resize/pil", test_image_resize_pil);
  g_test_add_func ("/image/resize/properties", test_image_resize_properties);
  g_test_add_func ("/image/fit", test_image_fit);
  g_test_add_func ("/image/check-size", test_image_check_size);
  return g_test_run ();
}
