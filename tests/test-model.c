/* test-model.c — checkpoint layouts and model detection.
 *
 * The name tables are checked against the complete key lists of SD 1.5
 * and SD 2.x in both layouts (tests/data/model/, made with diffusers by
 * tests/reference/model-keys.py); the loader and the detection against
 * small fake checkpoints and diffusers folders the test writes. */
#include <math.h>

#include "df-test-model.h"

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("DIFFUSE_TEST_DATA");

  if (dir == NULL)
    g_error ("DIFFUSE_TEST_DATA is not set");
  return g_build_filename (dir, "model", name, NULL);
}

/* "key\tshape" lines → key → "d0,d1,…" */
static GHashTable *
read_key_list (const char *name)
{
  g_autofree char *path = data_path (name);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  GHashTable *keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (!g_file_get_contents (path, &text, NULL, &error))
    g_error ("%s", error->message);
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    {
      char *tab = strchr (lines[i], '\t');

      if (lines[i][0] == '\0')
        continue;
      g_assert_nonnull (tab);
      *tab = '\0';
      g_hash_table_insert (keys, g_strdup (lines[i]), g_strdup (tab + 1));
    }
  return keys;
}

static int
parse_shape (const char *text, int64_t *shape)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  int n = 0;

  for (int i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      shape[n++] = g_ascii_strtoll (parts[i], NULL, 10);
  return n;
}

static char *
format_shape (const int64_t *shape, int n)
{
  GString *s = g_string_new (NULL);

  for (int i = 0; i < n; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  return g_string_free (s, FALSE);
}

/* Maps the whole original key list of a model with the tables, applies
 * each transform to the shape, and requires exactly the diffusers list. */
static void
check_key_lists (const char *model, const char *drop_prefix, int want_ignored)
{
  g_autofree char *orig_name = g_strdup_printf ("%s-original.txt", model);
  g_autofree char *diff_name = g_strdup_printf ("%s-diffusers.txt", model);
  g_autoptr (GHashTable) orig = read_key_list (orig_name);
  g_autoptr (GHashTable) want = read_key_list (diff_name);
  g_autoptr (GHashTable) got = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  const char *key, *shape_text;
  int ignored = 0, splits = 0, reshapes = 0;

  g_assert_cmpuint (g_hash_table_size (orig), >, 1000);
  g_hash_table_iter_init (&iter, orig);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &shape_text))
    {
      char *names[3];
      int n = 0;
      DfTransform transform;
      int64_t shape[DF_FILE_MAX_DIMS];
      int ndim = parse_shape (shape_text, shape);

      switch (df_names_map (DF_LAYOUT_ORIGINAL, key, names, &n, &transform))
        {
        case DF_NAME_UNKNOWN:
          g_error ("%s: unknown key %s", model, key);
          break;
        case DF_NAME_IGNORED:
          ignored++;
          break;
        case DF_NAME_MAPPED:
          if (transform == DF_TRANSFORM_CONV_TO_LINEAR)
            {
              g_assert_cmpint (ndim, ==, 4);
              ndim = 2;
              reshapes++;
            }
          if (transform == DF_TRANSFORM_SPLIT_QKV)
            {
              g_assert_cmpint (n, ==, 3);
              shape[0] /= 3;
              splits++;
            }
          for (int i = 0; i < n; i++)
            {
              if (drop_prefix != NULL && g_str_has_prefix (names[i], drop_prefix))
                {
                  g_free (names[i]);
                  continue;
                }
              if (g_hash_table_contains (got, names[i]))
                g_error ("%s: two keys map to %s", model, names[i]);
              g_hash_table_insert (got, names[i], format_shape (shape, ndim));
            }
          break;
        }
    }

  g_hash_table_iter_init (&iter, want);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &shape_text))
    {
      const char *g = g_hash_table_lookup (got, key);

      if (g == NULL)
        g_error ("%s: nothing maps to %s", model, key);
      if (strcmp (g, shape_text) != 0)
        g_error ("%s: %s has shape %s, diffusers %s", model, key, g, shape_text);
    }
  g_assert_cmpuint (g_hash_table_size (got), ==, g_hash_table_size (want));
  g_assert_cmpint (ignored, ==, want_ignored);
  /* the VAE's attentions are 1×1 convolutions in the original layout:
   * q, k, v, proj_out weights of the encoder's and the decoder's */
  g_assert_cmpint (reshapes, ==, 8);
  if (drop_prefix != NULL)
    g_assert_cmpint (splits, ==, 2 * 24); /* weight and bias of 24 resblocks */
  if (g_test_verbose ())
    g_test_message ("%s: %u keys mapped onto %u, %d ignored", model,
                    g_hash_table_size (orig), g_hash_table_size (got), ignored);
}

