/* df-clip.c — the CLIP text encoder (transformers' CLIPTextModel): SD 1.x's
 * ViT-L/14 text transformer and SD 2.x's OpenCLIP ViT-H/14 through the
 * same code, configured by DfClipConfig.
 *
 *   x = token_embedding[ids] + position_embedding[0..L)       [B, L, C]
 *   for each of the layers that run (all but clip_skip):
 *     x = x + out_proj(attention(q_proj, k_proj, v_proj of LN1(x), causal))
 *     x = x + fc2(act(fc1(LN2(x))))          act: quick-GELU or GELU
 *   out = final_layer_norm(x)
 *
 * Weight names are the internal (transformers) names under
 * "text_encoder.text_model.". */
#include <math.h>
#include <string.h>

#include "df-nn.h"

#define P "text_model."

struct _DfClip
{
  DfContext *ctx;
  DfClipConfig config;
  DfWeights *w;
};

DfClip *
df_clip_new (DfContext *ctx, DfModel *model, DfDType dtype, GError **error)
{
  g_autoptr (DfClip) clip = g_new0 (DfClip, 1);
  const DfClipConfig *c = df_model_get_clip_config (model);

  clip->ctx = ctx;
  clip->config = *c;
  if (c->hidden_size <= 0 || c->num_attention_heads <= 0
      || c->hidden_size % c->num_attention_heads != 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                   "Invalid text encoder configuration (%d wide, %d heads)", c->hidden_size,
                   c->num_attention_heads);
      return NULL;
    }
  clip->w = df_weights_load (ctx, model, "text_encoder.", dtype, error);
  if (clip->w == NULL)
    return NULL;
  return g_steal_pointer (&clip);
}

void
df_clip_free (DfClip *clip)
{
  if (clip == NULL)
    return;
  df_weights_free (clip->w);
  g_free (clip);
}

const DfClipConfig *
df_clip_get_config (DfClip *clip)
{
  return &clip->config;
}

DfDType
df_clip_get_dtype (DfClip *clip)
{
  return clip->w->dtype;
}

uint64_t
df_clip_get_weight_bytes (DfClip *clip)
{
  return clip->w->bytes;
}

/* One encoder layer, x [B, L, C] updated in place. */
static gboolean
encoder_layer (DfClip *clip, DfNet *net, DfTensor *x, int i, GError **error)
{
  const DfClipConfig *c = &clip->config;
  float eps = c->layer_norm_eps;
  g_autofree char *ln1 = g_strdup_printf (P "encoder.layers.%d.layer_norm1", i);
  g_autofree char *ln2 = g_strdup_printf (P "encoder.layers.%d.layer_norm2", i);
  g_autofree char *q_proj = g_strdup_printf (P "encoder.layers.%d.self_attn.q_proj", i);
  g_autofree char *k_proj = g_strdup_printf (P "encoder.layers.%d.self_attn.k_proj", i);
  g_autofree char *v_proj = g_strdup_printf (P "encoder.layers.%d.self_attn.v_proj", i);
  g_autofree char *out_proj = g_strdup_printf (P "encoder.layers.%d.self_attn.out_proj", i);
  g_autofree char *fc1 = g_strdup_printf (P "encoder.layers.%d.mlp.fc1", i);
  g_autofree char *fc2 = g_strdup_printf (P "encoder.layers.%d.mlp.fc2", i);
  int heads = c->num_attention_heads;
  float scale = (float) (1.0 / sqrt ((double) (c->hidden_size / heads)));
  g_autoptr (DfTensor) h = NULL;
  g_autoptr (DfTensor) q = NULL;
  g_autoptr (DfTensor) k = NULL;
  g_autoptr (DfTensor) v = NULL;
  g_autoptr (DfTensor) a = NULL;
  g_autoptr (DfTensor) f = NULL;

  /* self-attention with the causal mask */
  h = nn_layer_norm (net, x, ln1, eps, error);
  q = h ? nn_linear (net, h, q_proj, error) : NULL;
  k = q ? nn_linear (net, h, k_proj, error) : NULL;
  v = k ? nn_linear (net, h, v_proj, error) : NULL;
  if (v == NULL)
    return FALSE;
  g_clear_pointer (&h, df_tensor_free);
  a = nn_new (net, error, q->ndim, q->shape);
  if (a == NULL || !df_op_attention (net->cmd, a, q, k, v, heads, scale, TRUE, error))
    return FALSE;
  g_clear_pointer (&q, df_tensor_free);
  g_clear_pointer (&k, df_tensor_free);
  g_clear_pointer (&v, df_tensor_free);
  /* x += out_proj(a) in the linear's epilogue */
  if (!nn_linear_acc (net, x, a, out_proj, error))
    return FALSE;
  g_clear_pointer (&a, df_tensor_free);

  /* MLP */
  h = nn_layer_norm (net, x, ln2, eps, error);
  f = h ? nn_linear (net, h, fc1, error) : NULL;
  if (f == NULL)
    return FALSE;
  if (!df_op_unary (net->cmd, f, f,
                    c->hidden_act == DF_ACT_QUICK_GELU ? DF_UNARY_QUICK_GELU : DF_UNARY_GELU,
                    error))
    return FALSE;
  return nn_linear_acc (net, x, f, fc2, error);
}

