/* df-model.c — one model object over a single-file checkpoint or a
 * diffusers folder: the tensors under their internal names, the family,
 * and a config per component. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "df.h"

typedef struct
{
  DfTensorInfo info;  /* name is the internal name (owned by the model) */
  DfTransform transform;
  const char *source; /* the file key (owned by its DfSafetensors) */
} ModelTensor;

struct _DfModel
{
  char *path;
  char *display; /* the path for messages */
  DfModelOpenFlags flags;
  gboolean diffusers;
  GPtrArray *files;    /* DfSafetensors */
  GHashTable *tensors; /* internal name → ModelTensor */
  char **names;        /* sorted, NULL-terminated */
  int n_ignored;
  char *first_unknown; /* the first key the tables did not know */

  DfFamily family;
  gboolean inpaint;
  DfPrediction prediction;
  char *family_name;
  DfUNetConfig unet;
  DfVAEConfig vae;
  DfClipConfig clip;
  char *tokenizer_dir;
  GPtrArray *owned_data; /* tensor data of in-memory models (g_free) */
};

static void
model_tensor_free (gpointer data)
{
  ModelTensor *t = data;

  g_free ((char *) t->info.name);
  g_free (t);
}

void
df_model_free (DfModel *model)
{
  if (model == NULL)
    return;
  g_clear_pointer (&model->tensors, g_hash_table_unref);
  g_clear_pointer (&model->files, g_ptr_array_unref);
  g_free (model->names);
  g_free (model->first_unknown);
  g_free (model->family_name);
  g_free (model->tokenizer_dir);
  g_clear_pointer (&model->owned_data, g_ptr_array_unref);
  g_free (model->path);
  g_free (model->display);
  g_free (model);
}

/* ------------------------------------------------------------------------
 * Refusals
 * ------------------------------------------------------------------------ */

static const char *const pickle_extensions[] = { ".ckpt", ".pt", ".pth", ".bin" };

#define CONVERT_HINT                                                                         \
  "Diffuse never loads pickles, because loading one can run any code; convert it to "      \
  ".safetensors first (for example with diffusers' "                                         \
  "scripts/convert_original_stable_diffusion_to_diffusers.py --to_safetensors, or "          \
  "safetensors.torch.save_file on the loaded state dict)"

static gboolean
has_pickle_extension (const char *path)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);

  for (size_t i = 0; i < G_N_ELEMENTS (pickle_extensions); i++)
    if (g_str_has_suffix (lower, pickle_extensions[i]))
      return TRUE;
  return FALSE;
}

/* A PyTorch file: a zip archive (torch.save since 1.6) or a bare pickle
 * (protocol 2+ starts with 0x80). */
static gboolean
has_pickle_magic (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, NULL);
  uint8_t magic[4] = { 0 };
  gsize got = 0;

  if (in == NULL
      || !g_input_stream_read_all (G_INPUT_STREAM (in), magic, sizeof magic, &got, NULL, NULL))
    return FALSE;
  if (got >= 4 && memcmp (magic, "PK\x03\x04", 4) == 0)
    return TRUE;
  return got >= 1 && magic[0] == 0x80;
}

static gboolean
refuse_pickle (const char *path, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);

  if (!has_pickle_extension (path) && !has_pickle_magic (path))
    return TRUE;
  g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
               "%s: a PyTorch pickle checkpoint is not supported. " CONVERT_HINT, display);
  return FALSE;
}

/* Keys that identify what a single file is when it is not one we run. */
static const struct
{
  const char *prefix;
  const char *what;
} foreign_markers[] = {
  { "conditioner.embedders.1.", "SDXL checkpoints are not supported yet" },
  { "model.diffusion_model.label_emb.", "SDXL checkpoints are not supported yet" },
  { "model.diffusion_model.joint_blocks.", "Stable Diffusion 3 checkpoints are not supported" },
  { "model.diffusion_model.double_blocks.", "FLUX checkpoints are not supported" },
  { "double_blocks.", "FLUX checkpoints are not supported" },
  { "control_model.", "not a Stable Diffusion checkpoint: this is a ControlNet" },
  { "lora_unet_", "not a Stable Diffusion checkpoint: this is a LoRA" },
  { "lora_te_", "not a Stable Diffusion checkpoint: this is a LoRA" },
  { "string_to_param", "not a Stable Diffusion checkpoint: this is a textual-inversion embedding" },
  { "emb_params", "not a Stable Diffusion checkpoint: this is a textual-inversion embedding" },
  { "encoder.down.0.block.0.", "not a Stable Diffusion checkpoint: this is a VAE on its own" },
  { "down_blocks.0.resnets.0.", "not a Stable Diffusion checkpoint: this is one component of "
                                "a diffusers folder; open the whole folder" },
  { "text_model.embeddings.", "not a Stable Diffusion checkpoint: this is one component of "
                              "a diffusers folder; open the whole folder" },
};

/* ------------------------------------------------------------------------
 * Tensors
 * ------------------------------------------------------------------------ */

/* Adds one file tensor under its internal name(s), applying the
 * transform to the view. */
