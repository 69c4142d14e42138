/* df-unet.c — the UNet (diffusers' UNet2DConditionModel) as SD 1.x, SD 1.x
 * inpainting and SD 2.x configure it.
 *
 *   emb  = time_embedding(timestep_embedding(t))                 [B, 4·C0]
 *   x    = conv_in(sample)                                       [B, C0, h, w]
 *   down: per block, layers_per_block × (resnet, transformer if cross-attn),
 *         then a stride-2 conv except in the last block; every output kept
 *   mid:  resnet, transformer, resnet
 *   up:   per block (channels reversed), (layers_per_block + 1) × (concat
 *         the latest kept output, resnet, transformer if cross-attn), then
 *         nearest 2× + conv except in the last block
 *   out  = conv_out(SiLU(GroupNorm(x)))
 *
 * diffusers names the config's head count "attention_head_dim" (for SD 1.x
 * 8 in every block; SD 2.x 5, 10, 20, 20): each transformer has that many
 * heads of width channels / heads. */
#include <math.h>
#include <string.h>

#include "df-nn.h"

#define GN_GROUPS(u) ((u)->config.norm_num_groups)

struct _DfUNet
{
  DfContext *ctx;
  DfUNetConfig config;
  DfWeights *w;
  /* to_k and to_v of every attn2 ("….attn2.to_k"), in name order */
  GPtrArray *text_linears;
};

/* The keys and values of every cross-attention for one context: they
 * depend on the text alone, so a picture computes them once, not in each
 * of its steps. */
struct _DfUNetText
{
  int64_t batch;
  GHashTable *kv; /* "<transformer block>.attn2.to_k" / ".to_v" → DfTensor* */
};

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The names of to_k and to_v of every cross-attention (without
 * ".weight"), in name order so that every picture records the same. */
static GPtrArray *
text_linears (DfWeights *w)
{
  static const char *const suffixes[2] = { ".attn2.to_k.weight", ".attn2.to_v.weight" };
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autofree const char **names = NULL;
  guint n_names;

  names = (const char **) g_hash_table_get_keys_as_array (w->tensors, &n_names);
  qsort (names, n_names, sizeof *names, compare_names);
  for (guint i = 0; i < n_names; i++)
    for (int j = 0; j < 2; j++)
      if (g_str_has_suffix (names[i], suffixes[j]))
        g_ptr_array_add (out, g_strndup (names[i], strlen (names[i]) - strlen (".weight")));
  return out;
}

DfUNet *
df_unet_new (DfContext *ctx, DfModel *model, DfDType dtype, GError **error)
{
  g_autoptr (DfUNet) unet = g_new0 (DfUNet, 1);
  const DfUNetConfig *c = df_model_get_unet_config (model);

  unet->ctx = ctx;
  unet->config = *c;
  if (c->n_blocks < 1 || c->n_blocks > DF_MAX_BLOCKS || c->layers_per_block < 1
      || c->norm_num_groups < 1)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "Invalid UNet configuration");
      return NULL;
    }
  unet->w = df_weights_load (ctx, model, "unet.", dtype, error);
  if (unet->w == NULL)
    return NULL;
  unet->text_linears = text_linears (unet->w);
  return g_steal_pointer (&unet);
}

void
df_unet_free (DfUNet *unet)
{
  if (unet == NULL)
    return;
  df_weights_free (unet->w);
  if (unet->text_linears != NULL)
    g_ptr_array_unref (unet->text_linears);
  g_free (unet);
}

const DfUNetConfig *
df_unet_get_config (DfUNet *unet)
{
  return &unet->config;
}

uint64_t
df_unet_get_weight_bytes (DfUNet *unet)
{
  return unet->w->bytes;
}

static int
heads_of_block (DfUNet *u, int block)
{
  const DfUNetConfig *c = &u->config;

  return c->attention_head_dim_is_list ? c->attention_head_dim[block] : c->attention_head_dim[0];
}

/* ResnetBlock2D: x [B, Ci, h, w], emb_act = SiLU(emb) [B, 4·C0] →
 * [B, Co, h, w]. */
static DfTensor *
resnet (DfUNet *u, DfNet *net, const DfTensor *x, const DfTensor *emb_act, const char *name,
        GError **error)
{
  return nn_resnet (net, x, emb_act, name, GN_GROUPS (u), u->config.norm_eps, error);
}

