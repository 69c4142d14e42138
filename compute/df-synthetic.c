/* df-synthetic.c — full-size models without weight files: every tensor the
 * networks read, enumerated from the configs, with values defined by a hash
 * of the tensor's name and the element's index.  A Python script
 * (tests/reference/make_fullsize_golden.py) implements the same rule, so
 * diffusers can run the same model and a full-size checkpoint never needs
 * to be stored.
 *
 * The rule, for a tensor NAME (internal name, e.g. "unet.conv_in.weight")
 * of shape S and element index i (row-major):
 *
 *   h     = FNV-1a 64 of the bytes of NAME
 *   z     = h + (i + 1) · 0x9E3779B97F4A7C15            (mod 2^64)
 *   z     = (z ^ (z >> 30)) · 0xBF58476D1CE4E5B9;  z = (z ^ (z >> 27)) · 0x94D049BB133111EB
 *   z     = z ^ (z >> 31)                               (splitmix64)
 *   u     = (z >> 40) / 2^24                            in [0, 1)
 *   value = offset + scale · (2u − 1)                   in double
 *   stored as the nearest fp16 (round to nearest even)
 *
 *   1-D ".weight" (norm gains):  offset 1, scale 0.1
 *   ".bias":                     offset 0, scale 0.02
 *   others:                      offset 0, scale sqrt(3 / fan_in), fan_in =
 *                                product of S[1:] (unit variance through
 *                                linear and conv layers)
 */
#include <math.h>
#include <string.h>

#include "df.h"

static void G_GNUC_PRINTF (3, 4)
add (GPtrArray *list, const int64_t *shape, const char *format, ...)
{
  DfTensorInfo *e = g_new0 (DfTensorInfo, 1);
  va_list ap;

  va_start (ap, format);
  e->name = g_strdup_vprintf (format, ap);
  va_end (ap);
  e->dtype = DF_FILE_F16;
  e->dtype_name = "F16";
  for (e->ndim = 0; e->ndim < 4 && shape[e->ndim] > 0; e->ndim++)
    e->shape[e->ndim] = shape[e->ndim];
  e->nbytes = (size_t) df_tensor_info_numel (e) * 2;
  g_ptr_array_add (list, e);
}

#define S(...) ((const int64_t[]){ __VA_ARGS__, 0 })

static void
add_norm (GPtrArray *list, int64_t c, const char *name)
{
  add (list, S (c), "%s.weight", name);
  add (list, S (c), "%s.bias", name);
}

static void
add_linear (GPtrArray *list, int64_t out, int64_t in, gboolean bias, const char *name)
{
  add (list, S (out, in), "%s.weight", name);
  if (bias)
    add (list, S (out), "%s.bias", name);
}

static void
add_conv (GPtrArray *list, int64_t out, int64_t in, int64_t k, const char *name)
{
  add (list, S (out, in, k, k), "%s.weight", name);
  add (list, S (out), "%s.bias", name);
}

/* ResnetBlock2D; temb_dim 0 for the VAE's. */
static void
add_resnet (GPtrArray *list, int64_t in, int64_t out, int64_t temb_dim, const char *name)
{
  g_autofree char *n1 = g_strdup_printf ("%s.norm1", name);
  g_autofree char *c1 = g_strdup_printf ("%s.conv1", name);
  g_autofree char *t = g_strdup_printf ("%s.time_emb_proj", name);
  g_autofree char *n2 = g_strdup_printf ("%s.norm2", name);
  g_autofree char *c2 = g_strdup_printf ("%s.conv2", name);
  g_autofree char *sc = g_strdup_printf ("%s.conv_shortcut", name);

  add_norm (list, in, n1);
  add_conv (list, out, in, 3, c1);
  if (temb_dim > 0)
    add_linear (list, out, temb_dim, TRUE, t);
  add_norm (list, out, n2);
  add_conv (list, out, out, 3, c2);
  if (in != out)
    add_conv (list, out, in, 1, sc);
}