static gboolean
add_tensor (DfModel *model, const DfTensorInfo *src, char *names[3], int n_names,
            DfTransform transform, GError **error)
{
  for (int i = 0; i < n_names; i++)
    {
      ModelTensor *t;

      if (src->dtype == DF_FILE_OTHER)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                       "%s: tensor “%s” has dtype %s; weights must be F32, F16 or BF16",
                       model->display, src->name, src->dtype_name);
          return FALSE;
        }
      if (g_hash_table_contains (model->tensors, names[i]))
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                       "%s: two tensors map to “%s” (the second is “%s”)", model->display,
                       names[i], src->name);
          return FALSE;
        }
      t = g_new0 (ModelTensor, 1);
      t->info = *src;
      t->info.name = g_strdup (names[i]);
      t->source = src->name;
      t->transform = transform;
      switch (transform)
        {
        case DF_TRANSFORM_NONE:
          break;
        case DF_TRANSFORM_CONV_TO_LINEAR:
          if (src->ndim == 2)
            t->transform = DF_TRANSFORM_NONE; /* already linear in this file */
          else if (src->ndim == 4 && src->shape[2] == 1 && src->shape[3] == 1)
            t->info.ndim = 2;
          else
            {
              g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                           "%s: tensor “%s” should be a 1×1 convolution weight",
                           model->display, src->name);
              model_tensor_free (t);
              return FALSE;
            }
          break;
        case DF_TRANSFORM_SPLIT_QKV:
          if (src->ndim < 1 || src->shape[0] % 3 != 0 || src->shape[0] == 0)
            {
              g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                           "%s: tensor “%s” should be a fused q/k/v tensor [3C, …]",
                           model->display, src->name);
              model_tensor_free (t);
              return FALSE;
            }
          t->info.shape[0] = src->shape[0] / 3;
          t->info.nbytes = src->nbytes / 3;
          t->info.data = (const uint8_t *) src->data + i * t->info.nbytes;
          break;
        }
      g_hash_table_insert (model->tensors, (char *) t->info.name, t);
    }
  return TRUE;
}

static gboolean
add_file (DfModel *model, DfSafetensors *st, DfLayout layout, GError **error)
{
  for (int i = 0; i < df_safetensors_n_tensors (st); i++)
    {
      const DfTensorInfo *src = df_safetensors_get (st, i);
      char *names[3] = { NULL, NULL, NULL };
      int n_names = 0;
      DfTransform transform;
      gboolean ok;

      switch (df_names_map (layout, src->name, names, &n_names, &transform))
        {
        case DF_NAME_MAPPED:
          ok = add_tensor (model, src, names, n_names, transform, error);
          for (int j = 0; j < n_names; j++)
            g_free (names[j]);
          if (!ok)
            return FALSE;
          break;
        case DF_NAME_UNKNOWN:
          if (model->first_unknown == NULL)
            model->first_unknown = g_strdup (src->name);
          model->n_ignored++;
          break;
        case DF_NAME_IGNORED:
          model->n_ignored++;
          break;
        }
    }
  return TRUE;
}

const DfTensorInfo *
df_model_lookup (DfModel *model, const char *name)
{
  ModelTensor *t = g_hash_table_lookup (model->tensors, name);

  return t != NULL ? &t->info : NULL;
}

const DfTensorInfo *
df_model_get_tensor (DfModel *model, const char *name, GError **error)
{
  const DfTensorInfo *info = df_model_lookup (model, name);

  if (info == NULL)
    g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: no tensor “%s”", model->display,
                 name);
  return info;
}

DfTransform
df_model_get_transform (DfModel *model, const char *name)
{
  ModelTensor *t = g_hash_table_lookup (model->tensors, name);

  return t != NULL ? t->transform : DF_TRANSFORM_NONE;
}

const char *
df_model_get_source_name (DfModel *model, const char *name)
{
  ModelTensor *t = g_hash_table_lookup (model->tensors, name);

  return t != NULL ? t->source : NULL;
}

int
df_model_n_tensors (DfModel *model)
{
  return (int) g_hash_table_size (model->tensors);
}

const char *const *
df_model_get_names (DfModel *model)
{
  return (const char *const *) model->names;
}

int
df_model_n_ignored (DfModel *model)
{
  return model->n_ignored;
}

gboolean
df_model_component_stats (DfModel *model, const char *component, int *n_tensors,
                          int64_t *n_params, guint *dtypes)
{
  g_autofree char *prefix = g_strconcat (component, ".", NULL);
  GHashTableIter iter;
  ModelTensor *t;
  int n = 0;
  int64_t params = 0;
  guint types = 0;

  g_hash_table_iter_init (&iter, model->tensors);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &t))
    if (g_str_has_prefix (t->info.name, prefix))
      {
        n++;
        params += df_tensor_info_numel (&t->info);
        types |= 1u << t->info.dtype;
      }
  if (n_tensors != NULL)
    *n_tensors = n;
  if (n_params != NULL)
    *n_params = params;
  if (dtypes != NULL)
    *dtypes = types;
  return n > 0;
}

DfFamily
df_model_get_family (DfModel *model)
{
  return model->family;
}

