/* test-cli-generate.c — `diffuse-cli generate` and `diffuse-cli bench` as a
 * user runs them, on the tiny SD 1.x model (16×16 pixels, an 8×8 latent)
 * with the tiny tokenizer: pictures with their parameters, batches,
 * previews, img2img, inpainting, outpainting, and every refusal with exit
 * status 1 and one line on stderr. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#include "df-test.h"

typedef struct
{
  int status;
  char *out;
  char *err;
} Result;

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Result, result_clear)

/* Runs diffuse-cli with a NULL-terminated list of arguments. */
static void
run_cli (Result *r, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  const char *arg;
  int wait_status;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) g_getenv ("DIFFUSE_CLI"));
  va_start (ap, r);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r->out, &r->err, &wait_status, &error));
  g_assert_no_error (error);
  r->status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
}

/* Exit status 1 and exactly one line "diffuse-cli: …" holding @needle. */
static void
assert_refused (const Result *r, const char *needle)
{
  if (r->status != 1 || !g_str_has_prefix (r->err, "diffuse-cli: ")
      || strchr (r->err, '\n') != r->err + strlen (r->err) - 1 || strstr (r->err, needle) == NULL)
    g_error ("expected a one-line refusal with “%s”, got status %d and stderr “%s”", needle,
             r->status, r->err);
}

static char *tmpdir;
static char *model;
static char *vocab;
static char *init_png;
static char *mask_png;

static void
test_txt2img_batch (void)
{
  g_auto (Result) r = { 0 };
  g_autofree char *out = g_build_filename (tmpdir, "cat.png", NULL);
  g_autofree char *out1 = g_build_filename (tmpdir, "cat-1.png", NULL);
  g_autofree char *out2 = g_build_filename (tmpdir, "cat-2.png", NULL);
  g_autofree char *previews = g_build_filename (tmpdir, "previews", NULL);
  g_autofree char *preview = g_build_filename (previews, "preview-2-002.png", NULL);
  g_autoptr (DfParams) p1 = NULL;
  g_autoptr (DfParams) p2 = NULL;
  g_autoptr (DfImage) img = NULL;
  g_autoptr (GError) error = NULL;

  run_cli (&r, "generate", "--model", model, "--vocab", vocab, "--prompt", "a photo of a cat",
           "--negative", "blurry", "--steps", "2", "--cfg", "5", "--sampler", "euler",
           "--seed", "3", "--width", "16", "--height", "16", "--batch", "2", "--preview-dir",
           previews, "--out", out, NULL);
  g_assert_cmpint (r.status, ==, 0);
  /* not a terminal: one plain line per report */
  g_assert_nonnull (strstr (r.err, "image 2/2, step 2/2"));
  g_assert_null (strchr (r.err, '\r'));
  g_assert_true (g_file_test (out1, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));

  p1 = df_params_load_png (out1, &error);
  g_assert_no_error (error);
  p2 = df_params_load_png (out2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p1->prompt, ==, "a photo of a cat");
  g_assert_cmpstr (p1->negative_prompt, ==, "blurry");
  g_assert_cmpint (p1->steps, ==, 2);
  g_assert_cmpstr (p1->sampler, ==, "euler");
  g_assert_cmpfloat (p1->cfg_scale, ==, 5.0);
  g_assert_cmpint (p1->seed, ==, 3);
  g_assert_cmpint (p2->seed, ==, 4);
  g_assert_cmpint (p1->width, ==, 16);
  g_assert_cmpstr (p1->model, ==, "sd1");

  /* the previews are latent-sized (the tiny VAE halves: 8×8) */
  img = df_image_load_png (preview, &error);
  g_assert_no_error (error);
  g_assert_cmpint (img->width, ==, 8);
}

static void
test_init_modes (void)
{
  g_autofree char *out = g_build_filename (tmpdir, "edit.png", NULL);
  g_autoptr (GError) error = NULL;

  /* img2img at the init picture's size */
  {
    g_auto (Result) r = { 0 };
    g_autoptr (DfParams) p = NULL;

    run_cli (&r, "generate", "--model", model, "--vocab", vocab, "--prompt", "a cat", "--steps",
             "2", "--init", init_png, "--strength", "0.5", "--out", out, NULL);
    g_assert_cmpint (r.status, ==, 0);
    p = df_params_load_png (out, &error);
    g_assert_no_error (error);
    g_assert_cmpfloat (p->denoising_strength, ==, 0.5);
    g_assert_cmpint (p->width, ==, 16);
  }
  /* inpainting */
  {
    g_auto (Result) r = { 0 };

    run_cli (&r, "generate", "--model", model, "--vocab", vocab, "--prompt", "a cat", "--steps",
             "2", "--init", init_png, "--mask", mask_png, "--strength", "1", "--mask-blur", "1",
             "--out", out, NULL);
    g_assert_cmpint (r.status, ==, 0);
  }
  /* outpainting 16 px to the right: a 32×16 picture */
  {
    g_auto (Result) r = { 0 };
    g_autoptr (DfImage) img = NULL;

    run_cli (&r, "generate", "--model", model, "--vocab", vocab, "--prompt", "a cat", "--steps",
             "2", "--init", init_png, "--outpaint", "0,0,16,0", "--strength", "1", "--out", out,
             NULL);
    g_assert_cmpint (r.status, ==, 0);
    img = df_image_load_png (out, &error);
    g_assert_no_error (error);
    g_assert_cmpint (img->width, ==, 32);
    g_assert_cmpint (img->height, ==, 16);
  }
}