static void
test_model_keys_sd15 (void)
{
  check_key_lists ("sd15", NULL, 0);
}

static void
test_model_keys_sd2 (void)
{
  /* text_projection and logit_scale are ignored; the last of the 24
   * resblocks is mapped and then dropped by the loader, as diffusers does */
  check_key_lists ("sd2", "text_encoder.text_model.encoder.layers.23.", 2);
}

static void
test_model_names (void)
{
  static const struct
  {
    DfLayout layout;
    const char *key;
    DfNameResult result;
    const char *name;
  } cases[] = {
    /* the index arithmetic */
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.input_blocks.11.0.out_layers.3.bias",
      DF_NAME_MAPPED, "unet.down_blocks.3.resnets.1.conv2.bias" },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.input_blocks.9.0.op.weight", DF_NAME_MAPPED,
      "unet.down_blocks.2.downsamplers.0.conv.weight" },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.output_blocks.8.2.conv.bias", DF_NAME_MAPPED,
      "unet.up_blocks.2.upsamplers.0.conv.bias" },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.output_blocks.7.1.norm.weight", DF_NAME_MAPPED,
      "unet.up_blocks.2.attentions.1.norm.weight" },
    { DF_LAYOUT_ORIGINAL, "first_stage_model.decoder.up.1.block.2.nin_shortcut.weight",
      DF_NAME_MAPPED, "vae.decoder.up_blocks.2.resnets.2.conv_shortcut.weight" },
    { DF_LAYOUT_ORIGINAL, "cond_stage_model.transformer.encoder.layers.3.mlp.fc2.bias",
      DF_NAME_MAPPED, "text_encoder.text_model.encoder.layers.3.mlp.fc2.bias" },
    /* numbers the arithmetic refuses, and other nonsense */
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.input_blocks.3.1.proj_in.weight",
      DF_NAME_UNKNOWN },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.input_blocks.4.0.op.weight", DF_NAME_UNKNOWN },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.input_blocks.01.0.in_layers.0.weight",
      DF_NAME_UNKNOWN },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.output_blocks.4.3.conv.weight",
      DF_NAME_UNKNOWN },
    { DF_LAYOUT_ORIGINAL, "first_stage_model.decoder.up.4.block.0.conv1.weight",
      DF_NAME_UNKNOWN },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.", DF_NAME_UNKNOWN },
    { DF_LAYOUT_ORIGINAL, "model.diffusion_model.input_blocks.99999999999.0.x",
      DF_NAME_UNKNOWN },
    { DF_LAYOUT_ORIGINAL, "", DF_NAME_UNKNOWN },
    /* what real checkpoints carry besides the weights */
    { DF_LAYOUT_ORIGINAL, "model_ema.diffusion_modelinput_blocks00weight", DF_NAME_IGNORED },
    { DF_LAYOUT_ORIGINAL, "model_ema.num_updates", DF_NAME_IGNORED },
    { DF_LAYOUT_ORIGINAL, "alphas_cumprod", DF_NAME_IGNORED },
    { DF_LAYOUT_ORIGINAL, "posterior_mean_coef2", DF_NAME_IGNORED },
    { DF_LAYOUT_ORIGINAL, "cond_stage_model.transformer.text_model.embeddings.position_ids",
      DF_NAME_IGNORED },
    /* diffusers files */
    { DF_LAYOUT_DIFFUSERS_UNET, "mid_block.attentions.0.proj_in.weight", DF_NAME_MAPPED,
      "unet.mid_block.attentions.0.proj_in.weight" },
    { DF_LAYOUT_DIFFUSERS_VAE, "encoder.mid_block.attentions.0.key.bias", DF_NAME_MAPPED,
      "vae.encoder.mid_block.attentions.0.to_k.bias" },
    { DF_LAYOUT_DIFFUSERS_VAE, "decoder.mid_block.attentions.0.proj_attn.weight",
      DF_NAME_MAPPED, "vae.decoder.mid_block.attentions.0.to_out.0.weight" },
    { DF_LAYOUT_DIFFUSERS_VAE, "decoder.up_blocks.0.resnets.0.conv1.weight", DF_NAME_MAPPED,
      "vae.decoder.up_blocks.0.resnets.0.conv1.weight" },
    { DF_LAYOUT_DIFFUSERS_TEXT, "text_model.final_layer_norm.bias", DF_NAME_MAPPED,
      "text_encoder.text_model.final_layer_norm.bias" },
    { DF_LAYOUT_DIFFUSERS_TEXT, "text_model.embeddings.position_ids", DF_NAME_IGNORED },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *names[3] = { NULL };
      int n = -1;
      DfNameResult r = df_names_map (cases[i].layout, cases[i].key, names, &n, NULL);

      if (r != cases[i].result)
        g_error ("%s: result %d, want %d", cases[i].key, r, cases[i].result);
      if (r == DF_NAME_MAPPED)
        {
          g_assert_cmpint (n, ==, 1);
          g_assert_cmpstr (names[0], ==, cases[i].name);
          g_free (names[0]);
        }
      else
        g_assert_cmpint (n, ==, 0);
    }
}