gboolean
df_model_is_inpaint (DfModel *model)
{
  return model->inpaint;
}

DfPrediction
df_model_get_prediction (DfModel *model)
{
  return model->prediction;
}

const char *
df_model_get_family_name (DfModel *model)
{
  return model->family_name;
}

gboolean
df_model_is_diffusers (DfModel *model)
{
  return model->diffusers;
}

const DfUNetConfig *
df_model_get_unet_config (DfModel *model)
{
  return &model->unet;
}

const DfVAEConfig *
df_model_get_vae_config (DfModel *model)
{
  return &model->vae;
}

const DfClipConfig *
df_model_get_clip_config (DfModel *model)
{
  return &model->clip;
}

const char *
df_model_get_tokenizer_dir (DfModel *model)
{
  return model->tokenizer_dir;
}

/* ------------------------------------------------------------------------
 * Defaults: SD 1.5's published configs (SD 2.x differences noted)
 * ------------------------------------------------------------------------ */

static void
set_defaults (DfModel *model)
{
  static const int unet_blocks[] = { 320, 640, 1280, 1280 };
  static const int vae_blocks[] = { 128, 256, 512, 512 };

  model->unet = (DfUNetConfig) {
    .in_channels = 4, .out_channels = 4, .n_blocks = 4, .layers_per_block = 2,
    .attention_head_dim = { 8, 8, 8, 8 }, .cross_attention_dim = 768, .sample_size = 64,
    .norm_num_groups = 32, .norm_eps = 1e-5f, .flip_sin_to_cos = TRUE, .freq_shift = 0,
    .down_block_attention = { TRUE, TRUE, TRUE, FALSE },
    .up_block_attention = { FALSE, TRUE, TRUE, TRUE },
  };
  memcpy (model->unet.block_out_channels, unet_blocks, sizeof unet_blocks);
  model->vae = (DfVAEConfig) {
    .in_channels = 3, .out_channels = 3, .latent_channels = 4, .n_blocks = 4,
    .layers_per_block = 2, .norm_num_groups = 32, .sample_size = 512,
    .scaling_factor = 0.18215f,
  };
  memcpy (model->vae.block_out_channels, vae_blocks, sizeof vae_blocks);
  model->clip = (DfClipConfig) {
    .hidden_size = 768, .intermediate_size = 3072, .num_hidden_layers = 12,
    .num_attention_heads = 12, .max_position_embeddings = 77, .vocab_size = 49408,
    .projection_dim = 768, .hidden_act = DF_ACT_QUICK_GELU, .layer_norm_eps = 1e-5f,
  };
}

