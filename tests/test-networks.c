/* test-networks.c — the CLIP text encoder, the UNet and the VAE against
 * diffusers / transformers on tiny random-weight models
 * (tests/data/tiny/<name>, made by tests/reference/make_network_golden.py):
 * SD 1.x-like, inpainting-like (9 input channels) and SD 2.x-like (GELU
 * text encoder, linear projections, per-block head counts), each in the
 * fp32 path (tolerance 1e-3 of the output's scale) and the fp16 path
 * (1e-2). */
#include <math.h>
#include <string.h>

#include "df-networks.h"
#include "df-test.h"

typedef struct
{
  const char *model;
  DfDType dtype;
} Case;

static double
tolerance (DfDType dtype)
{
  return dtype == DF_DTYPE_F16 ? 1e-2 : 1e-3;
}

/* What every test of one case opens: the model, its golden tensors and a
 * command buffer to record into. */
typedef struct
{
  DfContext *ctx;
  DfDType dtype;
  DfModel *model;
  DfSafetensors *golden;
  DfCmd *cmd;
} Fixture;

static void
fixture_open (Fixture *f, const Case *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_strdup_printf ("%s/tiny/%s", g_getenv ("DIFFUSE_TEST_DATA"), c->model);
  g_autofree char *golden = g_build_filename (dir, "golden.safetensors", NULL);

  f->ctx = df_test_context ();
  f->dtype = c->dtype;
  f->model = df_model_open_full (dir, DF_MODEL_OPEN_ANY_SIZE, &error);
  g_assert_no_error (error);
  f->golden = df_safetensors_open (golden, &error);
  g_assert_no_error (error);
  f->cmd = df_cmd_new (f->ctx, &error);
  g_assert_no_error (error);
}

static void
fixture_close (Fixture *f)
{
  g_clear_pointer (&f->cmd, df_cmd_free);
  g_clear_pointer (&f->model, df_model_free);
  g_clear_pointer (&f->golden, df_safetensors_free);
}

/* A golden tensor as fp32 host data; its shape into shape/ndim. */
static float *
golden (Fixture *f, const char *name, int *ndim, int64_t *shape)
{
  return df_test_read_tensor (f->golden, name, ndim, shape);
}