/* ------------------------------------------------------------------------
 * Single files
 * ------------------------------------------------------------------------ */

static DfModel *
open_ckpt (const TestCkpt *c, const char *dir, const char *file, GError **error)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);

  test_ckpt_write (c, path);
  return df_model_open (path, error);
}

static void
check_tensor (DfModel *model, const char *name, const char *source, int ndim,
              DfTransform transform)
{
  const DfTensorInfo *t = df_model_lookup (model, name);

  if (t == NULL)
    g_error ("no tensor %s", name);
  g_assert_cmpstr (t->name, ==, name);
  g_assert_cmpstr (df_model_get_source_name (model, name), ==, source);
  g_assert_cmpint (t->ndim, ==, ndim);
  g_assert_cmpint (df_model_get_transform (model, name), ==, transform);
}

static void
test_model_single_sd1 (void)
{
  static const char *const dtypes[] = { "F32", "F16", "BF16" };
  static const DfFileDType want[] = { DF_FILE_F32, DF_FILE_F16, DF_FILE_BF16 };
  g_autofree char *dir = test_tmpdir ();

  for (size_t k = 0; k < G_N_ELEMENTS (dtypes); k++)
    for (int ema = 0; ema < 2; ema++)
      {
        TestCkpt c = { .in_channels = 4, .dtype = dtypes[k], .ema = ema };
        g_autoptr (GError) error = NULL;
        g_autoptr (DfModel) m = open_ckpt (&c, dir, "sd1.safetensors", &error);
        const DfUNetConfig *u;
        const DfVAEConfig *v;
        const DfClipConfig *t;
        const DfTensorInfo *info;
        float x[8 * 4 * 9];
        int n = 0;
        int64_t params = 0;
        guint types = 0;

        g_assert_no_error (error);
        g_assert_cmpstr (df_model_get_family_name (m), ==, "sd1");
        g_assert_cmpint (df_model_get_family (m), ==, DF_FAMILY_SD1);
        g_assert_false (df_model_is_inpaint (m));
        g_assert_false (df_model_is_diffusers (m));
        g_assert_cmpint (df_model_get_prediction (m), ==, DF_PREDICTION_EPSILON);

        u = df_model_get_unet_config (m);
        g_assert_cmpint (u->in_channels, ==, 4);
        g_assert_cmpint (u->out_channels, ==, 4);
        g_assert_cmpint (u->n_blocks, ==, 4);
        g_assert_cmpint (u->block_out_channels[0], ==, 8);
        g_assert_cmpint (u->block_out_channels[1], ==, 16);
        g_assert_cmpint (u->block_out_channels[3], ==, 32);
        g_assert_cmpint (u->layers_per_block, ==, 2);
        g_assert_cmpint (u->cross_attention_dim, ==, 768);
        g_assert_false (u->use_linear_projection);
        g_assert_false (u->attention_head_dim_is_list);
        g_assert_cmpint (u->attention_head_dim[0], ==, 8);
        g_assert_true (u->down_block_attention[0]);
        g_assert_false (u->up_block_attention[0]);
        g_assert_true (u->up_block_attention[1]);
        g_assert_cmpint (u->sample_size, ==, 64);
        v = df_model_get_vae_config (m);
        g_assert_cmpint (v->block_out_channels[0], ==, 8);
        g_assert_cmpint (v->block_out_channels[2], ==, 32);
        g_assert_cmpint (v->latent_channels, ==, 4);
        g_assert_cmpfloat (v->scaling_factor, ==, 0.18215f);
        t = df_model_get_clip_config (m);
        g_assert_cmpint (t->hidden_size, ==, 768);
        g_assert_cmpint (t->num_hidden_layers, ==, 2);
        g_assert_cmpint (t->num_attention_heads, ==, 12);
        g_assert_cmpint (t->intermediate_size, ==, 8);
        g_assert_cmpint (t->vocab_size, ==, 16);
        g_assert_cmpint (t->hidden_act, ==, DF_ACT_QUICK_GELU);

        /* the mapping, with the index arithmetic and the VAE reshape */
        check_tensor (m, "unet.conv_in.weight", "model.diffusion_model.input_blocks.0.0.weight",
                      4, DF_TRANSFORM_NONE);
        check_tensor (m, "unet.down_blocks.0.resnets.1.conv1.weight",
                      "model.diffusion_model.input_blocks.2.0.in_layers.2.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.down_blocks.0.downsamplers.0.conv.weight",
                      "model.diffusion_model.input_blocks.3.0.op.weight", 4, DF_TRANSFORM_NONE);
        check_tensor (m, "unet.down_blocks.1.resnets.0.conv_shortcut.weight",
                      "model.diffusion_model.input_blocks.4.0.skip_connection.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.down_blocks.3.resnets.1.conv1.weight",
                      "model.diffusion_model.input_blocks.11.0.in_layers.2.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.mid_block.resnets.1.conv2.weight",
                      "model.diffusion_model.middle_block.2.out_layers.3.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.up_blocks.0.upsamplers.0.conv.weight",
                      "model.diffusion_model.output_blocks.2.1.conv.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.up_blocks.1.attentions.0.proj_in.weight",
                      "model.diffusion_model.output_blocks.3.1.proj_in.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.up_blocks.1.upsamplers.0.conv.weight",
                      "model.diffusion_model.output_blocks.5.2.conv.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.up_blocks.3.attentions.2.proj_out.weight",
                      "model.diffusion_model.output_blocks.11.1.proj_out.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "unet.time_embedding.linear_2.weight",
                      "model.diffusion_model.time_embed.2.weight", 2, DF_TRANSFORM_NONE);
        check_tensor (m, "unet.conv_norm_out.weight", "model.diffusion_model.out.0.weight", 1,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "vae.encoder.mid_block.attentions.0.to_q.weight",
                      "first_stage_model.encoder.mid.attn_1.q.weight", 2,
                      DF_TRANSFORM_CONV_TO_LINEAR);
        check_tensor (m, "vae.encoder.mid_block.attentions.0.to_out.0.weight",
                      "first_stage_model.encoder.mid.attn_1.proj_out.weight", 2,
                      DF_TRANSFORM_CONV_TO_LINEAR);
        check_tensor (m, "vae.decoder.mid_block.attentions.0.to_v.weight",
                      "first_stage_model.decoder.mid.attn_1.v.weight", 2,
                      DF_TRANSFORM_CONV_TO_LINEAR);
        check_tensor (m, "vae.encoder.mid_block.attentions.0.group_norm.weight",
                      "first_stage_model.encoder.mid.attn_1.norm.weight", 1, DF_TRANSFORM_NONE);
        check_tensor (m, "vae.decoder.up_blocks.0.upsamplers.0.conv.weight",
                      "first_stage_model.decoder.up.3.upsample.conv.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "vae.decoder.up_blocks.3.resnets.0.conv_shortcut.weight",
                      "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight", 4,
                      DF_TRANSFORM_NONE);
        check_tensor (m, "vae.encoder.conv_norm_out.weight",
                      "first_stage_model.encoder.norm_out.weight", 1, DF_TRANSFORM_NONE);
        check_tensor (m, "text_encoder.text_model.encoder.layers.1.mlp.fc1.weight",
                      "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc1.weight",
                      2, DF_TRANSFORM_NONE);
        g_assert_null (df_model_lookup (m, "text_encoder.text_model.embeddings.position_ids"));

        /* data through the view, in the file's dtype */
        info = df_model_get_tensor (m, "unet.conv_in.weight", &error);
        g_assert_no_error (error);
        g_assert_cmpint (info->dtype, ==, want[k]);
        g_assert_true (df_tensor_info_read_f32 (info, x, 8 * 4 * 9, &error));
        for (int i = 0; i < 8 * 4 * 9; i++)
          g_assert_cmpfloat (x[i], ==, test_st_value (i));
        g_assert_null (df_model_get_tensor (m, "unet.nope", &error));
        g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL);
        g_assert_nonnull (strstr (error->message, "unet.nope"));
        g_clear_error (&error);

        /* counts: EMA copies and buffers are left out, nothing else */
        g_assert_cmpint (df_model_n_ignored (m), ==, ema ? 6 : 1);
        g_assert_true (df_model_component_stats (m, "unet", &n, &params, &types));
        g_assert_cmpint (n, ==, 28);
        g_assert_cmpuint (types, ==, 1u << want[k]);
        {
          /* every UNet tensor of the file, counted independently */
          g_autofree char *path = g_build_filename (dir, "sd1.safetensors", NULL);
          g_autoptr (DfSafetensors) st
            = df_safetensors_open_full (path, DF_SAFETENSORS_ALLOW_OTHER_DTYPES, &error);
          int64_t sum = 0;

          g_assert_no_error (error);
          for (int i = 0; i < df_safetensors_n_tensors (st); i++)
            if (g_str_has_prefix (df_safetensors_get (st, i)->name, "model.diffusion_model."))
              sum += df_tensor_info_numel (df_safetensors_get (st, i));
          g_assert_cmpint (params, ==, sum);
          g_assert_cmpint (params, >, 100000);
        }
        g_assert_true (df_model_component_stats (m, "vae", &n, NULL, NULL));
        g_assert_cmpint (n, ==, 26);
        g_assert_true (df_model_component_stats (m, "text_encoder", &n, NULL, NULL));
        g_assert_cmpint (n, ==, 7);
        g_assert_false (df_model_component_stats (m, "nope", &n, NULL, NULL));
        g_assert_cmpint (df_model_n_tensors (m), ==, 28 + 26 + 7);
        {
          const char *const *names = df_model_get_names (m);
          int count = 0;

          for (; names[count] != NULL; count++)
            if (count > 0)
              g_assert_cmpint (strcmp (names[count - 1], names[count]), <, 0);
          g_assert_cmpint (count, ==, df_model_n_tensors (m));
        }
      }
  test_tmpdir_remove (dir);
}