static void
set_family_name (DfModel *model)
{
  model->family_name = g_strdup_printf ("%s%s%s", model->family == DF_FAMILY_SD2 ? "sd2" : "sd1",
                                        model->inpaint ? "-inpaint" : "",
                                        model->prediction == DF_PREDICTION_V ? "-v" : "");
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
collect_names (DfModel *model)
{
  GHashTableIter iter;
  const char *name;
  int i = 0;

  model->names = g_new0 (char *, g_hash_table_size (model->tensors) + 1);
  g_hash_table_iter_init (&iter, model->tensors);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
    model->names[i++] = (char *) name;
  qsort (model->names, i, sizeof (char *), compare_names);
}

/* The shape of a tensor, or NULL when it is missing or has another rank. */
static const int64_t *
shape_of (DfModel *model, int ndim, const char *format, ...) G_GNUC_PRINTF (3, 4);

static const int64_t *
shape_of (DfModel *model, int ndim, const char *format, ...)
{
  g_autofree char *name = NULL;
  const DfTensorInfo *info;
  va_list args;

  va_start (args, format);
  name = g_strdup_vprintf (format, args);
  va_end (args);
  info = df_model_lookup (model, name);
  if (info == NULL || (ndim > 0 && info->ndim != ndim))
    return NULL;
  return info->shape;
}

/* ------------------------------------------------------------------------
 * Single files
 * ------------------------------------------------------------------------ */

static gboolean
missing (DfModel *model, const char *what, GError **error)
{
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: %s", model->display, what);
  return FALSE;
}

/* v-prediction, as the file or a sibling .yaml says (see df-model.h). */
static DfPrediction
single_file_prediction (DfModel *model, DfSafetensors *st)
{
  const char *v = df_safetensors_get_metadata (st, "prediction_type");
  g_autofree char *yaml_path = NULL;
  g_autofree char *yaml = NULL;
  const char *dot;
  gsize len = 0;

  if (v == NULL)
    v = df_safetensors_get_metadata (st, "parameterization");
  if (v != NULL)
    return strcmp (v, "v") == 0 || strcmp (v, "v_prediction") == 0 ? DF_PREDICTION_V
                                                                   : DF_PREDICTION_EPSILON;
  dot = strrchr (model->path, '.');
  if (dot == NULL || strchr (dot, G_DIR_SEPARATOR) != NULL)
    return DF_PREDICTION_EPSILON;
  yaml_path = g_strdup_printf ("%.*s.yaml", (int) (dot - model->path), model->path);
  if (!g_file_get_contents (yaml_path, &yaml, &len, NULL) || len > 1024 * 1024)
    return DF_PREDICTION_EPSILON;
  return g_regex_match_simple ("^\\s*parameterization:\\s*[\"']?v[\"']?\\s*(#.*)?$", yaml,
                               G_REGEX_MULTILINE, 0)
           ? DF_PREDICTION_V
           : DF_PREDICTION_EPSILON;
}

static gboolean
detect_single_file (DfModel *model, DfSafetensors *st, GError **error)
{
  const int64_t *s;
  gboolean openclip = FALSE;
  int n;

  /* What it is, before the mapping: other architectures refused by name */
  for (int i = 0; i < df_safetensors_n_tensors (st); i++)
    {
      const char *key = df_safetensors_get (st, i)->name;

      for (size_t m = 0; m < G_N_ELEMENTS (foreign_markers); m++)
        if (g_str_has_prefix (key, foreign_markers[m].prefix))
          {
            g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL, "%s: %s", model->display,
                         foreign_markers[m].what);
            return FALSE;
          }
      if (g_str_has_prefix (key, "cond_stage_model.model."))
        openclip = TRUE;
    }
  if (df_safetensors_lookup (st, "model.diffusion_model.input_blocks.0.0.weight") == NULL)
    return missing (model, "not a Stable Diffusion checkpoint: no UNet "
                           "(model.diffusion_model.input_blocks.0.0.weight)", error);

  if (!add_file (model, st, DF_LAYOUT_ORIGINAL, error))
    return FALSE;

  /* UNet: channels and blocks from the weights' shapes */
  s = shape_of (model, 4, "unet.conv_in.weight");
  if (s == NULL)
    return missing (model, "not a Stable Diffusion checkpoint: the UNet's conv_in is not a "
                           "convolution", error);
  model->unet.in_channels = (int) s[1];
  if (s[1] != 4 && s[1] != 9)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: a UNet with %d input channels is not supported (4, or 9 for "
                   "inpainting)", model->display, (int) s[1]);
      return FALSE;
    }
  model->inpaint = s[1] == 9;
  s = shape_of (model, 4, "unet.conv_out.weight");
  if (s == NULL)
    return missing (model, "no UNet output convolution (model.diffusion_model.out.2.weight)",
                    error);
  model->unet.out_channels = (int) s[0];
  for (n = 0; n < DF_MAX_BLOCKS; n++)
    {
      s = shape_of (model, 4, "unet.down_blocks.%d.resnets.0.conv1.weight", n);
      if (s == NULL)
        break;
      model->unet.block_out_channels[n] = (int) s[0];
      model->unet.down_block_attention[n]
        = shape_of (model, 0, "unet.down_blocks.%d.attentions.0.proj_in.weight", n) != NULL;
      model->unet.up_block_attention[n]
        = shape_of (model, 0, "unet.up_blocks.%d.attentions.0.proj_in.weight", n) != NULL;
    }
  if (n == 0)
    return missing (model, "no UNet down blocks", error);
  model->unet.n_blocks = n;
  for (int b = 0; b < n; b++)
    if (model->unet.block_out_channels[b] < 1)
      return missing (model, "a UNet block without channels", error);
  for (n = 0; shape_of (model, 4, "unet.down_blocks.0.resnets.%d.conv1.weight", n) != NULL; n++)
    ;
  model->unet.layers_per_block = n;
  s = shape_of (model, 2, "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight");
  if (s == NULL)
    return missing (model, "no UNet cross-attention in the middle block", error);
  model->unet.cross_attention_dim = (int) s[1];
  model->unet.use_linear_projection
    = shape_of (model, 2, "unet.mid_block.attentions.0.proj_in.weight") != NULL;

  /* Family: the text encoder and the context width must agree */
  if (openclip && model->unet.cross_attention_dim == 1024)
    model->family = DF_FAMILY_SD2;
  else if (!openclip && model->unet.cross_attention_dim == 768)
    model->family = DF_FAMILY_SD1;
  else
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: not a Stable Diffusion 1.x or 2.x checkpoint: a %s text encoder with a "
                   "%d-wide UNet context", model->display, openclip ? "OpenCLIP" : "CLIP",
                   model->unet.cross_attention_dim);
      return FALSE;
    }
  model->prediction = single_file_prediction (model, st);
  if (model->family == DF_FAMILY_SD2)
    {
      /* diffusers' SD 2.x config: heads of 64 channels, given per block */
      for (int b = 0; b < model->unet.n_blocks; b++)
        model->unet.attention_head_dim[b] = model->unet.block_out_channels[b] / 64;
      model->unet.attention_head_dim_is_list = TRUE;
      if (model->prediction == DF_PREDICTION_V)
        model->unet.sample_size = 96;
    }

  /* VAE */
  for (n = 0; n < DF_MAX_BLOCKS; n++)
    {
      s = shape_of (model, 4, "vae.encoder.down_blocks.%d.resnets.0.conv1.weight", n);
      if (s == NULL)
        break;
      model->vae.block_out_channels[n] = (int) s[0];
    }
  s = shape_of (model, 4, "vae.post_quant_conv.weight");
  if (n == 0 || s == NULL)
    return missing (model, "not a complete Stable Diffusion checkpoint: no VAE "
                           "(first_stage_model.*)", error);
  model->vae.n_blocks = n;
  for (int b = 0; b < n; b++)
    if (model->vae.block_out_channels[b] < 1)
      return missing (model, "a VAE block without channels", error);
  model->vae.latent_channels = (int) s[0];
  if ((s = shape_of (model, 4, "vae.encoder.conv_in.weight")) != NULL)
    model->vae.in_channels = (int) s[1];
  if ((s = shape_of (model, 4, "vae.decoder.conv_out.weight")) != NULL)
    model->vae.out_channels = (int) s[0];
  for (n = 0; shape_of (model, 4, "vae.encoder.down_blocks.0.resnets.%d.conv1.weight", n); n++)
    ;
  model->vae.layers_per_block = n;
  if (model->unet.sample_size == 96)
    model->vae.sample_size = 768;

  /* Text encoder */
  s = shape_of (model, 2, "text_encoder.text_model.embeddings.token_embedding.weight");
  if (s == NULL)
    return missing (model, "not a complete Stable Diffusion checkpoint: no text encoder "
                           "(cond_stage_model.*)", error);
  model->clip.vocab_size = (int) s[0];
  model->clip.hidden_size = (int) s[1];
  model->clip.num_attention_heads = model->clip.hidden_size / 64;
  s = shape_of (model, 2, "text_encoder.text_model.embeddings.position_embedding.weight");
  if (s != NULL)
    model->clip.max_position_embeddings = (int) s[0];
  s = shape_of (model, 2, "text_encoder.text_model.encoder.layers.0.mlp.fc1.weight");
  if (s != NULL)
    model->clip.intermediate_size = (int) s[0];
  for (n = 0; shape_of (model, 0, "text_encoder.text_model.encoder.layers.%d.layer_norm1.weight",
                        n) != NULL; n++)
    ;
  model->clip.num_hidden_layers = n;
  if (model->clip.hidden_size != model->unet.cross_attention_dim
      || n < (model->family == DF_FAMILY_SD2 ? 2 : 1))
    return missing (model, "the text encoder does not fit the UNet (width or layer count)",
                    error);
  if (model->family == DF_FAMILY_SD2)
    {
      /* SD 2.x takes OpenCLIP's penultimate layer: like diffusers, drop
       * the last resblock and keep ln_final. */
      g_autofree char *prefix
        = g_strdup_printf ("text_encoder.text_model.encoder.layers.%d.", n - 1);
      GHashTableIter iter;
      const char *name;

      g_hash_table_iter_init (&iter, model->tensors);
      while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
        if (g_str_has_prefix (name, prefix))
          {
            g_hash_table_iter_remove (&iter);
            model->n_ignored++;
          }
      model->clip.num_hidden_layers = n - 1;
      model->clip.hidden_act = DF_ACT_GELU;
      model->clip.projection_dim = 512;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------
 * diffusers folders
 * ------------------------------------------------------------------------ */

static JsonObject *
read_json (DfModel *model, const char *dir, const char *name, JsonParser **parser_out,
           GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *display = g_filename_display_name (path);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  JsonNode *root;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: missing", display);
      return NULL;
    }
  if (!json_parser_load_from_mapped_file (parser, path, &local))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: not valid JSON (%s)", display,
                   local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: not a JSON object", display);
      return NULL;
    }
  *parser_out = g_steal_pointer (&parser);
  return json_node_get_object (root);
}