static void
test_clip (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  Fixture f = { 0 };
  g_autoptr (DfClip) clip = NULL;
  DfCmd *cmd;
  int ndim;
  int64_t shape[4];
  g_autofree float *ids_f = NULL;
  g_autofree uint32_t *ids = NULL;
  g_autofree float *want_last = NULL;
  g_autofree float *want_skip = NULL;
  g_autofree float *got = NULL;
  int64_t n;

  fixture_open (&f, c);
  cmd = f.cmd;
  clip = df_clip_new (f.ctx, f.model, c->dtype, &error);
  g_assert_no_error (error);

  ids_f = golden (&f, "clip.ids", &ndim, shape);
  g_assert_cmpint (shape[1], ==, 77);
  ids = g_new (uint32_t, shape[0] * 77);
  for (int64_t i = 0; i < shape[0] * 77; i++)
    ids[i] = (uint32_t) ids_f[i];
  want_last = golden (&f, "clip.last", &ndim, shape);
  want_skip = golden (&f, "clip.skip1", NULL, NULL);
  n = shape[0] * shape[1] * shape[2];
  got = g_new (float, n);

  /* two chunks of 77 = the golden batch of 2 */
  g_assert_true (df_clip_encode (clip, cmd, ids, NULL, 2, 0, got, &error));
  g_assert_no_error (error);
  df_test_assert_close (got, want_last, n, tolerance (c->dtype));

  g_assert_true (df_clip_encode (clip, cmd, ids, NULL, 2, 1, got, &error));
  g_assert_no_error (error);
  df_test_assert_close (got, want_skip, n, tolerance (c->dtype));

  /* weights of 1 change nothing; others change only what they should */
  {
    g_autofree float *w = g_new (float, 2 * 77);
    g_autofree float *weighted = g_new (float, n);
    for (int i = 0; i < 2 * 77; i++)
      w[i] = 1.0f;
    g_assert_true (df_clip_encode (clip, cmd, ids, w, 2, 1, weighted, &error));
    g_assert_cmpmem (weighted, n * sizeof (float), got, n * sizeof (float));
    w[5] = 1.5f;
    g_assert_true (df_clip_encode (clip, cmd, ids, w, 2, 1, weighted, &error));
    g_assert_no_error (error);
    /* chunk 2 is untouched; chunk 1's token 5 grew relative to token 4 */
    g_assert_cmpmem (weighted + n / 2, (n / 2) * sizeof (float), got + n / 2,
                     (n / 2) * sizeof (float));
    {
      int64_t width = shape[2];
      double ratio4 = weighted[4 * width] / got[4 * width];
      double ratio5 = weighted[5 * width] / got[5 * width];
      g_assert_cmpfloat (fabs (ratio5 / ratio4 - 1.5), <, 1e-3);
    }
  }

  /* a clip skip that leaves no layer is refused */
  g_assert_false (df_clip_encode (clip, cmd, ids, NULL, 2, 99, got, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  fixture_close (&f);
}

static DfTensor *
upload_golden (Fixture *f, DfDType dtype, const char *name)
{
  return df_test_upload_tensor (f->ctx, f->golden, dtype, name);
}

/* An output tensor of the case's dtype shaped like the golden tensor
 * @name, whose data goes into *want. */
static DfTensor *
golden_output (Fixture *f, const char *name, float **want)
{
  return df_test_tensor_like (f->ctx, f->golden, f->dtype, name, want);
}

/* Runs what the fixture's command recorded and compares @out with @want
 * to the case's tolerance. */
static void
submit_and_compare (Fixture *f, const DfTensor *out, const float *want)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *got = NULL;

  g_assert_true (df_cmd_submit_wait (f->cmd, &error));
  got = df_test_download (out);
  df_test_assert_close (got, want, df_tensor_numel (out), tolerance (f->dtype));
}

static void
test_unet (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  Fixture f = { 0 };
  g_autoptr (DfUNet) unet = NULL;
  g_autoptr (DfTensor) sample = NULL;
  g_autoptr (DfTensor) t = NULL;
  g_autoptr (DfTensor) context = NULL;
  g_autoptr (DfTensor) out = NULL;
  g_autofree float *want = NULL;

  fixture_open (&f, c);
  unet = df_unet_new (f.ctx, f.model, c->dtype, &error);
  g_assert_no_error (error);
  sample = upload_golden (&f, c->dtype, "unet.sample");
  t = upload_golden (&f, DF_DTYPE_F32, "unet.timestep");
  context = upload_golden (&f, c->dtype, "unet.context");
  out = golden_output (&f, "unet.out", &want);

  g_assert_true (df_unet_forward (unet, f.cmd, out, sample, t, context, &error));
  g_assert_no_error (error);
  submit_and_compare (&f, out, want);

  /* as the pipeline runs it: the cross-attentions' keys and values once,
   * then a recorded step submitted twice, out cleared in between */
  {
    g_autoptr (DfCmd) prep = df_cmd_new (f.ctx, &error);
    g_autoptr (DfUNetText) text = df_unet_text_new (unet, prep, context, &error);
    g_autoptr (DfCmd) step = df_cmd_new_replayable (f.ctx, &error);

    g_assert_no_error (error);
    g_assert_true (df_cmd_submit_wait (prep, &error));
    g_assert_true (df_unet_forward_text (unet, step, out, sample, t, text, &error));
    for (int i = 0; i < 2; i++)
      {
        g_autofree float *got = NULL;

        g_assert_true (df_op_fill (f.cmd, out, NAN, &error));
        g_assert_true (df_cmd_submit_wait (f.cmd, &error));
        g_assert_true (df_cmd_submit_wait (step, &error));
        g_assert_no_error (error);
        got = df_test_download (out);
        df_test_assert_close (got, want, df_tensor_numel (out), tolerance (f.dtype));
      }
  }

  /* what a step records: the text's keys and values are not in it (they
   * and the step add up to df_unet_forward), and the fusions hold — no
   * permute (transformers read tokens from the group norm and store
   * proj_out channels first), no separate add (residuals and the time
   * embedding are in epilogues) and, on the shared-memory and
   * cooperative-matrix kernels, no GEGLU pass */
  {
    g_autoptr (DfCmd) prep = df_cmd_new (f.ctx, &error);
    g_autoptr (DfUNetText) text = df_unet_text_new (unet, prep, context, &error);
    g_autoptr (DfCmd) step = df_cmd_new (f.ctx, &error);
    g_autoptr (DfCmd) whole = df_cmd_new (f.ctx, &error);
    const char *force = g_getenv ("DIFFUSE_KERNELS");
    gboolean gpu = g_strcmp0 (force, "gpu") == 0 || g_strcmp0 (force, "coop") == 0
                   || (force == NULL && df_context_get_info (f.ctx)->type != DF_DEVICE_CPU);
    guint n_text = df_cmd_get_dispatches (prep, NULL);

    g_assert_no_error (error);
    g_assert_cmpuint (n_text, >, 0);
    g_assert_true (df_unet_forward (unet, whole, out, sample, t, context, &error));
    g_assert_true (df_cmd_submit_wait (prep, &error));
    df_cmd_set_profiling (step, df_context_get_info (f.ctx)->timestamp_period_ns > 0);
    g_assert_true (df_unet_forward_text (unet, step, out, sample, t, text, &error));
    g_assert_cmpuint (df_cmd_get_dispatches (step, NULL) + n_text, ==,
                      df_cmd_get_dispatches (whole, NULL));
    g_assert_true (df_cmd_submit_wait (step, &error));
    g_assert_no_error (error);
    if (df_context_get_info (f.ctx)->timestamp_period_ns > 0)
      {
        GHashTable *profile = df_cmd_get_profile (step);
        GHashTableIter it;
        gpointer name;

        g_assert_cmpuint (g_hash_table_size (profile), >, 0);
        g_hash_table_iter_init (&it, profile);
        while (g_hash_table_iter_next (&it, &name, NULL))
          if (g_str_has_prefix (name, "permute_") || g_str_has_prefix (name, "binary_")
              || (gpu && g_str_has_prefix (name, "geglu_")))
            g_error ("a UNet step recorded %s (DIFFUSE_KERNELS=%s)", (const char *) name, force);
      }
  }

  /* a sample of the wrong channel count is refused, and a text context of
   * another batch */
  {
    g_autoptr (DfTensor) bad = df_tensor_new4 (f.ctx, c->dtype, 2, 3, 6, 8, &error);
    g_assert_false (df_unet_forward (unet, f.cmd, out, bad, t, context, &error));
    g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
  {
    g_autoptr (DfCmd) prep = df_cmd_new (f.ctx, &error);
    g_autoptr (DfTensor) one = df_tensor_new4 (f.ctx, c->dtype, 1, context->shape[1],
                                               context->shape[2], 0, &error);
    g_autoptr (DfUNetText) text = df_unet_text_new (unet, prep, one, &error);

    g_assert_no_error (error);
    g_assert_false (df_unet_forward_text (unet, f.cmd, out, sample, t, text, &error));
    g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  }
  fixture_close (&f);
}

/* df_vae_decode and df_vae_encode */
typedef gboolean (*VaeFunc) (DfVae *vae, DfCmd *cmd, DfTensor *out, const DfTensor *in,
                             GError **error);

/* Runs @func on the golden tensor @in_name and compares its output with
 * the golden tensor @out_name. */
static void
check_vae (Fixture *f, DfVae *vae, VaeFunc func, const char *in_name, const char *out_name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfTensor) in = upload_golden (f, f->dtype, in_name);
  g_autofree float *want = NULL;
  g_autoptr (DfTensor) out = golden_output (f, out_name, &want);

  g_assert_true (func (vae, f->cmd, out, in, &error));
  g_assert_no_error (error);
  submit_and_compare (f, out, want);
}

static void
test_vae (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  Fixture f = { 0 };
  g_autoptr (DfVae) vae = NULL;

  fixture_open (&f, c);
  vae = df_vae_new (f.ctx, f.model, c->dtype, &error);
  g_assert_no_error (error);
  check_vae (&f, vae, df_vae_decode, "vae.latent", "vae.decoded");
  check_vae (&f, vae, df_vae_encode, "vae.image", "vae.moments");
  fixture_close (&f);
}

/* The UNet with its feed-forwards run in chunks of 16 rows (views of their
 * input and output, as for SD at 1024² on a 128 MiB binding limit): the
 * same output. */
static void
test_unet_chunked (gconstpointer data)
{
  g_setenv ("DIFFUSE_TEST_CHUNK_ROWS", "16", TRUE);
  test_unet (data);
  g_unsetenv ("DIFFUSE_TEST_CHUNK_ROWS");
}

/* Tiled decode: one tile covering everything is the plain decode; several
 * overlapping tiles show no seam: the step between neighbouring pixels
 * across the blended boundary is no larger than elsewhere.  (Tiles are not
 * compared with the whole decode: group norms see per-tile statistics,
 * which on these random-weight models moves values a lot.) */
static void
test_vae_tiled (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  Fixture f = { 0 };
  g_autoptr (DfVae) vae = NULL;
  DfContext *ctx;
  DfCmd *cmd;
  g_autofree float *latent = NULL;
  g_autofree float *want = NULL;
  g_autofree float *whole = NULL;
  g_autofree float *tiled = NULL;
  int64_t lh = 12, lw = 14, n;

  fixture_open (&f, c);
  ctx = f.ctx;
  cmd = f.cmd;
  vae = df_vae_new (ctx, f.model, c->dtype, &error);
  g_assert_no_error (error);
  latent = df_test_new_uniform (4 * lh * lw, 99, -1.5f, 1.5f);
  /* a smooth latent, as real ones are */
  for (int64_t i = 0; i < 4 * lh * lw; i++)
    latent[i] = sinf ((float) (i % lw) * 0.4f + (float) (i / lw) * 0.3f) + 0.2f * latent[i];
  n = 3 * (lh * 2) * (lw * 2);
  whole = g_new (float, n);
  tiled = g_new (float, n);

  /* automatic choice: small images whole, huge ones in tiles that fit the
   * per-binding limit (64 channels at full resolution, fp32 or fp16) */
  g_assert_cmpint (df_vae_choose_tile (vae, lh, lw), ==, 0);
  {
    int t = df_vae_choose_tile (vae, 4096, 4096);
    uint64_t bytes = (uint64_t) 64 * (2 * t) * (2 * t) * df_dtype_size (c->dtype);
    g_assert_cmpint (t, >, 0);
    g_assert_cmpint (t % 8, ==, 0);
    g_assert_cmpuint (bytes, <=, df_context_get_info (ctx)->max_storage_buffer_range);
  }

  g_assert_true (df_vae_decode_host (vae, cmd, latent, lh, lw, 0, whole, &error));
  g_assert_no_error (error);
  {
    g_autoptr (DfTensor) lt = NULL;
    g_autoptr (DfTensor) img = NULL;
    const int64_t ls[4] = { 1, 4, lh, lw }, is[4] = { 1, 3, 2 * lh, 2 * lw };
    lt = df_test_tensor (ctx, c->dtype, latent, 4, ls);
    img = df_test_tensor (ctx, c->dtype, NULL, 4, is);
    g_assert_true (df_vae_decode (vae, cmd, img, lt, &error));
    g_assert_true (df_cmd_submit_wait (cmd, &error));
    want = df_test_download (img);
    g_assert_cmpmem (whole, n * sizeof (float), want, n * sizeof (float));
  }

  /* 8-pixel latent tiles overlapping by 2: tile columns start at latent
   * 0 and 6, so the blended seam region is image columns 12..15 */
  g_assert_true (df_vae_decode_host (vae, cmd, latent, lh, lw, 8, tiled, &error));
  g_assert_no_error (error);
  {
    int64_t h = 2 * lh, w = 2 * lw;
    double seam = 0, elsewhere = 0;
    int n_seam = 0, n_else = 0;
    for (int64_t ch = 0; ch < 3; ch++)
      for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x + 1 < w; x++)
          {
            double d = fabs (tiled[(ch * h + y) * w + x + 1] - tiled[(ch * h + y) * w + x]);
            if (x >= 11 && x <= 15)
              seam += d, n_seam++;
            else
              elsewhere += d, n_else++;
          }
    seam /= n_seam;
    elsewhere /= n_else;
    if (g_test_verbose ())
      g_test_message ("mean neighbour step: %g across the seam, %g elsewhere; "
                      "tiled vs whole %g", seam, elsewhere, df_test_rel_error (tiled, whole, n));
    g_assert_cmpfloat (seam, <, 1.5 * elsewhere);
  }
  fixture_close (&f);
}

