/* test-fullsize.c — the full-size Stable Diffusion 1.5 architecture with
 * synthetic weights (compute/df-synthetic.c) against diffusers /
 * transformers on the same weights (tests/reference/make_fullsize_golden.py
 * → tests/data/fullsize/sd15-golden.safetensors): the CLIP text encoder
 * (last layer and clip skip), the UNet on an 8×8 latent at batch 2, and the
 * VAE decoder on an 8×8 latent.  Weights are fp16 values; the fp16 path is
 * held to 1e-2 of the output's scale.  Also: the tensor list the generator
 * enumerates from the SD 1.5 configs is exactly the diffusers key list
 * (tests/data/model/sd15-diffusers.txt), and for the tiny models exactly
 * what their files hold. */
#include <math.h>
#include <string.h>

#include "df-networks.h"
#include "df-test.h"

static DfModel *model;
static DfSafetensors *golden_file;

static float *
golden (const char *name, int *ndim, int64_t *shape)
{
  return df_test_read_tensor (golden_file, name, ndim, shape);
}

static DfTensor *
upload_golden (DfContext *ctx, DfDType dtype, const char *name)
{
  return df_test_upload_tensor (ctx, golden_file, dtype, name);
}

/* "name<TAB>d0,d1,…" lines → hash name → shape string */
static GHashTable *
read_key_list (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GHashTable *keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i]; i++)
    {
      char *tab = strchr (lines[i], '\t');
      if (tab == NULL)
        continue;
      *tab = '\0';
      g_hash_table_insert (keys, g_strdup (lines[i]), g_strdup (tab + 1));
    }
  return keys;
}

static char *
shape_string (const DfTensorInfo *info)
{
  GString *s = g_string_new (NULL);

  for (int d = 0; d < info->ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? "," : "", info->shape[d]);
  return g_string_free (s, FALSE);
}

static void
test_tensor_list_sd15 (void)
{
  DfUNetConfig unet;
  DfVAEConfig vae;
  DfClipConfig clip;
  g_autofree char *path = df_test_data_path ("model/sd15-diffusers.txt");
  g_autoptr (GHashTable) keys = read_key_list (path);
  g_autoptr (GPtrArray) list = NULL;
  guint matched = 0;

  df_model_sd15_configs (&unet, &vae, &clip);
  list = df_synthetic_tensor_list (&unet, &vae, &clip);
  for (guint i = 0; i < list->len; i++)
    {
      const DfTensorInfo *info = g_ptr_array_index (list, i);
      const char *want = g_hash_table_lookup (keys, info->name);
      g_autofree char *got = shape_string (info);

      if (want == NULL)
        g_error ("synthetic tensor %s is not an SD 1.5 tensor", info->name);
      g_assert_cmpstr (got, ==, want);
      matched++;
    }
  /* and every SD 1.5 key is made */
  g_assert_cmpuint (matched, ==, g_hash_table_size (keys));
}

static void
test_tensor_list_tiny (void)
{
  static const char *const names[] = { "sd1", "sd1-inpaint", "sd2" };

  for (size_t m = 0; m < G_N_ELEMENTS (names); m++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *dir = g_strdup_printf ("%s/tiny/%s", g_getenv ("DIFFUSE_TEST_DATA"),
                                              names[m]);
      g_autoptr (DfModel) tiny = df_model_open_full (dir, DF_MODEL_OPEN_ANY_SIZE, &error);
      g_autoptr (GPtrArray) list = NULL;

      g_assert_no_error (error);
      list = df_synthetic_tensor_list (df_model_get_unet_config (tiny),
                                       df_model_get_vae_config (tiny),
                                       df_model_get_clip_config (tiny));
      g_assert_cmpint ((int) list->len, ==, df_model_n_tensors (tiny));
      for (guint i = 0; i < list->len; i++)
        {
          const DfTensorInfo *info = g_ptr_array_index (list, i);
          const DfTensorInfo *real = df_model_lookup (tiny, info->name);
          g_autofree char *a = shape_string (info);
          g_autofree char *b = NULL;

          if (real == NULL)
            g_error ("%s: synthetic tensor %s is not in the model", names[m], info->name);
          b = shape_string (real);
          g_assert_cmpstr (a, ==, b);
        }
    }
}