/* Transformer2DModel with one BasicTransformerBlock. */
static void
add_transformer (GPtrArray *list, int64_t c, int64_t ctx_dim, gboolean linear,
                 const char *name)
{
  static const char *const attn[] = { "attn1", "attn2" };
  g_autofree char *norm = g_strdup_printf ("%s.norm", name);
  g_autofree char *pin = g_strdup_printf ("%s.proj_in", name);
  g_autofree char *pout = g_strdup_printf ("%s.proj_out", name);

  add_norm (list, c, norm);
  if (linear)
    add_linear (list, c, c, TRUE, pin);
  else
    add_conv (list, c, c, 1, pin);
  for (int a = 0; a < 2; a++)
    {
      int64_t kv_in = a == 0 ? c : ctx_dim;
      g_autofree char *q = g_strdup_printf ("%s.transformer_blocks.0.%s.to_q", name, attn[a]);
      g_autofree char *k = g_strdup_printf ("%s.transformer_blocks.0.%s.to_k", name, attn[a]);
      g_autofree char *v = g_strdup_printf ("%s.transformer_blocks.0.%s.to_v", name, attn[a]);
      g_autofree char *o = g_strdup_printf ("%s.transformer_blocks.0.%s.to_out.0", name, attn[a]);
      add_linear (list, c, c, FALSE, q);
      add_linear (list, c, kv_in, FALSE, k);
      add_linear (list, c, kv_in, FALSE, v);
      add_linear (list, c, c, TRUE, o);
    }
  for (int i = 1; i <= 3; i++)
    {
      g_autofree char *n = g_strdup_printf ("%s.transformer_blocks.0.norm%d", name, i);
      add_norm (list, c, n);
    }
  {
    g_autofree char *ff0 = g_strdup_printf ("%s.transformer_blocks.0.ff.net.0.proj", name);
    g_autofree char *ff2 = g_strdup_printf ("%s.transformer_blocks.0.ff.net.2", name);
    add_linear (list, 8 * c, c, TRUE, ff0);
    add_linear (list, c, 4 * c, TRUE, ff2);
  }
  if (linear)
    add_linear (list, c, c, TRUE, pout);
  else
    add_conv (list, c, c, 1, pout);
}

static void
list_unet (GPtrArray *list, const DfUNetConfig *u)
{
  const int n = u->n_blocks;
  const int64_t c0 = u->block_out_channels[0], temb = 4 * c0;
  const int64_t ctx = u->cross_attention_dim;
  const gboolean lin = u->use_linear_projection;
  char name[160];

  add_linear (list, temb, c0, TRUE, "unet.time_embedding.linear_1");
  add_linear (list, temb, temb, TRUE, "unet.time_embedding.linear_2");
  add_conv (list, c0, u->in_channels, 3, "unet.conv_in");

  for (int b = 0; b < n; b++)
    {
      int64_t out = u->block_out_channels[b];
      int64_t in = b == 0 ? c0 : u->block_out_channels[b - 1];
      for (int l = 0; l < u->layers_per_block; l++)
        {
          g_snprintf (name, sizeof name, "unet.down_blocks.%d.resnets.%d", b, l);
          add_resnet (list, l == 0 ? in : out, out, temb, name);
          if (u->down_block_attention[b])
            {
              g_snprintf (name, sizeof name, "unet.down_blocks.%d.attentions.%d", b, l);
              add_transformer (list, out, ctx, lin, name);
            }
        }
      if (b < n - 1)
        {
          g_snprintf (name, sizeof name, "unet.down_blocks.%d.downsamplers.0.conv", b);
          add_conv (list, out, out, 3, name);
        }
    }

  {
    int64_t c = u->block_out_channels[n - 1];
    add_resnet (list, c, c, temb, "unet.mid_block.resnets.0");
    add_transformer (list, c, ctx, lin, "unet.mid_block.attentions.0");
    add_resnet (list, c, c, temb, "unet.mid_block.resnets.1");
  }

  for (int b = 0; b < n; b++)
    {
      int64_t out = u->block_out_channels[n - 1 - b];
      int64_t prev = u->block_out_channels[n - 1 - MAX (b - 1, 0)];
      int64_t in = u->block_out_channels[n - 1 - MIN (b + 1, n - 1)];
      for (int l = 0; l < u->layers_per_block + 1; l++)
        {
          int64_t skip = l == u->layers_per_block ? in : out;
          int64_t res_in = l == 0 ? prev : out;
          g_snprintf (name, sizeof name, "unet.up_blocks.%d.resnets.%d", b, l);
          add_resnet (list, res_in + skip, out, temb, name);
          if (u->up_block_attention[b])
            {
              g_snprintf (name, sizeof name, "unet.up_blocks.%d.attentions.%d", b, l);
              add_transformer (list, out, ctx, lin, name);
            }
        }
      if (b < n - 1)
        {
          g_snprintf (name, sizeof name, "unet.up_blocks.%d.upsamplers.0.conv", b);
          add_conv (list, out, out, 3, name);
        }
    }
  add_norm (list, c0, "unet.conv_norm_out");
  add_conv (list, u->out_channels, c0, 3, "unet.conv_out");
}