int
main (int argc, char **argv)
{
  static const char *models[] = { "sd1", "sd1-inpaint", "sd2" };
  static Case cases[6];
  int ret;

  g_test_init (&argc, &argv, NULL);
  for (int m = 0; m < 3; m++)
    for (int d = 0; d < 2; d++)
      {
        Case *c = &cases[m * 2 + d];
        const char *dt = d ? "f16" : "f32";
        g_autofree char *p_clip = g_strdup_printf ("/networks/%s/%s/clip", models[m], dt);
        g_autofree char *p_unet = g_strdup_printf ("/networks/%s/%s/unet", models[m], dt);
        g_autofree char *p_vae = g_strdup_printf ("/networks/%s/%s/vae", models[m], dt);
        c->model = models[m];
        c->dtype = d ? DF_DTYPE_F16 : DF_DTYPE_F32;
        /* the inpainting model differs from sd1 only in its UNet */
        if (m != 1)
          g_test_add_data_func (p_clip, c, test_clip);
        g_test_add_data_func (p_unet, c, test_unet);
        if (m != 1)
          g_test_add_data_func (p_vae, c, test_vae);
        if (m == 0)
          {
            g_autofree char *p_tiled = g_strdup_printf ("/networks/%s/%s/vae-tiled", models[m],
                                                        dt);
            g_autofree char *p_chunked = g_strdup_printf ("/networks/%s/%s/unet-chunked",
                                                          models[m], dt);
            g_test_add_data_func (p_tiled, c, test_vae_tiled);
            g_test_add_data_func (p_chunked, c, test_unet_chunked);
          }
      }
  ret = g_test_run ();
  df_test_context_free ();
  return ret;
}