gboolean
df_clip_forward (DfClip *clip, DfCmd *cmd, DfTensor *out, const DfTensor *ids, int clip_skip,
                 GError **error)
{
  const DfClipConfig *c = &clip->config;
  DfNet net = { .cmd = cmd, .ctx = clip->ctx, .w = clip->w, .dtype = clip->w->dtype };
  const DfTensor *tok, *pos, *g, *b;
  g_autoptr (DfTensor) x = NULL;
  int64_t batch, len;
  int layers = c->num_hidden_layers - MAX (clip_skip, 0);

  if (ids->ndim != 2 || ids->dtype != DF_DTYPE_U32 || ids->shape[1] > c->max_position_embeddings)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "text encoder: expected token ids [batch, ≤ %d], got %s",
                   c->max_position_embeddings, df_shape_str (ids));
      return FALSE;
    }
  if (layers < 1)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "text encoder: clip skip %d leaves no layer of %d", clip_skip,
                   c->num_hidden_layers);
      return FALSE;
    }
  batch = ids->shape[0];
  len = ids->shape[1];
  {
    const int64_t want[3] = { batch, len, c->hidden_size };
    if (!df_check_shape ("text encoder output", out, 3, want, error)
        || !df_check_dtype ("text encoder output", out, net.dtype, error))
      return FALSE;
  }

  tok = df_weights_get (clip->w, error, P "embeddings.token_embedding.weight");
  pos = tok ? df_weights_get (clip->w, error, P "embeddings.position_embedding.weight") : NULL;
  if (pos == NULL)
    return FALSE;
  x = nn_new4 (&net, error, batch, len, c->hidden_size, 0);
  if (x == NULL || !df_op_embedding (cmd, x, ids, tok, pos, error))
    return FALSE;

  for (int i = 0; i < layers; i++)
    if (!encoder_layer (clip, &net, x, i, error))
      return FALSE;

  g = df_weights_get (clip->w, error, P "final_layer_norm.weight");
  b = g ? df_weights_get (clip->w, error, P "final_layer_norm.bias") : NULL;
  return b != NULL && df_op_layer_norm (cmd, out, x, g, b, c->layer_norm_eps, error);
}

gboolean
df_clip_encode (DfClip *clip, DfCmd *cmd, const uint32_t *ids, const float *weights,
                int n_chunks, int clip_skip, float *out, GError **error)
{
  const int64_t len = 77, width = clip->config.hidden_size;
  const int64_t per_chunk = len * width;
  g_autoptr (DfTensor) ids_t = NULL;
  g_autoptr (DfTensor) out_t = NULL;

  ids_t = df_tensor_new4 (clip->ctx, DF_DTYPE_U32, n_chunks, len, 0, 0, error);
  out_t = ids_t ? df_tensor_new4 (clip->ctx, clip->w->dtype, n_chunks, len, width, 0, error)
                : NULL;
  if (out_t == NULL || !df_tensor_upload (ids_t, ids, sizeof (uint32_t) * n_chunks * len, error)
      || !df_clip_forward (clip, cmd, out_t, ids_t, clip_skip, error)
      || !df_cmd_submit_wait (cmd, error)
      || !df_tensor_download_f32 (out_t, out, n_chunks * per_chunk, error))
    return FALSE;

  /* Prompt weights as the common web UIs apply them, per chunk: multiply
   * each token's embedding by its weight, then rescale the chunk so its
   * mean is what it was before weighting. */
  if (weights != NULL)
    for (int c = 0; c < n_chunks; c++)
      {
        float *z = out + c * per_chunk;
        double before = 0, after = 0;
        gboolean any = FALSE;

        for (int64_t t = 0; t < len; t++)
          any = any || weights[c * len + t] != 1.0f;
        if (!any)
          continue;
        for (int64_t i = 0; i < per_chunk; i++)
          before += z[i];
        for (int64_t t = 0; t < len; t++)
          for (int64_t j = 0; j < width; j++)
            z[t * width + j] *= weights[c * len + t];
        for (int64_t i = 0; i < per_chunk; i++)
          after += z[i];
        if (after != 0)
          for (int64_t i = 0; i < per_chunk; i++)
            z[i] = (float) (z[i] * (before / after));
      }
  return TRUE;
}