/* An integer member, checked to lie in [lo, hi]; absent keeps *out. */
static gboolean
get_int (JsonObject *obj, const char *member, int lo, int hi, int *out, const char *file,
         GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < lo || json_node_get_int (node) > hi)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                   "%s: “%s” should be an integer from %d to %d", file, member, lo, hi);
      return FALSE;
    }
  *out = (int) json_node_get_int (node);
  return TRUE;
}

static gboolean
get_float (JsonObject *obj, const char *member, float *out, const char *file, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node)
      || (json_node_get_value_type (node) != G_TYPE_DOUBLE
          && json_node_get_value_type (node) != G_TYPE_INT64))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: “%s” should be a number", file,
                   member);
      return FALSE;
    }
  *out = (float) json_node_get_double (node);
  return TRUE;
}

static gboolean
get_bool (JsonObject *obj, const char *member, gboolean *out, const char *file, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: “%s” should be true or false",
                   file, member);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* An integer list of 1..DF_MAX_BLOCKS entries; *n receives the count.  A
 * single integer is taken as that value for every block. */
static gboolean
get_int_list (JsonObject *obj, const char *member, int *out, int *n, gboolean *is_list,
              const char *file, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  JsonArray *array;
  guint len;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    {
      int v = 0;

      if (!get_int (obj, member, 1, 65536, &v, file, error))
        return FALSE;
      for (int i = 0; i < DF_MAX_BLOCKS; i++)
        out[i] = v;
      if (is_list != NULL)
        *is_list = FALSE;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    goto bad;
  array = json_node_get_array (node);
  len = json_array_get_length (array);
  if (len < 1 || len > DF_MAX_BLOCKS)
    goto bad;
  for (guint i = 0; i < len; i++)
    {
      JsonNode *e = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
          || json_node_get_int (e) < 1 || json_node_get_int (e) > 65536)
        goto bad;
      out[i] = (int) json_node_get_int (e);
    }
  if (n != NULL)
    *n = (int) len;
  if (is_list != NULL)
    *is_list = TRUE;
  return TRUE;

bad:
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
               "%s: “%s” should be a list of 1 to %d positive integers", file, member,
               DF_MAX_BLOCKS);
  return FALSE;
}