DfUNetText *
df_unet_text_new (DfUNet *u, DfCmd *cmd, const DfTensor *context, GError **error)
{
  const DfUNetConfig *c = &u->config;
  DfNet net = { .cmd = cmd, .ctx = u->ctx, .w = u->w, .dtype = u->w->dtype };
  g_autoptr (DfUNetText) text = NULL;

  if (context->ndim != 3 || context->shape[2] != c->cross_attention_dim)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "UNet: expected a context [batch, tokens, %d], got %s",
                   c->cross_attention_dim, df_shape_str (context));
      return NULL;
    }
  text = g_new0 (DfUNetText, 1);
  text->batch = context->shape[0];
  text->kv = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify) df_tensor_free);
  for (guint i = 0; i < u->text_linears->len; i++)
    {
      const char *name = g_ptr_array_index (u->text_linears, i);
      DfTensor *t = nn_linear (&net, context, name, error);

      if (t == NULL)
        return NULL;
      g_hash_table_insert (text->kv, g_strdup (name), t);
    }
  return g_steal_pointer (&text);
}

void
df_unet_text_free (DfUNetText *text)
{
  if (text == NULL)
    return;
  g_clear_pointer (&text->kv, g_hash_table_unref);
  g_free (text);
}

/* BasicTransformerBlock on h [B, L, C], in place. */
static gboolean
transformer_block (DfUNet *u, DfNet *net, DfTensor *h, const DfUNetText *text,
                   const char *name, int heads, GError **error)
{
  g_autofree char *norm1 = g_strdup_printf ("%s.norm1", name);
  g_autofree char *attn1 = g_strdup_printf ("%s.attn1", name);
  g_autofree char *norm2 = g_strdup_printf ("%s.norm2", name);
  g_autofree char *attn2 = g_strdup_printf ("%s.attn2", name);
  g_autofree char *norm3 = g_strdup_printf ("%s.norm3", name);
  g_autofree char *ff = g_strdup_printf ("%s.ff", name);
  g_autofree char *kn = g_strdup_printf ("%s.to_k", attn2);
  g_autofree char *vn = g_strdup_printf ("%s.to_v", attn2);
  const DfTensor *kv[2] = { g_hash_table_lookup (text->kv, kn),
                            g_hash_table_lookup (text->kv, vn) };
  const float eps = 1e-5f;

  if (kv[0] == NULL || kv[1] == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                   "The model lacks the weight unet.%s.weight", kv[0] == NULL ? kn : vn);
      return FALSE;
    }

  /* each residual is added by the last linear of its branch, into h */
  {
    g_autoptr (DfTensor) n = nn_layer_norm (net, h, norm1, eps, error);
    if (n == NULL || !nn_attention_acc (net, h, n, NULL, attn1, heads, error))
      return FALSE;
  }
  {
    g_autoptr (DfTensor) n = nn_layer_norm (net, h, norm2, eps, error);
    if (n == NULL || !nn_attention_acc (net, h, n, kv, attn2, heads, error))
      return FALSE;
  }
  {
    g_autoptr (DfTensor) n = nn_layer_norm (net, h, norm3, eps, error);
    return n != NULL && nn_feed_forward_geglu_acc (net, h, n, ff, error);
  }
}

/* Transformer2DModel: x [B, C, h, w] → new [B, C, h, w].  The group norm
 * writes tokens [B, h·w, C] and proj_out stores channels first with x
 * added, so no permute runs; proj_in and proj_out are linears in SD 2.x
 * and 1×1 convolutions (the same product) in SD 1.x. */
static DfTensor *
transformer (DfUNet *u, DfNet *net, const DfTensor *x, const DfUNetText *text,
             const char *name, int heads, GError **error)
{
  g_autofree char *norm = g_strdup_printf ("%s.norm", name);
  g_autofree char *proj_in = g_strdup_printf ("%s.proj_in", name);
  g_autofree char *proj_out = g_strdup_printf ("%s.proj_out", name);
  g_autofree char *block = g_strdup_printf ("%s.transformer_blocks.0", name);
  g_autoptr (DfTensor) n = NULL;
  g_autoptr (DfTensor) h = NULL;

  n = nn_group_norm_nlc (net, x, norm, GN_GROUPS (u), 1e-6f, error);
  h = n ? nn_linear (net, n, proj_in, error) : NULL;
  if (h == NULL)
    return NULL;
  g_clear_pointer (&n, df_tensor_free);

  if (!transformer_block (u, net, h, text, block, heads, error))
    return NULL;
  return nn_linear_nchw_add (net, h, proj_out, x, error);
}

