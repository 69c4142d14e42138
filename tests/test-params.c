/* test-params.c — the web UIs' `parameters` text: writing, reading
 * real-world-looking examples, PNG text chunks (tEXt, iTXt, zTXt, and files
 * written by PIL), sampler names, and the short model hash. */
#include <string.h>

#include <glib/gstdio.h>

#include "df-test.h"

static DfParams *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  DfParams *p = df_params_parse (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (p);
  return p;
}

static DfParams *
full_params (void)
{
  DfParams *p = df_params_new ();

  df_params_set_prompt (p, "a cat wearing a hat, (masterpiece:1.2)\non a sofa");
  df_params_set_negative_prompt (p, "blurry\nlowres, bad hands");
  p->steps = 28;
  df_params_set_sampler (p, "dpmpp_2m_karras");
  p->cfg_scale = 7.5;
  p->seed = 3141592653;
  p->width = 512;
  p->height = 768;
  df_params_set_model (p, "6ce0161689", "v1-5-pruned-emaonly");
  p->denoising_strength = 0.35;
  df_params_add_extra (p, "Lora hashes", "detail: abc123, style: def456");
  df_params_add_extra (p, "Note", "say \"hi\", then \\ leave\nnext line");
  df_params_add_extra (p, "Clip skip", "2");
  df_params_add_extra (p, "Version", "v1.6.0");
  return p;
}

/* ------------------------------------------------------------------------
 * Writing and round trips
 * ------------------------------------------------------------------------ */

static void
test_params_write_format (void)
{
  g_autoptr (DfParams) p = df_params_new ();
  g_autofree char *text = NULL;
  g_autofree char *bare = NULL;

  df_params_set_prompt (p, "a cat");
  df_params_set_negative_prompt (p, "a dog");
  p->steps = 20;
  df_params_set_sampler (p, "euler_a");
  p->cfg_scale = 7;
  p->seed = 1234;
  p->width = 512;
  p->height = 512;
  df_params_set_model (p, "abc123", "name");
  text = df_params_to_text (p);
  g_assert_cmpstr (text, ==,
                   "a cat\nNegative prompt: a dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
                   "Seed: 1234, Size: 512x512, Model hash: abc123, Model: name");

  /* without a negative prompt there is no such line; 0.1 keeps its digits */
  df_params_set_negative_prompt (p, NULL);
  p->cfg_scale = 0.1;
  p->denoising_strength = 0.75;
  df_params_set_model (p, NULL, NULL);
  df_params_add_extra (p, "Lora hashes", "a: 1, b: 2");
  bare = df_params_to_text (p);
  g_assert_cmpstr (bare, ==,
                   "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 0.1, Seed: 1234, "
                   "Size: 512x512, Denoising strength: 0.75, Lora hashes: \"a: 1, b: 2\"");
}

static void
test_params_roundtrip (void)
{
  g_autoptr (DfParams) p = full_params ();
  g_autoptr (DfParams) copy = df_params_copy (p);
  g_autofree char *text = df_params_to_text (p);
  g_autoptr (DfParams) back = parse_ok (text);
  g_autoptr (DfParams) empty = df_params_new ();
  g_autofree char *empty_text = NULL;
  g_autoptr (DfParams) settings_only = NULL;

  if (g_test_verbose ())
    g_test_message ("%s", text);
  g_assert_true (df_params_equal (p, copy));
  g_assert_true (df_params_equal (p, back));
  g_assert_cmpstr (back->sampler, ==, "dpmpp_2m_karras");
  g_assert_cmpstr (df_params_get_extra (back, "Note"), ==, "say \"hi\", then \\ leave\nnext line");

  /* a change is seen by df_params_equal() */
  back->seed++;
  g_assert_false (df_params_equal (p, back));

  /* every number format survives */
  for (int i = 0; i < 5; i++)
    {
      static const double cfgs[] = { 0, 1.0 / 3.0, 12.25, 1e-7, 30 };
      g_autoptr (DfParams) q = df_params_new ();
      g_autofree char *t = NULL;
      g_autoptr (DfParams) r = NULL;

      df_params_set_prompt (q, "x");
      q->steps = 1;
      q->cfg_scale = cfgs[i];
      q->seed = i == 4 ? G_MAXINT64 : 0;
      q->denoising_strength = cfgs[i] / 100;
      t = df_params_to_text (q);
      r = parse_ok (t);
      g_assert_true (df_params_equal (q, r));
    }

  /* settings with no prompt */
  empty->steps = 4;
  df_params_set_sampler (empty, "lcm");
  empty->cfg_scale = 1;
  empty_text = df_params_to_text (empty);
  g_assert_cmpstr (empty_text, ==, "Steps: 4, Sampler: LCM, CFG scale: 1");
  settings_only = parse_ok (empty_text);
  g_assert_true (df_params_equal (empty, settings_only));
}