static const char *
get_string (JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* Block types: which blocks have cross-attention. */
static gboolean
get_block_types (JsonObject *obj, const char *member, gboolean *attention, int n_blocks,
                 const char *file, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  JsonArray *array;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (json_node_get_array (node)) != (guint) n_blocks)
    goto bad;
  array = json_node_get_array (node);
  for (int i = 0; i < n_blocks; i++)
    {
      JsonNode *e = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        goto bad;
      attention[i] = g_str_has_prefix (json_node_get_string (e), "CrossAttn");
    }
  return TRUE;

bad:
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
               "%s: “%s” should list one block type per block", file, member);
  return FALSE;
}

static gboolean
read_unet_config (DfModel *model, const char *dir, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autofree char *file = g_build_filename (model->display, "unet", "config.json", NULL);
  JsonObject *c = read_json (model, dir, "config.json", &parser, error);
  DfUNetConfig *u = &model->unet;
  int n = u->n_blocks;

  if (c == NULL)
    return FALSE;
  if (get_string (c, "addition_embed_type") != NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: SDXL models are not supported yet (the UNet has addition_embed_type)",
                   model->display);
      return FALSE;
    }
  if (!get_int (c, "in_channels", 1, 64, &u->in_channels, file, error)
      || !get_int (c, "out_channels", 1, 64, &u->out_channels, file, error)
      || !get_int_list (c, "block_out_channels", u->block_out_channels, &n, NULL, file, error)
      || !get_int (c, "layers_per_block", 1, 16, &u->layers_per_block, file, error)
      || !get_int_list (c, "attention_head_dim", u->attention_head_dim, NULL,
                        &u->attention_head_dim_is_list, file, error)
      || !get_int (c, "cross_attention_dim", 1, 65536, &u->cross_attention_dim, file, error)
      || !get_bool (c, "use_linear_projection", &u->use_linear_projection, file, error)
      || !get_int (c, "sample_size", 1, 4096, &u->sample_size, file, error)
      || !get_int (c, "norm_num_groups", 1, 1024, &u->norm_num_groups, file, error)
      || !get_float (c, "norm_eps", &u->norm_eps, file, error)
      || !get_bool (c, "flip_sin_to_cos", &u->flip_sin_to_cos, file, error)
      || !get_float (c, "freq_shift", &u->freq_shift, file, error))
    return FALSE;
  u->n_blocks = n;
  if (!get_block_types (c, "down_block_types", u->down_block_attention, n, file, error)
      || !get_block_types (c, "up_block_types", u->up_block_attention, n, file, error))
    return FALSE;
  return TRUE;
}

static gboolean
read_vae_config (DfModel *model, const char *dir, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autofree char *file = g_build_filename (model->display, "vae", "config.json", NULL);
  JsonObject *c = read_json (model, dir, "config.json", &parser, error);
  DfVAEConfig *v = &model->vae;

  if (c == NULL)
    return FALSE;
  return get_int (c, "in_channels", 1, 64, &v->in_channels, file, error)
         && get_int (c, "out_channels", 1, 64, &v->out_channels, file, error)
         && get_int (c, "latent_channels", 1, 64, &v->latent_channels, file, error)
         && get_int_list (c, "block_out_channels", v->block_out_channels, &v->n_blocks, NULL,
                          file, error)
         && get_int (c, "layers_per_block", 1, 16, &v->layers_per_block, file, error)
         && get_int (c, "norm_num_groups", 1, 1024, &v->norm_num_groups, file, error)
         && get_int (c, "sample_size", 1, 8192, &v->sample_size, file, error)
         && get_float (c, "scaling_factor", &v->scaling_factor, file, error);
}

static gboolean
read_clip_config (DfModel *model, const char *dir, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autofree char *file = g_build_filename (model->display, "text_encoder", "config.json", NULL);
  JsonObject *c = read_json (model, dir, "config.json", &parser, error);
  DfClipConfig *t = &model->clip;
  const char *act;

  if (c == NULL)
    return FALSE;
  if (!get_int (c, "hidden_size", 1, 65536, &t->hidden_size, file, error)
      || !get_int (c, "intermediate_size", 1, 1 << 20, &t->intermediate_size, file, error)
      || !get_int (c, "num_hidden_layers", 1, 256, &t->num_hidden_layers, file, error)
      || !get_int (c, "num_attention_heads", 1, 256, &t->num_attention_heads, file, error)
      || !get_int (c, "max_position_embeddings", 1, 1 << 16, &t->max_position_embeddings, file,
                   error)
      || !get_int (c, "vocab_size", 1, 1 << 24, &t->vocab_size, file, error)
      || !get_int (c, "projection_dim", 1, 65536, &t->projection_dim, file, error)
      || !get_float (c, "layer_norm_eps", &t->layer_norm_eps, file, error))
    return FALSE;
  act = get_string (c, "hidden_act");
  if (act != NULL && strcmp (act, "quick_gelu") == 0)
    t->hidden_act = DF_ACT_QUICK_GELU;
  else if (act != NULL && strcmp (act, "gelu") == 0)
    t->hidden_act = DF_ACT_GELU;
  else if (act != NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: hidden_act “%s” is not supported (quick_gelu or gelu)", file, act);
      return FALSE;
    }
  return TRUE;
}