static DfTensor *
upsample (DfNet *net, const DfTensor *x, const char *conv, GError **error)
{
  g_autoptr (DfTensor) up = nn_new4 (net, error, x->shape[0], x->shape[1], x->shape[2] * 2,
                                     x->shape[3] * 2);

  if (up == NULL || !df_op_upsample_nearest2x (net->cmd, up, x, error))
    return NULL;
  return nn_conv (net, up, conv, 1, 1, error);
}

/* The shapes df_unet_forward takes, for a context of @text_batch. */
static gboolean
check_inputs (DfUNet *u, const DfTensor *out, const DfTensor *sample, const DfTensor *timesteps,
              int64_t text_batch, GError **error)
{
  const DfUNetConfig *c = &u->config;
  int64_t factor = (int64_t) 1 << (c->n_blocks - 1);
  int64_t batch = sample->shape[0];

  if (sample->ndim != 4 || sample->shape[1] != c->in_channels || sample->shape[2] % factor
      || sample->shape[3] % factor)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "UNet: expected a sample [batch, %d, h, w] with h and w divisible by %"
                   G_GINT64_FORMAT ", got %s",
                   c->in_channels, factor, df_shape_str (sample));
      return FALSE;
    }
  if (text_batch != batch)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "UNet: the text context is for a batch of %" G_GINT64_FORMAT
                   ", the sample for %" G_GINT64_FORMAT, text_batch, batch);
      return FALSE;
    }
  {
    const int64_t want[4] = { batch, c->out_channels, sample->shape[2], sample->shape[3] };
    return df_check_shape ("UNet output", out, 4, want, error)
           && df_check_numel ("UNet timesteps", timesteps, batch, error);
  }
}

gboolean
df_unet_forward (DfUNet *u, DfCmd *cmd, DfTensor *out, const DfTensor *sample,
                 const DfTensor *timesteps, const DfTensor *context, GError **error)
{
  g_autoptr (DfUNetText) text = NULL;

  /* checked before anything is recorded */
  if (!check_inputs (u, out, sample, timesteps, context->ndim == 3 ? context->shape[0] : -1,
                     error))
    return FALSE;
  text = df_unet_text_new (u, cmd, context, error);
  return text != NULL && df_unet_forward_text (u, cmd, out, sample, timesteps, text, error);
}