/* ------------------------------------------------------------------------
 * Reading what the web UIs write
 * ------------------------------------------------------------------------ */

static void
test_params_parse_typical (void)
{
  g_autoptr (DfParams) p = parse_ok (
    "masterpiece, best quality, 1girl, (blue eyes:1.2),\n"
    "looking at viewer, <lora:detail:0.6>\n"
    "Negative prompt: lowres, bad anatomy,\n"
    "worst quality\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 2847563, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.55, "
    "Clip skip: 2, Hires upscale: 2, Hires upscaler: Latent, "
    "Lora hashes: \"detail: 5b3ab3b9b6f2\", TI hashes: \"EasyNegative: c74b4e810b03, "
    "bad-hands: 7ab8c5e3f1aa\", Version: v1.7.0");

  g_assert_cmpstr (p->prompt, ==,
                   "masterpiece, best quality, 1girl, (blue eyes:1.2),\n"
                   "looking at viewer, <lora:detail:0.6>");
  g_assert_cmpstr (p->negative_prompt, ==, "lowres, bad anatomy,\nworst quality");
  g_assert_cmpint (p->steps, ==, 30);
  g_assert_cmpstr (p->sampler, ==, "dpmpp_2m_karras");
  g_assert_cmpfloat (p->cfg_scale, ==, 7.0);
  g_assert_cmpint (p->seed, ==, 2847563);
  g_assert_cmpint (p->width, ==, 512);
  g_assert_cmpint (p->height, ==, 768);
  g_assert_cmpstr (p->model_hash, ==, "6ce0161689");
  g_assert_cmpstr (p->model, ==, "v1-5-pruned-emaonly");
  g_assert_cmpfloat (p->denoising_strength, ==, 0.55);

  /* the unknown keys, in order, unquoted */
  {
    static const char *want[][2] = {
      { "Clip skip", "2" },
      { "Hires upscale", "2" },
      { "Hires upscaler", "Latent" },
      { "Lora hashes", "detail: 5b3ab3b9b6f2" },
      { "TI hashes", "EasyNegative: c74b4e810b03, bad-hands: 7ab8c5e3f1aa" },
      { "Version", "v1.7.0" },
    };

    g_assert_cmpuint (p->extra->len, ==, G_N_ELEMENTS (want));
    for (guint i = 0; i < p->extra->len; i++)
      {
        const DfParamsExtra *e = g_ptr_array_index (p->extra, i);

        g_assert_cmpstr (e->key, ==, want[i][0]);
        g_assert_cmpstr (e->value, ==, want[i][1]);
      }
  }
}