/* Opens the component's weights: NAME.safetensors, else NAME.fp16.safetensors. */
static gboolean
open_component (DfModel *model, const char *dir, const char *name, DfLayout layout,
                GError **error)
{
  static const char *const suffixes[] = { ".safetensors", ".fp16.safetensors" };
  static const char *const pickles[] = { ".bin", ".fp16.bin" };
  g_autofree char *display = g_filename_display_name (dir);

  for (size_t i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (name, suffixes[i], NULL);
      g_autofree char *path = g_build_filename (dir, file, NULL);
      DfSafetensors *st;

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        continue;
      st = df_safetensors_open_full (path, DF_SAFETENSORS_ALLOW_OTHER_DTYPES, error);
      if (st == NULL)
        return FALSE;
      g_ptr_array_add (model->files, st);
      return add_file (model, st, layout, error);
    }
  {
    g_autofree char *index = g_strconcat (name, ".safetensors.index.json", NULL);
    g_autofree char *path = g_build_filename (dir, index, NULL);

    if (g_file_test (path, G_FILE_TEST_EXISTS))
      {
        g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                     "%s: weights split into several files are not supported yet", display);
        return FALSE;
      }
  }
  for (size_t i = 0; i < G_N_ELEMENTS (pickles); i++)
    {
      g_autofree char *file = g_strconcat (name, pickles[i], NULL);
      g_autofree char *path = g_build_filename (dir, file, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return refuse_pickle (path, error);
    }
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: no %s.safetensors", display, name);
  return FALSE;
}

static const char *const supported_pipelines[] = {
  "StableDiffusionPipeline",
  "StableDiffusionImg2ImgPipeline",
  "StableDiffusionInpaintPipeline",
  "StableDiffusionInpaintPipelineLegacy",
};

static gboolean
open_diffusers (DfModel *model, GError **error)
{
  g_autoptr (JsonParser) index_parser = NULL;
  g_autoptr (JsonParser) sched_parser = NULL;
  g_autofree char *unet_dir = g_build_filename (model->path, "unet", NULL);
  g_autofree char *vae_dir = g_build_filename (model->path, "vae", NULL);
  g_autofree char *text_dir = g_build_filename (model->path, "text_encoder", NULL);
  g_autofree char *sched_dir = g_build_filename (model->path, "scheduler", NULL);
  g_autofree char *tok_dir = g_build_filename (model->path, "tokenizer", NULL);
  JsonObject *index;
  const char *class_name;
  gboolean known = FALSE;

  index = read_json (model, model->path, "model_index.json", &index_parser, error);
  if (index == NULL)
    return FALSE;
  class_name = get_string (index, "_class_name");
  if (json_object_has_member (index, "text_encoder_2")
      || (class_name != NULL && strstr (class_name, "XL") != NULL))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: SDXL models are not supported yet", model->display);
      return FALSE;
    }
  for (size_t i = 0; class_name != NULL && i < G_N_ELEMENTS (supported_pipelines); i++)
    if (strcmp (class_name, supported_pipelines[i]) == 0)
      known = TRUE;
  if (!known)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: not a Stable Diffusion checkpoint: the pipeline is “%s”", model->display,
                   class_name != NULL ? class_name : "unnamed");
      return FALSE;
    }

  if (!read_unet_config (model, unet_dir, error) || !read_vae_config (model, vae_dir, error)
      || !read_clip_config (model, text_dir, error))
    return FALSE;
  if (g_file_test (sched_dir, G_FILE_TEST_IS_DIR))
    {
      JsonObject *sched = read_json (model, sched_dir, "scheduler_config.json", &sched_parser,
                                     error);
      const char *pred;

      if (sched == NULL)
        return FALSE;
      pred = get_string (sched, "prediction_type");
      model->prediction = pred != NULL && strcmp (pred, "v_prediction") == 0
                            ? DF_PREDICTION_V
                            : DF_PREDICTION_EPSILON;
    }
  if (g_file_test (tok_dir, G_FILE_TEST_IS_DIR))
    model->tokenizer_dir = g_steal_pointer (&tok_dir);

  if (!open_component (model, unet_dir, "diffusion_pytorch_model", DF_LAYOUT_DIFFUSERS_UNET,
                       error)
      || !open_component (model, vae_dir, "diffusion_pytorch_model", DF_LAYOUT_DIFFUSERS_VAE,
                          error)
      || !open_component (model, text_dir, "model", DF_LAYOUT_DIFFUSERS_TEXT, error))
    return FALSE;

  if (model->unet.cross_attention_dim == 768 && model->clip.hidden_size == 768)
    model->family = DF_FAMILY_SD1;
  else if (model->unet.cross_attention_dim == 1024 && model->clip.hidden_size == 1024)
    model->family = DF_FAMILY_SD2;
  else if ((model->flags & DF_MODEL_OPEN_ANY_SIZE)
           && model->unet.cross_attention_dim == model->clip.hidden_size)
    /* scaled-down test models: the text encoder's activation tells */
    model->family = model->clip.hidden_act == DF_ACT_GELU ? DF_FAMILY_SD2 : DF_FAMILY_SD1;
  else
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: not a Stable Diffusion 1.x or 2.x model: a %d-wide text encoder with a "
                   "%d-wide UNet context", model->display, model->clip.hidden_size,
                   model->unet.cross_attention_dim);
      return FALSE;
    }
  if (model->unet.in_channels != 4 && model->unet.in_channels != 9)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: a UNet with %d input channels is not supported (4, or 9 for "
                   "inpainting)", model->display, model->unet.in_channels);
      return FALSE;
    }
  model->inpaint = model->unet.in_channels == 9;

  /* The config must describe the weights we were given. */
  {
    const int64_t *s = shape_of (model, 4, "unet.conv_in.weight");

    if (s == NULL || s[1] != model->unet.in_channels)
      return missing (model, "the UNet's weights do not match unet/config.json (conv_in)",
                      error);
  }
  return TRUE;
}