gboolean
df_unet_forward_text (DfUNet *u, DfCmd *cmd, DfTensor *out, const DfTensor *sample,
                      const DfTensor *timesteps, const DfUNetText *text, GError **error)
{
  const DfUNetConfig *c = &u->config;
  DfNet net = { .cmd = cmd, .ctx = u->ctx, .w = u->w, .dtype = u->w->dtype };
  g_autoptr (GPtrArray) skips = g_ptr_array_new_with_free_func ((GDestroyNotify) df_tensor_free);
  g_autoptr (DfTensor) emb = NULL;
  g_autoptr (DfTensor) x = NULL;
  int64_t batch = sample->shape[0];
  char name[128];

  if (!check_inputs (u, out, sample, timesteps, text->batch, error))
    return FALSE;

  /* time embedding; resnets use SiLU(emb) */
  {
    g_autoptr (DfTensor) t = nn_new4 (&net, error, batch, c->block_out_channels[0], 0, 0);
    g_autoptr (DfTensor) t1 = NULL;
    if (t == NULL
        || !df_op_timestep_embedding (cmd, t, timesteps, c->flip_sin_to_cos, c->freq_shift,
                                      error))
      return FALSE;
    t1 = nn_linear (&net, t, "time_embedding.linear_1", error);
    if (t1 == NULL || !df_op_unary (cmd, t1, t1, DF_UNARY_SILU, error))
      return FALSE;
    emb = nn_linear (&net, t1, "time_embedding.linear_2", error);
    if (emb == NULL || !df_op_unary (cmd, emb, emb, DF_UNARY_SILU, error))
      return FALSE;
  }

  x = nn_conv (&net, sample, "conv_in", 1, 1, error);
  if (x == NULL)
    return FALSE;
  g_ptr_array_add (skips, g_steal_pointer (&x));
  x = NULL;

  /* down */
  {
    DfTensor *cur = g_ptr_array_index (skips, 0);
    for (int b = 0; b < c->n_blocks; b++)
      {
        for (int l = 0; l < c->layers_per_block; l++)
          {
            DfTensor *r;
            g_snprintf (name, sizeof name, "down_blocks.%d.resnets.%d", b, l);
            r = resnet (u, &net, cur, emb, name, error);
            if (r == NULL)
              return FALSE;
            if (c->down_block_attention[b])
              {
                g_autoptr (DfTensor) r0 = r;
                g_snprintf (name, sizeof name, "down_blocks.%d.attentions.%d", b, l);
                r = transformer (u, &net, r0, text, name, heads_of_block (u, b), error);
                if (r == NULL)
                  return FALSE;
              }
            g_ptr_array_add (skips, r);
            cur = r;
          }
        if (b < c->n_blocks - 1)
          {
            g_snprintf (name, sizeof name, "down_blocks.%d.downsamplers.0.conv", b);
            cur = nn_conv (&net, cur, name, 2, 1, error);
            if (cur == NULL)
              return FALSE;
            g_ptr_array_add (skips, cur);
          }
      }
    /* mid: the last kept output is not popped here, only read */
    x = resnet (u, &net, cur, emb, "mid_block.resnets.0", error);
    if (x == NULL)
      return FALSE;
    {
      g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
      x = transformer (u, &net, x0, text, "mid_block.attentions.0",
                       heads_of_block (u, c->n_blocks - 1), error);
      if (x == NULL)
        return FALSE;
    }
    {
      g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
      x = resnet (u, &net, x0, emb, "mid_block.resnets.1", error);
      if (x == NULL)
        return FALSE;
    }
  }

  /* up */
  for (int b = 0; b < c->n_blocks; b++)
    {
      int rb = c->n_blocks - 1 - b; /* the matching down block */
      for (int l = 0; l < c->layers_per_block + 1; l++)
        {
          DfTensor *skip = g_ptr_array_steal_index (skips, skips->len - 1);
          g_autoptr (DfTensor) s = skip;
          g_autoptr (DfTensor) cat = nn_new4 (&net, error, batch, x->shape[1] + s->shape[1],
                                              x->shape[2], x->shape[3]);
          g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
          if (cat == NULL || !df_op_concat (cmd, cat, x0, s, error))
            return FALSE;
          g_clear_pointer (&x0, df_tensor_free);
          g_clear_pointer (&s, df_tensor_free);
          g_snprintf (name, sizeof name, "up_blocks.%d.resnets.%d", b, l);
          x = resnet (u, &net, cat, emb, name, error);
          if (x == NULL)
            return FALSE;
          if (c->up_block_attention[b])
            {
              g_autoptr (DfTensor) x1 = g_steal_pointer (&x);
              g_snprintf (name, sizeof name, "up_blocks.%d.attentions.%d", b, l);
              x = transformer (u, &net, x1, text, name, heads_of_block (u, rb), error);
              if (x == NULL)
                return FALSE;
            }
        }
      if (b < c->n_blocks - 1)
        {
          g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
          g_snprintf (name, sizeof name, "up_blocks.%d.upsamplers.0.conv", b);
          x = upsample (&net, x0, name, error);
          if (x == NULL)
            return FALSE;
        }
    }

  {
    g_autoptr (DfTensor) n = nn_group_norm (&net, x, "conv_norm_out", GN_GROUPS (u),
                                            c->norm_eps, TRUE, error);
    const DfTensor *w = n ? df_weights_get (u->w, error, "conv_out.weight") : NULL;
    if (w == NULL)
      return FALSE;
    return df_op_conv2d (cmd, out, n, w, df_weights_find (u->w, "conv_out.bias"), 1, 1, error);
  }
}