static void
test_model_single_inpaint (void)
{
  g_autofree char *dir = test_tmpdir ();
  TestCkpt c = { .in_channels = 9, .dtype = "F16" };
  g_autoptr (GError) error = NULL;
  g_autoptr (DfModel) m = open_ckpt (&c, dir, "inpaint.safetensors", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd1-inpaint");
  g_assert_true (df_model_is_inpaint (m));
  g_assert_cmpint (df_model_get_unet_config (m)->in_channels, ==, 9);
  g_assert_cmpint (df_model_lookup (m, "unet.conv_in.weight")->shape[1], ==, 9);
  g_clear_pointer (&m, df_model_free);

  c.in_channels = 8; /* InstructPix2Pix and the like */
  m = open_ckpt (&c, dir, "ip2p.safetensors", &error);
  g_assert_null (m);
  g_assert_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL);
  g_assert_nonnull (strstr (error->message, "8 input channels"));
  test_tmpdir_remove (dir);
}

static void
test_model_single_sd2 (void)
{
  g_autofree char *dir = test_tmpdir ();
  g_autofree char *yaml = g_build_filename (dir, "sd2v.yaml", NULL);
  TestCkpt c = { .sd2 = TRUE, .in_channels = 4, .dtype = "F16", .ema = TRUE };
  g_autoptr (GError) error = NULL;
  g_autoptr (DfModel) m = open_ckpt (&c, dir, "sd2.safetensors", &error);
  const DfTensorInfo *fused_q, *k, *bias_v;
  const DfUNetConfig *u;
  const DfClipConfig *t;
  float x[4 * 1024];

  g_assert_no_error (error);
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd2");
  g_assert_cmpint (df_model_get_family (m), ==, DF_FAMILY_SD2);
  u = df_model_get_unet_config (m);
  g_assert_cmpint (u->cross_attention_dim, ==, 1024);
  g_assert_true (u->use_linear_projection);
  g_assert_true (u->attention_head_dim_is_list);
  g_assert_cmpint (u->sample_size, ==, 64);
  t = df_model_get_clip_config (m);
  g_assert_cmpint (t->hidden_size, ==, 1024);
  g_assert_cmpint (t->num_attention_heads, ==, 16);
  g_assert_cmpint (t->hidden_act, ==, DF_ACT_GELU);
  /* 3 resblocks in the file; the last is dropped (penultimate layer) */
  g_assert_cmpint (t->num_hidden_layers, ==, 2);
  g_assert_nonnull (df_model_lookup (m, "text_encoder.text_model.encoder.layers.1.mlp.fc1.weight"));
  g_assert_null (df_model_lookup (m, "text_encoder.text_model.encoder.layers.2.mlp.fc1.weight"));
  g_assert_nonnull (df_model_lookup (m, "text_encoder.text_model.final_layer_norm.weight"));
  g_assert_nonnull (df_model_lookup (m, "text_encoder.text_model.embeddings.position_embedding.weight"));

  /* the fused q/k/v [12, 1024] split into three [4, 1024] views */
  fused_q = df_model_lookup (m, "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.weight");
  k = df_model_lookup (m, "text_encoder.text_model.encoder.layers.0.self_attn.k_proj.weight");
  bias_v = df_model_lookup (m, "text_encoder.text_model.encoder.layers.0.self_attn.v_proj.bias");
  g_assert_nonnull (fused_q);
  g_assert_nonnull (k);
  g_assert_nonnull (bias_v);
  g_assert_cmpint (df_model_get_transform (m, k->name), ==, DF_TRANSFORM_SPLIT_QKV);
  g_assert_cmpstr (df_model_get_source_name (m, k->name), ==,
                   "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight");
  g_assert_cmpint (k->ndim, ==, 2);
  g_assert_cmpint (k->shape[0], ==, 4);
  g_assert_cmpint (k->shape[1], ==, 1024);
  g_assert_true (df_tensor_info_read_f32 (k, x, 4 * 1024, &error));
  for (int i = 0; i < 4 * 1024; i++)
    g_assert_cmpfloat (x[i], ==, test_st_value (4 * 1024 + i));
  g_assert_true (df_tensor_info_read_f32 (fused_q, x, 4 * 1024, &error));
  for (int i = 0; i < 4 * 1024; i++)
    g_assert_cmpfloat (x[i], ==, test_st_value (i));
  g_assert_cmpint (bias_v->shape[0], ==, 4);
  g_assert_true (df_tensor_info_read_f32 (bias_v, x, 4, &error));
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (x[i], ==, test_st_value (8 + i));
  g_clear_pointer (&m, df_model_free);

  /* v-prediction from the file's metadata … */
  c.v_metadata = "v_prediction";
  m = open_ckpt (&c, dir, "sd2meta.safetensors", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd2-v");
  g_assert_cmpint (df_model_get_unet_config (m)->sample_size, ==, 96);
  g_clear_pointer (&m, df_model_free);

  /* … or from a sibling .yaml */
  c.v_metadata = NULL;
  test_write_text (dir, "sd2v.yaml",
                   "model:\n  params:\n    parameterization: \"v\"\n    timesteps: 1000\n");
  m = open_ckpt (&c, dir, "sd2v.safetensors", &error);
  g_assert_no_error (error);
  g_assert_cmpint (df_model_get_prediction (m), ==, DF_PREDICTION_V);
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd2-v");
  g_clear_pointer (&m, df_model_free);
  test_write_text (dir, "sd2v.yaml", "model:\n  params:\n    parameterization: \"eps\"\n");
  m = open_ckpt (&c, dir, "sd2v.safetensors", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd2");
  test_tmpdir_remove (dir);
}

static void
expect_refused (DfModel *m, GError *error, DfError code, const char *phrase, const char *file)
{
  g_assert_null (m);
  g_assert_nonnull (error);
  if (!g_error_matches (error, DF_ERROR, code) || strstr (error->message, phrase) == NULL
      || (file != NULL && strstr (error->message, file) == NULL))
    g_error ("wrong error %d “%s” (want %d with “%s”)", error->code, error->message, code,
             phrase);
}

static void
test_model_single_refused (void)
{
  g_autofree char *dir = test_tmpdir ();
  TestCkpt c = { .in_channels = 4, .dtype = "F16" };
  g_autoptr (GError) error = NULL;
  DfModel *m;

  /* SDXL */
  c.sdxl = TRUE;
  m = open_ckpt (&c, dir, "xl.safetensors", &error);
  expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "SDXL", "xl.safetensors");
  g_clear_error (&error);
  c.sdxl = FALSE;

  /* a pickle by its extension (even with safetensors content) … */
  m = open_ckpt (&c, dir, "model.ckpt", &error);
  expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "convert it to .safetensors",
                  "model.ckpt");
  g_clear_error (&error);
  /* … or by its content (zip, or a bare pickle) */
  {
    static const char *const magics[] = { "PK\x03\x04rest", "\x80\x02}q\x01rest" };

    for (size_t i = 0; i < G_N_ELEMENTS (magics); i++)
      {
        g_autofree char *path = g_build_filename (dir, "renamed.safetensors", NULL);

        test_write_bytes (path, magics[i], 8);
        m = df_model_open (path, &error);
        expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "pickle", "renamed.safetensors");
        g_clear_error (&error);
      }
  }
  {
    g_autofree char *path = g_build_filename (dir, "weights.PTH", NULL);

    test_write_bytes (path, "anything", 8);
    m = df_model_open (path, &error);
    expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "pickle", "weights.PTH");
    g_clear_error (&error);
  }

  /* not a Stable Diffusion checkpoint */
  {
    g_autoptr (TestSt) w = test_st_new ();
    g_autofree char *path = g_build_filename (dir, "other.safetensors", NULL);

    test_st_add (w, "layers.0.weight", "F32", TEST_SHAPE (4, 4));
    test_st_write (w, path);
    m = df_model_open (path, &error);
    expect_refused (m, error, DF_ERROR_INVALID_MODEL, "not a Stable Diffusion checkpoint",
                    "other.safetensors");
    g_clear_error (&error);
  }
  {
    g_autoptr (TestSt) w = test_st_new ();
    g_autofree char *path = g_build_filename (dir, "lora.safetensors", NULL);

    test_st_add (w, "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", "F16",
                 TEST_SHAPE (4, 4));
    test_st_write (w, path);
    m = df_model_open (path, &error);
    expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "LoRA", "lora.safetensors");
    g_clear_error (&error);
  }
  /* an I64 tensor where a weight belongs */
  {
    g_autoptr (TestSt) w = test_st_new ();
    g_autofree char *path = g_build_filename (dir, "i64.safetensors", NULL);

    test_st_add (w, "model.diffusion_model.input_blocks.0.0.weight", "I64", TEST_SHAPE (2, 2));
    test_st_write (w, path);
    m = df_model_open (path, &error);
    expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "dtype I64", "i64.safetensors");
    g_clear_error (&error);
  }
  /* empty tensors of the right ranks: accepted only when the text
   * encoder's width is the UNet's context width */
  for (int width = 768; width <= 1024; width += 256)
    {
      g_autoptr (TestSt) w = test_st_new ();
      g_autofree char *path = g_build_filename (dir, "empty.safetensors", NULL);
      const char *u = "model.diffusion_model.";
      char name[256];

#define E(prefix, key, ...) (g_snprintf (name, sizeof name, "%s%s", prefix, key), \
                             test_st_add (w, name, "F16", TEST_SHAPE (__VA_ARGS__)))
      E (u, "input_blocks.0.0.weight", 1, 4, 3, 3);
      E (u, "out.2.weight", 4, 1, 3, 3);
      E (u, "input_blocks.1.0.in_layers.2.weight", 1, 1, 3, 3);
      E (u, "middle_block.1.transformer_blocks.0.attn2.to_k.weight", 0, 768);
      E ("first_stage_model.", "encoder.down.0.block.0.conv1.weight", 1, 0, 3, 3);
      E ("first_stage_model.", "post_quant_conv.weight", 4, 4, 1, 1);
      E ("cond_stage_model.transformer.text_model.", "embeddings.token_embedding.weight", 0,
         width);
      E ("cond_stage_model.transformer.text_model.", "encoder.layers.0.layer_norm1.weight", 0);