static void
test_params_parse_variants (void)
{
  /* no negative prompt; Windows line endings; escaped quotes */
  {
    g_autoptr (DfParams) p = parse_ok (
      "a red fox\r\nin the snow\r\n"
      "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 640x448, "
      "Prompt note: \"he said \\\"run, fox\\\"\"\r\n");

    g_assert_cmpstr (p->prompt, ==, "a red fox\nin the snow");
    g_assert_cmpstr (p->negative_prompt, ==, "");
    g_assert_cmpstr (p->sampler, ==, "euler_a");
    g_assert_cmpint (p->width, ==, 640);
    g_assert_cmpint (p->height, ==, 448);
    g_assert_cmpstr (df_params_get_extra (p, "Prompt note"), ==, "he said \"run, fox\"");
    g_assert_null (p->model_hash);
    g_assert_cmpfloat (p->denoising_strength, <, 0);
  }
  /* the newer UIs' schedule type, folded into our sampler name */
  {
    g_autoptr (DfParams) p = parse_ok (
      "x\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 5");

    g_assert_cmpstr (p->sampler, ==, "dpmpp_2m_karras");
    g_assert_cmpuint (p->extra->len, ==, 0);
  }
  /* a schedule type we have no sampler for stays an extra */
  {
    g_autoptr (DfParams) p = parse_ok (
      "x\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Exponential, CFG scale: 7, Seed: 5");

    g_assert_cmpstr (p->sampler, ==, "dpmpp_2m");
    g_assert_cmpstr (df_params_get_extra (p, "Schedule type"), ==, "Exponential");
  }
  /* a sampler we lack keeps its web UI name; a bad number stays an extra */
  {
    g_autoptr (DfParams) p = parse_ok (
      "x\nSteps: many, Sampler: DPM++ SDE Karras, CFG scale: 7, Seed: -1");

    g_assert_cmpstr (p->sampler, ==, "DPM++ SDE Karras");
    g_assert_cmpint (p->steps, ==, 0);
    g_assert_cmpstr (df_params_get_extra (p, "Steps"), ==, "many");
    g_assert_cmpint (p->seed, <, 0);
    g_assert_cmpstr (df_params_get_extra (p, "Seed"), ==, "-1");
  }
  /* a prompt alone; a last line with colons but not settings */
  {
    g_autoptr (DfParams) p = parse_ok ("  a castle\nstyle: gothic, mood: dark  \n");

    g_assert_cmpstr (p->prompt, ==, "a castle\nstyle: gothic, mood: dark");
    g_assert_cmpint (p->steps, ==, 0);
    g_assert_null (p->sampler);
  }
  /* a negative prompt and no settings; an empty negative prompt line */
  {
    g_autoptr (DfParams) p = parse_ok ("sky\nNegative prompt: clouds\nrain");
    g_autoptr (DfParams) q = parse_ok ("sky\nNegative prompt:\nSteps: 3, Seed: 9, Size: 64x64");

    g_assert_cmpstr (p->prompt, ==, "sky");
    g_assert_cmpstr (p->negative_prompt, ==, "clouds\nrain");
    g_assert_cmpstr (q->prompt, ==, "sky");
    g_assert_cmpstr (q->negative_prompt, ==, "");
    g_assert_cmpint (q->steps, ==, 3);
    g_assert_cmpint (q->width, ==, 64);
  }
  /* a short settings line: only pairs, one of them known */
  {
    g_autoptr (DfParams) p = parse_ok ("x\nSampler: Euler, Seed: 3");
    g_autoptr (DfParams) q = parse_ok ("x\nstyle: gothic, Seed: 3, oops");

    g_assert_cmpstr (p->prompt, ==, "x");
    g_assert_cmpstr (p->sampler, ==, "euler");
    g_assert_cmpint (p->seed, ==, 3);
    g_assert_cmpstr (q->prompt, ==, "x\nstyle: gothic, Seed: 3, oops");
    g_assert_cmpint (q->seed, <, 0);
  }
  /* blank lines before the negative prompt are layout */
  {
    g_autoptr (DfParams) p = parse_ok ("a cat\n\nNegative prompt:\n");
    g_autofree char *text = df_params_to_text (p);

    g_assert_cmpstr (p->prompt, ==, "a cat");
    g_assert_cmpstr (text, ==, "a cat");
  }
  /* a settings line that is only "Steps:" and a stray text segment */
  {
    g_autoptr (DfParams) p = parse_ok ("y\nSteps: 12, oops, Seed: 77");

    g_assert_cmpint (p->steps, ==, 12);
    g_assert_cmpint (p->seed, ==, 77);
    g_assert_cmpuint (p->extra->len, ==, 0);
  }
}