static void
add_vae_attention (GPtrArray *list, int64_t c, const char *part)
{
  char name[160];
  static const char *const proj[] = { "to_q", "to_k", "to_v", "to_out.0" };

  g_snprintf (name, sizeof name, "vae.%s.mid_block.attentions.0.group_norm", part);
  add_norm (list, c, name);
  for (int i = 0; i < 4; i++)
    {
      g_snprintf (name, sizeof name, "vae.%s.mid_block.attentions.0.%s", part, proj[i]);
      add_linear (list, c, c, TRUE, name);
    }
}

static void
add_vae_mid (GPtrArray *list, int64_t c, const char *part)
{
  char name[160];

  g_snprintf (name, sizeof name, "vae.%s.mid_block.resnets.0", part);
  add_resnet (list, c, c, 0, name);
  add_vae_attention (list, c, part);
  g_snprintf (name, sizeof name, "vae.%s.mid_block.resnets.1", part);
  add_resnet (list, c, c, 0, name);
}

static void
list_vae (GPtrArray *list, const DfVAEConfig *v)
{
  const int n = v->n_blocks;
  const int64_t c0 = v->block_out_channels[0], clast = v->block_out_channels[n - 1];
  const int64_t lat = v->latent_channels;
  char name[160];

  add_conv (list, c0, v->in_channels, 3, "vae.encoder.conv_in");
  for (int b = 0; b < n; b++)
    {
      int64_t out = v->block_out_channels[b];
      int64_t in = b == 0 ? c0 : v->block_out_channels[b - 1];
      for (int l = 0; l < v->layers_per_block; l++)
        {
          g_snprintf (name, sizeof name, "vae.encoder.down_blocks.%d.resnets.%d", b, l);
          add_resnet (list, l == 0 ? in : out, out, 0, name);
        }
      if (b < n - 1)
        {
          g_snprintf (name, sizeof name, "vae.encoder.down_blocks.%d.downsamplers.0.conv", b);
          add_conv (list, out, out, 3, name);
        }
    }
  add_vae_mid (list, clast, "encoder");
  add_norm (list, clast, "vae.encoder.conv_norm_out");
  add_conv (list, 2 * lat, clast, 3, "vae.encoder.conv_out");
  add_conv (list, 2 * lat, 2 * lat, 1, "vae.quant_conv");
  add_conv (list, lat, lat, 1, "vae.post_quant_conv");

  add_conv (list, clast, lat, 3, "vae.decoder.conv_in");
  add_vae_mid (list, clast, "decoder");
  for (int b = 0; b < n; b++)
    {
      int64_t out = v->block_out_channels[n - 1 - b];
      int64_t prev = v->block_out_channels[n - 1 - MAX (b - 1, 0)];
      for (int l = 0; l < v->layers_per_block + 1; l++)
        {
          g_snprintf (name, sizeof name, "vae.decoder.up_blocks.%d.resnets.%d", b, l);
          add_resnet (list, l == 0 ? prev : out, out, 0, name);
        }
      if (b < n - 1)
        {
          g_snprintf (name, sizeof name, "vae.decoder.up_blocks.%d.upsamplers.0.conv", b);
          add_conv (list, out, out, 3, name);
        }
    }
  add_norm (list, c0, "vae.decoder.conv_norm_out");
  add_conv (list, v->out_channels, c0, 3, "vae.decoder.conv_out");
}