static void
test_refusals (void)
{
  g_autofree char *out = g_build_filename (tmpdir, "never.png", NULL);
  g_autofree char *missing = g_build_filename (tmpdir, "no-such-model.safetensors", NULL);
  g_autofree char *not_model = df_test_data_path ("pipeline");
  g_autofree char *not_png = df_test_data_path ("pipeline/tokenizer/vocab.json");
  g_autofree char *small_mask = g_build_filename (tmpdir, "small-mask.png", NULL);
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (DfImage) m = df_image_new (8, 8, 3, &error);
    g_assert_true (df_image_save_png (m, small_mask, NULL, &error));
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", missing, "--prompt", "x", "--width", "16", "--height",
             "16", "--out", out, NULL);
    assert_refused (&r, "no-such-model");
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", not_model, "--prompt", "x", "--width", "16", "--height",
             "16", "--out", out, NULL);
    assert_refused (&r, "pipeline");
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", model, "--vocab", vocab, "--prompt", "x", "--width", "20",
             "--height", "16", "--out", out, NULL);
    assert_refused (&r, "multiple of 8");
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", model, "--vocab", vocab, "--prompt", "x", "--init",
             not_png, "--out", out, NULL);
    assert_refused (&r, "vocab.json");
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", model, "--vocab", vocab, "--prompt", "x", "--init",
             init_png, "--mask", small_mask, "--out", out, NULL);
    assert_refused (&r, "8×8");
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", model, "--prompt", "x", "--sampler", "bogus", "--out",
             out, NULL);
    assert_refused (&r, "bogus");
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", model, "--prompt", "x", "--init", init_png,
             "--outpaint", "1,2,3", "--out", out, NULL);
    assert_refused (&r, "1,2,3");
  }
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", model, "--prompt", "x", "--mask", mask_png, "--out", out,
             NULL);
    assert_refused (&r, "--init");
  }
  /* a usage error: status 2 */
  {
    g_auto (Result) r = { 0 };
    run_cli (&r, "generate", "--model", model, "--prompt", "x", NULL);
    g_assert_cmpint (r.status, ==, 2);
  }
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

static void
test_bench (void)
{
  g_auto (Result) r = { 0 };
  const char *keys[] = { "load_s: ", "clip_s: ", "unet_step_s: ", "vae_decode_s: ", "total_s: ",
                         "peak_device_mib: ", "op.conv2d_" };

  run_cli (&r, "bench", "--model", model, "--width", "16", "--height", "16", "--steps", "2",
           NULL);
  g_assert_cmpint (r.status, ==, 0);
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *at = strstr (r.out, keys[i]);

      if (at == NULL || (i < 6 && g_ascii_strtod (at + strlen (keys[i]), NULL) <= 0))
        g_error ("bench output lacks a positive “%s”:\n%s", keys[i], r.out);
    }

  {
    g_auto (Result) j = { 0 };
    run_cli (&j, "bench", "--model", model, "--width", "16", "--height", "16", "--steps", "1",
             "--json", NULL);
    g_assert_cmpint (j.status, ==, 0);
    g_assert_true (g_str_has_prefix (j.out, "{\"load_s\": "));
    g_assert_nonnull (strstr (j.out, "\"ops_ms\": {"));
  }
  {
    /* records without running: memory peaks and the recording time */
    g_auto (Result) m = { 0 };
    const char *mem_keys[] = { "mem_unet_peak_mib: ", "unet_record_ms: ", "peak_device_mib: " };

    run_cli (&m, "bench", "--model", model, "--width", "16", "--height", "16", "--memory-only",
             NULL);
    g_assert_cmpint (m.status, ==, 0);
    g_assert_null (strstr (m.out, "unet_step_s"));
    for (size_t i = 0; i < G_N_ELEMENTS (mem_keys); i++)
      {
        const char *at = strstr (m.out, mem_keys[i]);

        if (at == NULL || g_ascii_strtod (at + strlen (mem_keys[i]), NULL) <= 0)
          g_error ("bench --memory-only output lacks a positive “%s”:\n%s", mem_keys[i], m.out);
      }
  }
  {
    g_auto (Result) bad = { 0 };
    run_cli (&bad, "bench", NULL);
    g_assert_cmpint (bad.status, ==, 2);
  }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("diffuse-cli-generate-XXXXXX", &error);
  g_assert_no_error (error);
  model = df_test_data_path ("tiny/sd1");
  vocab = df_test_data_path ("pipeline/tokenizer");
  init_png = df_test_data_path ("pipeline/init.png");
  mask_png = df_test_data_path ("pipeline/mask.png");
  g_test_add_func ("/cli-generate/txt2img-batch", test_txt2img_batch);
  g_test_add_func ("/cli-generate/init-modes", test_init_modes);
  g_test_add_func ("/cli-generate/refusals", test_refusals);
  g_test_add_func ("/cli-generate/bench", test_bench);
  ret = g_test_run ();
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
    g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  }
  g_free (tmpdir);
  g_free (model);
  g_free (vocab);
  g_free (init_png);
  g_free (mask_png);
  return ret;
}