#undef E
      test_st_write (w, path);
      m = df_model_open (path, &error);
      if (width == 768)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (df_model_get_family_name (m), ==, "sd1");
          g_clear_pointer (&m, df_model_free);
        }
      else
        {
          expect_refused (m, error, DF_ERROR_INVALID_MODEL, "does not fit", "empty.safetensors");
          g_clear_error (&error);
        }
    }
  /* a malformed file stays a malformed-file error */
  {
    g_autofree char *path = g_build_filename (dir, "bad.safetensors", NULL);

    test_write_bytes (path, "\x10\x00\x00", 3);
    m = df_model_open (path, &error);
    expect_refused (m, error, DF_ERROR_INVALID_MODEL, "truncated", "bad.safetensors");
    g_clear_error (&error);
  }
  {
    g_autofree char *path = g_build_filename (dir, "absent.safetensors", NULL);

    m = df_model_open (path, &error);
    expect_refused (m, error, DF_ERROR_IO, "no such file", "absent.safetensors");
    g_clear_error (&error);
  }
  test_tmpdir_remove (dir);
}

/* ------------------------------------------------------------------------
 * diffusers folders
 * ------------------------------------------------------------------------ */

static DfModel *
open_folder (const TestFolder *f, GError **error)
{
  g_autofree char *dir = test_tmpdir ();
  DfModel *m;

  test_folder_write (f, dir);
  m = df_model_open (dir, error);
  /* the mapping keeps the files open; removing their names is fine */
  test_tmpdir_remove (dir);
  return m;
}