static void
list_clip (GPtrArray *list, const DfClipConfig *c)
{
  const int64_t w = c->hidden_size;
  char name[160];
  static const char *const proj[] = { "q_proj", "k_proj", "v_proj", "out_proj" };

  add (list, S (c->vocab_size, w), "text_encoder.text_model.embeddings.token_embedding.weight");
  add (list, S (c->max_position_embeddings, w),
       "text_encoder.text_model.embeddings.position_embedding.weight");
  for (int i = 0; i < c->num_hidden_layers; i++)
    {
      for (int p = 0; p < 4; p++)
        {
          g_snprintf (name, sizeof name, "text_encoder.text_model.encoder.layers.%d.self_attn.%s",
                      i, proj[p]);
          add_linear (list, w, w, TRUE, name);
        }
      g_snprintf (name, sizeof name, "text_encoder.text_model.encoder.layers.%d.layer_norm1", i);
      add_norm (list, w, name);
      g_snprintf (name, sizeof name, "text_encoder.text_model.encoder.layers.%d.layer_norm2", i);
      add_norm (list, w, name);
      g_snprintf (name, sizeof name, "text_encoder.text_model.encoder.layers.%d.mlp.fc1", i);
      add_linear (list, c->intermediate_size, w, TRUE, name);
      g_snprintf (name, sizeof name, "text_encoder.text_model.encoder.layers.%d.mlp.fc2", i);
      add_linear (list, w, c->intermediate_size, TRUE, name);
    }
  add_norm (list, w, "text_encoder.text_model.final_layer_norm");
}

GPtrArray *
df_synthetic_tensor_list (const DfUNetConfig *unet, const DfVAEConfig *vae,
                          const DfClipConfig *clip)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) df_tensor_info_free_owned);

  if (clip)
    list_clip (list, clip);
  if (unet)
    list_unet (list, unet);
  if (vae)
    list_vae (list, vae);
  return list;
}

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

static uint64_t
fnv1a64 (const char *s)
{
  uint64_t h = 0xcbf29ce484222325ull;

  for (; *s; s++)
    {
      h ^= (uint8_t) *s;
      h *= 0x100000001b3ull;
    }
  return h;
}

void
df_synthetic_fill (const char *name, int ndim, const int64_t *shape, uint16_t *out)
{
  uint64_t h = fnv1a64 (name);
  int64_t n = 1, fan_in = 1;
  double offset = 0, scale;

  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  for (int i = 1; i < ndim; i++)
    fan_in *= shape[i];
  if (g_str_has_suffix (name, ".bias"))
    scale = 0.02;
  else if (ndim == 1)
    offset = 1.0, scale = 0.1;
  else
    scale = sqrt (3.0 / (double) fan_in);

  for (int64_t i = 0; i < n; i++)
    {
      uint64_t z = h + (uint64_t) (i + 1) * 0x9E3779B97F4A7C15ull;
      double u;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      u = (double) (z >> 40) / 16777216.0;
      out[i] = df_f32_to_f16 ((float) (offset + scale * (2.0 * u - 1.0)));
    }
}

DfModel *
df_synthetic_model_new (const char *family, GError **error)
{
  DfUNetConfig unet;
  DfVAEConfig vae;
  DfClipConfig clip;
  g_autoptr (GPtrArray) list = NULL;

  if (g_strcmp0 (family, "sd15") != 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "Unknown synthetic model “%s” (known: sd15)", family);
      return NULL;
    }
  df_model_sd15_configs (&unet, &vae, &clip);
  list = df_synthetic_tensor_list (&unet, &vae, &clip);
  for (guint i = 0; i < list->len; i++)
    {
      DfTensorInfo *info = g_ptr_array_index (list, i);
      uint16_t *data = g_try_malloc (MAX (info->nbytes, 2));

      if (data == NULL)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_OUT_OF_DEVICE_MEMORY,
                       "Out of host memory making the synthetic model");
          return NULL;
        }
      df_synthetic_fill (info->name, info->ndim, info->shape, data);
      info->data = data;
    }
  /* the model takes the infos; the array is left empty */
  return df_model_new_from_tensors ("synthetic SD 1.5", DF_FAMILY_SD1, &unet, &vae, &clip, list);
}