static void
test_values (void)
{
  /* the rule in df-synthetic.c, spot-checked against values the Python
   * implementation printed: norm gains near 1, biases small, weights
   * within sqrt(3 / fan_in) */
  uint16_t g[8], b[8], w[8 * 300];
  const int64_t s1[1] = { 8 }, s2[2] = { 8, 300 };

  df_synthetic_fill ("unet.conv_norm_out.weight", 1, s1, g);
  df_synthetic_fill ("unet.conv_norm_out.bias", 1, s1, b);
  df_synthetic_fill ("unet.time_embedding.linear_1.weight", 2, s2, w);
  for (int i = 0; i < 8; i++)
    {
      g_assert_cmpfloat (fabsf (df_f16_to_f32 (g[i]) - 1.0f), <=, 0.1f);
      g_assert_cmpfloat (fabsf (df_f16_to_f32 (b[i])), <=, 0.02f);
    }
  for (int i = 0; i < 8 * 300; i++)
    g_assert_cmpfloat (fabsf (df_f16_to_f32 (w[i])), <=, sqrtf (3.0f / 300.0f) + 1e-3f);
  /* the first value of one tensor, as the Python implementation computes it */
  g_assert_cmpfloat (df_f16_to_f32 (g[0]), ==, 0.91943359375f);
  /* different names give different values */
  g_assert_true (memcmp (g, b, sizeof g) != 0);
}

static void
test_clip (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfClip) clip = df_clip_new (ctx, model, DF_DTYPE_F16, &error);
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  g_autofree float *ids_f = golden ("clip.ids", NULL, NULL);
  g_autofree float *want = golden ("clip.last", NULL, NULL);
  g_autofree float *want_skip = golden ("clip.skip1", NULL, NULL);
  g_autofree float *got = g_new (float, 77 * 768);
  uint32_t ids[77];

  g_assert_no_error (error);
  for (int i = 0; i < 77; i++)
    ids[i] = (uint32_t) ids_f[i];
  g_assert_true (df_clip_encode (clip, cmd, ids, NULL, 1, 0, got, &error));
  g_assert_no_error (error);
  df_test_assert_close (got, want, 77 * 768, 1e-2);
  g_assert_true (df_clip_encode (clip, cmd, ids, NULL, 1, 1, got, &error));
  df_test_assert_close (got, want_skip, 77 * 768, 1e-2);
}

static void
test_unet (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfUNet) unet = df_unet_new (ctx, model, DF_DTYPE_F16, &error);
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  g_autoptr (DfTensor) sample = upload_golden (ctx, DF_DTYPE_F16, "unet.sample");
  g_autoptr (DfTensor) t = upload_golden (ctx, DF_DTYPE_F32, "unet.timestep");
  g_autoptr (DfTensor) context = upload_golden (ctx, DF_DTYPE_F16, "unet.context");
  g_autoptr (DfTensor) out = NULL;
  g_autofree float *want = NULL;
  g_autofree float *got = NULL;

  g_assert_no_error (error);
  out = df_test_tensor_like (ctx, golden_file, DF_DTYPE_F16, "unet.out", &want);
  df_context_reset_peak (ctx);
  g_assert_true (df_unet_forward (unet, cmd, out, sample, t, context, &error));
  g_assert_no_error (error);
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  got = df_test_download (out);
  g_test_message ("UNet weights %.1f MiB, peak device memory %.1f MiB",
                  df_unet_get_weight_bytes (unet) / 1048576.0,
                  df_context_get_peak_allocated (ctx) / 1048576.0);
  df_test_assert_close (got, want, df_tensor_numel (out), 1e-2);
}

static void
test_vae (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfVae) vae = df_vae_new (ctx, model, DF_DTYPE_F16, &error);
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  g_autoptr (DfTensor) latent = upload_golden (ctx, DF_DTYPE_F16, "vae.latent");
  g_autoptr (DfTensor) image = NULL;
  g_autofree float *want = NULL;
  g_autofree float *got = NULL;

  g_assert_no_error (error);
  image = df_test_tensor_like (ctx, golden_file, DF_DTYPE_F16, "vae.decoded", &want);
  g_assert_true (df_vae_decode (vae, cmd, image, latent, &error));
  g_assert_no_error (error);
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  got = df_test_download (image);
  df_test_assert_close (got, want, df_tensor_numel (image), 1e-2);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fullsize/tensor-list/sd15", test_tensor_list_sd15);
  g_test_add_func ("/fullsize/tensor-list/tiny", test_tensor_list_tiny);
  g_test_add_func ("/fullsize/values", test_values);
  g_test_add_func ("/fullsize/sd15/clip", test_clip);
  g_test_add_func ("/fullsize/sd15/unet", test_unet);
  g_test_add_func ("/fullsize/sd15/vae", test_vae);

  path = df_test_data_path ("fullsize/sd15-golden.safetensors");
  golden_file = df_safetensors_open (path, &error);
  g_assert_no_error (error);
  if (!df_context_get_info (df_test_context ())->storage_16bit)
    g_error ("the full-size test needs a device with 16-bit storage");
  model = df_synthetic_model_new ("sd15", &error);
  g_assert_no_error (error);

  ret = g_test_run ();
  g_clear_pointer (&model, df_model_free);
  g_clear_pointer (&golden_file, df_safetensors_free);
  df_test_context_free ();
  return ret;
}