static void
test_params_parse_garbage (void)
{
  static const char *bad[] = {
    "",
    " \n\r\n\t",
    "\x01\x02\x03binary\x7f",
    "PK\x03\x04\x14",
    "caf\xe9 in Latin-1, not UTF-8",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (DfParams) p = df_params_parse (bad[i], &error);

      g_assert_null (p);
      g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_params_samplers (void)
{
  static const char *ours[] = { "euler", "euler_a", "heun", "ddim",
                                "lms", "dpmpp_2m", "dpmpp_2m_karras", "lcm" };

  for (size_t i = 0; i < G_N_ELEMENTS (ours); i++)
    {
      const char *webui = df_sampler_to_webui (ours[i]);
      g_autofree char *upper = g_ascii_strup (webui, -1);

      g_assert_nonnull (webui);
      g_assert_cmpstr (df_sampler_from_webui (webui, NULL), ==, ours[i]);
      g_assert_cmpstr (df_sampler_from_webui (upper, NULL), ==, ours[i]);
    }
  g_assert_cmpstr (df_sampler_to_webui ("euler_a"), ==, "Euler a");
  g_assert_cmpstr (df_sampler_to_webui ("dpmpp_2m_karras"), ==, "DPM++ 2M Karras");
  g_assert_cmpstr (df_sampler_from_webui ("DPM++ 2M", "Karras"), ==, "dpmpp_2m_karras");
  g_assert_cmpstr (df_sampler_from_webui ("DPM++ 2M", "Automatic"), ==, "dpmpp_2m");
  g_assert_null (df_sampler_from_webui ("Euler", "Karras"));
  g_assert_null (df_sampler_from_webui ("UniPC", NULL));
  g_assert_null (df_sampler_to_webui ("unipc"));
}

/* ------------------------------------------------------------------------
 * PNG text chunks
 * ------------------------------------------------------------------------ */

/* The types of a PNG's chunks, in order, space separated. */
static char *
chunk_types (const char *path)
{
  g_autofree guint8 *data = NULL;
  g_autoptr (GString) s = g_string_new (NULL);
  gsize len, pos = 8;

  g_assert_true (g_file_get_contents (path, (char **) &data, &len, NULL));
  while (pos + 12 <= len)
    {
      guint32 n = (guint32) data[pos] << 24 | data[pos + 1] << 16 | data[pos + 2] << 8
                  | data[pos + 3];

      g_string_append_printf (s, "%s%.4s", s->len ? " " : "", data + pos + 4);
      pos += 12 + (gsize) n;
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
test_params_png_pil (void)
{
  g_autofree char *text_path = df_test_data_path ("image/params-pil-text.png");
  g_autofree char *itxt_path = df_test_data_path ("image/params-pil-itxt.png");
  g_autofree char *ztxt_path = df_test_data_path ("image/params-pil-ztxt.png");
  g_autoptr (GError) error = NULL;
  g_autoptr (DfParams) a = df_params_load_png (text_path, &error);
  g_autoptr (DfParams) b = NULL;
  g_autoptr (DfParams) c = NULL;
  g_autoptr (DfImage) img = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (a->prompt, ==, "a café by the sea, golden hour,\nhighly detailed");
  g_assert_cmpstr (a->negative_prompt, ==, "blurry, lowres");
  g_assert_cmpint (a->steps, ==, 20);
  g_assert_cmpstr (a->sampler, ==, "dpmpp_2m_karras");
  g_assert_cmpfloat (a->cfg_scale, ==, 7.5);
  g_assert_cmpint (a->seed, ==, 1234);
  g_assert_cmpint (a->width, ==, 512);
  g_assert_cmpint (a->height, ==, 768);
  g_assert_cmpstr (a->model_hash, ==, "6ce0161689");
  g_assert_cmpstr (a->model, ==, "v1-5-pruned-emaonly");
  g_assert_cmpfloat (a->denoising_strength, ==, 0.6);
  g_assert_cmpstr (df_params_get_extra (a, "Lora hashes"), ==, "detail: abc123, style: def456");
  g_assert_cmpstr (df_params_get_extra (a, "Version"), ==, "v1.6.0");

  b = df_params_load_png (itxt_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (b->prompt, ==, "富士山と桜, watercolour");
  g_assert_cmpstr (b->sampler, ==, "euler_a");
  g_assert_cmpint (b->seed, ==, 42);

  c = df_params_load_png (ztxt_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->prompt, ==, "a lighthouse");
  g_assert_cmpstr (c->sampler, ==, "dpmpp_2m_karras");
  g_assert_cmpint (c->seed, ==, 4294967295);
  g_assert_cmpint (c->width, ==, 640);

  /* the pixels of the same files load too */
  img = df_image_load_png (text_path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (df_image_pixel (img, 3, 3), 4, ((const uint8_t[]) { 200, 100, 50, 255 }), 4);
}

static void
test_params_png_roundtrip (void)
{
  g_autofree char *dir = g_dir_make_tmp ("diffuse-params-XXXXXX", NULL);
  g_autofree char *latin1 = g_build_filename (dir, "latin1.png", NULL);
  g_autofree char *unicode = g_build_filename (dir, "unicode.png", NULL);
  g_autofree char *plain = g_build_filename (dir, "plain.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfImage) img = df_image_new (11, 7, 3, &error);
  g_autoptr (DfParams) p = full_params ();
  g_autoptr (DfParams) q = full_params ();
  g_autoptr (DfParams) back = NULL;
  g_autofree char *types = NULL;
  g_autofree char *text = NULL;
  g_autofree char *none = NULL;

  /* Latin-1 text goes in tEXt, before the image data */
  df_params_set_prompt (p, "crème brûlée, 50°, ±1");
  g_assert_true (df_image_save_png (img, latin1, p, &error));
  g_assert_no_error (error);
  types = chunk_types (latin1);
  g_assert_cmpstr (types, ==, "IHDR tEXt IDAT IEND");
  back = df_params_load_png (latin1, &error);
  g_assert_no_error (error);
  g_assert_true (df_params_equal (p, back));
  g_clear_pointer (&back, df_params_free);
  g_clear_pointer (&types, g_free);

  /* anything else in iTXt, UTF-8 */
  df_params_set_prompt (q, "猫と帽子 🐈, €5");
  g_assert_true (df_image_save_png (img, unicode, q, &error));
  types = chunk_types (unicode);
  g_assert_cmpstr (types, ==, "IHDR iTXt IDAT IEND");
  back = df_params_load_png (unicode, &error);
  g_assert_no_error (error);
  g_assert_true (df_params_equal (q, back));
  text = df_png_read_parameters (unicode, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (text, "猫と帽子 🐈, €5\n"));

  /* no parameters: a clear error */
  g_assert_true (df_image_save_png (img, plain, NULL, &error));
  none = df_png_read_parameters (plain, &error);
  g_assert_null (none);
  g_assert_error (error, DF_ERROR, DF_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "plain.png"));

  g_unlink (latin1);
  g_unlink (unicode);
  g_unlink (plain);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------------
 * Model hash
 * ------------------------------------------------------------------------ */

static void
test_params_model_hash (void)
{
  g_autofree char *dir = g_dir_make_tmp ("diffuse-hash-XXXXXX", NULL);
  g_autofree char *small = g_build_filename (dir, "abc", NULL);
  g_autofree char *big = g_build_filename (dir, "big.safetensors", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  /* 3 MiB + 123 bytes, so the stream crosses several read chunks */
  const gsize n = 3 * 1024 * 1024 + 123;
  g_autofree guint8 *data = g_malloc (n);
  g_autoptr (GError) error = NULL;
  g_autofree char *h_small = NULL;
  g_autofree char *h_big = NULL;
  g_autofree char *h_missing = NULL;

  for (gsize i = 0; i < n; i++)
    data[i] = (guint8) ((i * 31 + (i >> 12)) % 251);
  g_assert_true (g_file_set_contents (small, "abc", 3, NULL));
  g_assert_true (g_file_set_contents (big, (const char *) data, (gssize) n, NULL));

  /* expected values from sha256sum(1) on the same bytes */
  h_small = df_model_hash (small, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h_small, ==, "ba7816bf8f");
  h_big = df_model_hash (big, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h_big, ==, "b3591a19d7");

  h_missing = df_model_hash (missing, &error);
  g_assert_null (h_missing);
  g_assert_error (error, DF_ERROR, DF_ERROR_IO);
  g_assert_nonnull (strstr (error->message, missing));

  g_unlink (small);
  g_unlink (big);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/params/write-format", test_params_write_format);
  g_test_add_func ("/params/roundtrip", test_params_roundtrip);
  g_test_add_func ("/params/parse/typical", test_params_parse_typical);
  g_test_add_func ("/params/parse/variants", test_params_parse_variants);
  g_test_add_func ("/params/parse/garbage", test_params_parse_garbage);
  g_test_add_func ("/params/samplers", test_params_samplers);
  g_test_add_func ("/params/png/pil", test_params_png_pil);
  g_test_add_func ("/params/png/roundtrip", test_params_png_roundtrip);
  g_test_add_func ("/params/model-hash", test_params_model_hash);
  return g_test_run ();
}