/* ------------------------------------------------------------------------
 * Models made in memory (the synthetic full-size models)
 * ------------------------------------------------------------------------ */

void
df_model_sd15_configs (DfUNetConfig *unet, DfVAEConfig *vae, DfClipConfig *clip)
{
  DfModel tmp = { 0 };

  set_defaults (&tmp);
  *unet = tmp.unet;
  *vae = tmp.vae;
  *clip = tmp.clip;
}

void
df_tensor_info_free_owned (DfTensorInfo *info)
{
  if (info == NULL)
    return;
  g_free ((char *) info->name);
  g_free ((void *) info->data);
  g_free (info);
}

DfModel *
df_model_new_from_tensors (const char *display, DfFamily family, const DfUNetConfig *unet,
                           const DfVAEConfig *vae, const DfClipConfig *clip, GPtrArray *infos)
{
  DfModel *model = g_new0 (DfModel, 1);

  model->path = g_strdup (display);
  model->display = g_strdup (display);
  model->files = g_ptr_array_new_with_free_func ((GDestroyNotify) df_safetensors_free);
  model->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, model_tensor_free);
  model->owned_data = g_ptr_array_new_with_free_func (g_free);
  set_defaults (model);
  model->unet = *unet;
  model->vae = *vae;
  model->clip = *clip;
  model->family = family;
  model->inpaint = unet->in_channels == 9;
  model->prediction = DF_PREDICTION_EPSILON;
  for (guint i = 0; i < infos->len; i++)
    {
      DfTensorInfo *info = g_ptr_array_index (infos, i);
      ModelTensor *mt = g_new0 (ModelTensor, 1);

      mt->info = *info; /* takes the name */
      mt->transform = DF_TRANSFORM_NONE;
      mt->source = mt->info.name;
      g_ptr_array_add (model->owned_data, (gpointer) info->data);
      g_hash_table_replace (model->tensors, (gpointer) mt->info.name, mt);
      g_free (info);
      infos->pdata[i] = NULL; /* taken: the free function sees NULL */
    }
  g_ptr_array_set_size (infos, 0);
  set_family_name (model);
  collect_names (model);
  return model;
}

/* ------------------------------------------------------------------------ */

DfModel *
df_model_open (const char *path, GError **error)
{
  return df_model_open_full (path, DF_MODEL_OPEN_DEFAULT, error);
}

DfModel *
df_model_open_full (const char *path, DfModelOpenFlags flags, GError **error)
{
  g_autoptr (DfModel) model = g_new0 (DfModel, 1);

  model->flags = flags;
  model->path = g_strdup (path);
  model->display = g_filename_display_name (path);
  model->files = g_ptr_array_new_with_free_func ((GDestroyNotify) df_safetensors_free);
  model->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, model_tensor_free);
  set_defaults (model);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      model->diffusers = TRUE;
      if (!open_diffusers (model, error))
        return NULL;
    }
  else
    {
      DfSafetensors *st;

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, DF_ERROR, DF_ERROR_IO, "%s: no such file or folder",
                       model->display);
          return NULL;
        }
      if (!refuse_pickle (path, error))
        return NULL;
      st = df_safetensors_open_full (path, DF_SAFETENSORS_ALLOW_OTHER_DTYPES, error);
      if (st == NULL)
        return NULL;
      g_ptr_array_add (model->files, st);
      if (!detect_single_file (model, st, error))
        return NULL;
    }
  set_family_name (model);
  collect_names (model);
  return g_steal_pointer (&model);
}