static void
test_model_diffusers (void)
{
  g_autoptr (GError) error = NULL;
  TestFolder f = { .in_channels = 4 };
  DfModel *m;
  const DfTensorInfo *t;
  float x[8];

  m = open_folder (&f, &error);
  g_assert_no_error (error);
  g_assert_true (df_model_is_diffusers (m));
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd1");
  g_assert_cmpint (df_model_get_unet_config (m)->block_out_channels[1], ==, 16);
  g_assert_cmpint (df_model_get_unet_config (m)->attention_head_dim[3], ==, 8);
  g_assert_false (df_model_get_unet_config (m)->attention_head_dim_is_list);
  g_assert_false (df_model_get_unet_config (m)->down_block_attention[3]);
  g_assert_true (df_model_get_unet_config (m)->up_block_attention[3]);
  g_assert_cmpint (df_model_get_clip_config (m)->hidden_act, ==, DF_ACT_QUICK_GELU);
  g_assert_cmpint (df_model_get_clip_config (m)->num_hidden_layers, ==, 2);
  g_assert_cmpfloat (df_model_get_vae_config (m)->scaling_factor, ==, 0.18215f);
  g_assert_nonnull (df_model_get_tokenizer_dir (m));
  t = df_model_lookup (m, "unet.conv_out.weight");
  g_assert_nonnull (t);
  g_assert_cmpint (t->dtype, ==, DF_FILE_F32);
  g_assert_true (df_tensor_info_read_f32 (t, x, 8, &error) == FALSE);
  g_clear_error (&error);
  g_assert_nonnull (df_model_lookup (m, "vae.decoder.mid_block.attentions.0.to_q.weight"));
  g_assert_nonnull (df_model_lookup (m, "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.weight"));
  g_assert_cmpint (df_model_n_tensors (m), ==, 4 + 4 + 2);
  g_assert_cmpint (df_model_n_ignored (m), ==, 1); /* position_ids */
  df_model_free (m);

  /* fp16 variant, SD 2.x with v-prediction */
  f = (TestFolder) { .sd2 = TRUE, .in_channels = 4, .fp16_variant = TRUE, .v_prediction = TRUE };
  m = open_folder (&f, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd2-v");
  g_assert_true (df_model_get_unet_config (m)->use_linear_projection);
  g_assert_true (df_model_get_unet_config (m)->attention_head_dim_is_list);
  g_assert_cmpint (df_model_get_unet_config (m)->attention_head_dim[2], ==, 20);
  g_assert_cmpint (df_model_get_unet_config (m)->sample_size, ==, 96);
  g_assert_cmpint (df_model_get_clip_config (m)->hidden_act, ==, DF_ACT_GELU);
  g_assert_cmpint (df_model_lookup (m, "unet.conv_in.weight")->dtype, ==, DF_FILE_F16);
  df_model_free (m);

  /* inpainting, and an older VAE's attention names */
  f = (TestFolder) { .in_channels = 9, .legacy_vae = TRUE };
  m = open_folder (&f, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (df_model_get_family_name (m), ==, "sd1-inpaint");
  g_assert_cmpstr (df_model_get_source_name (m, "vae.decoder.mid_block.attentions.0.to_q.weight"),
                   ==, "decoder.mid_block.attentions.0.query.weight");
  g_assert_nonnull (df_model_lookup (m, "vae.decoder.mid_block.attentions.0.to_out.0.bias"));
  df_model_free (m);

  /* refused */
  f = (TestFolder) { .in_channels = 4, .sdxl = TRUE };
  m = open_folder (&f, &error);
  expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "SDXL", NULL);
  g_clear_error (&error);
  f = (TestFolder) { .in_channels = 4, .pickle_unet = TRUE };
  m = open_folder (&f, &error);
  expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "convert it to .safetensors",
                  "diffusion_pytorch_model.bin");
  g_clear_error (&error);
}

static void
test_model_diffusers_broken (void)
{
  g_autofree char *dir = test_tmpdir ();
  g_autofree char *unet = g_build_filename (dir, "unet", NULL);
  g_autoptr (GError) error = NULL;
  TestFolder f = { .in_channels = 4 };
  DfModel *m;

  /* an empty folder */
  m = df_model_open (dir, &error);
  expect_refused (m, error, DF_ERROR_INVALID_MODEL, "model_index.json", NULL);
  g_clear_error (&error);

  /* a config that is not JSON, then one with a wrong type */
  test_folder_write (&f, dir);
  test_write_text (unet, "config.json", "{\"in_channels\": ");
  m = df_model_open (dir, &error);
  expect_refused (m, error, DF_ERROR_INVALID_MODEL, "not valid JSON", "config.json");
  g_clear_error (&error);
  test_write_text (unet, "config.json", "{\"in_channels\": \"four\"}");
  m = df_model_open (dir, &error);
  expect_refused (m, error, DF_ERROR_INVALID_MODEL, "in_channels", NULL);
  g_clear_error (&error);
  /* a config that disagrees with the weights */
  test_write_text (unet, "config.json", "{\"in_channels\": 9}");
  m = df_model_open (dir, &error);
  expect_refused (m, error, DF_ERROR_INVALID_MODEL, "do not match", NULL);
  g_clear_error (&error);
  /* another pipeline */
  test_write_text (dir, "model_index.json", "{\"_class_name\": \"KandinskyPipeline\"}");
  m = df_model_open (dir, &error);
  expect_refused (m, error, DF_ERROR_UNSUPPORTED_MODEL, "KandinskyPipeline", NULL);
  g_clear_error (&error);
  test_tmpdir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/keys/sd15", test_model_keys_sd15);
  g_test_add_func ("/model/keys/sd2", test_model_keys_sd2);
  g_test_add_func ("/model/names", test_model_names);
  g_test_add_func ("/model/single/sd1", test_model_single_sd1);
  g_test_add_func ("/model/single/inpaint", test_model_single_inpaint);
  g_test_add_func ("/model/single/sd2", test_model_single_sd2);
  g_test_add_func ("/model/single/refused", test_model_single_refused);
  g_test_add_func ("/model/diffusers/layouts", test_model_diffusers);
  g_test_add_func ("/model/diffusers/broken", test_model_diffusers_broken);
  return g_test_run ();
}
