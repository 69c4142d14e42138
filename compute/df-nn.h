/* df-nn.h — building blocks shared by the networks (internal).
 *
 * DfWeights holds one component's weights on the device, uploaded once,
 * under their internal names without the component prefix.  DfNet is the
 * state of one forward recording: the command buffer, the weights, the
 * dtype of activations.  The nn_* helpers each record an op (or a few)
 * and return a NEW tensor, or NULL with the error set; the caller frees
 * inputs once they are dead (the allocator reuses their memory at once,
 * and the recording inserts the barriers that reuse needs). */
#pragma once

#include "df-networks.h"
#include "df-private.h"

G_BEGIN_DECLS

typedef struct
{
  DfContext *ctx;
  DfDType dtype;
  char *prefix;       /* "unet.", "vae.", "text_encoder." */
  GHashTable *tensors; /* name without prefix → DfTensor* */
  uint64_t bytes;
} DfWeights;

/* Uploads every tensor of @model whose internal name starts with @prefix,
 * converted to @dtype. */
DfWeights *df_weights_load (DfContext *ctx, DfModel *model, const char *prefix, DfDType dtype,
                            GError **error);
void df_weights_free (DfWeights *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfWeights, df_weights_free)
/* A weight by printf-style name (without the prefix); a missing one is
 * DF_ERROR_INVALID_MODEL naming it. */
const DfTensor *df_weights_get (DfWeights *w, GError **error, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
/* The same, NULL without error when absent (optional biases, shortcuts). */
const DfTensor *df_weights_find (DfWeights *w, const char *format, ...) G_GNUC_PRINTF (2, 3);

typedef struct
{
  DfCmd *cmd;
  DfContext *ctx;
  DfWeights *w;
  DfDType dtype;
} DfNet;

/* A new activation tensor of the net's dtype. */
DfTensor *nn_new (DfNet *net, GError **error, int ndim, const int64_t *shape);
DfTensor *nn_new4 (DfNet *net, GError **error, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/* y = x · Wᵀ + b with W = <name>.weight [N, K] (or a 1×1 convolution's
 * [N, K, 1, 1]), b = <name>.bias if present. */
DfTensor *nn_linear (DfNet *net, const DfTensor *x, const char *name, GError **error);
/* The same for x [B, L, K] stored channels first, plus @residual
 * [B, N, h, w] (h·w = L): the result is shaped like @residual. */
DfTensor *nn_linear_nchw_add (DfNet *net, const DfTensor *x, const char *name,
                              const DfTensor *residual, GError **error);
/* acc += x · Wᵀ + b, in place, in the linear's own epilogue. */
gboolean nn_linear_acc (DfNet *net, DfTensor *acc, const DfTensor *x, const char *name,
                        GError **error);
/* y = conv(x, <name>.weight, <name>.bias) with the kernel size taken from
 * the weight; padding (k − 1) / 2 unless @padding ≥ 0. */
DfTensor *nn_conv (DfNet *net, const DfTensor *x, const char *name, int stride, int padding,
                   GError **error);
/* The same plus @residual (shaped like y, [B, O, 1, 1] for every pixel,
 * or NULL), added in the convolution's epilogue. */
DfTensor *nn_conv_add (DfNet *net, const DfTensor *x, const char *name, int stride, int padding,
                       const DfTensor *residual, GError **error);
DfTensor *nn_group_norm (DfNet *net, const DfTensor *x, const char *name, int groups, float eps,
                         gboolean silu, GError **error);
/* GroupNorm of x [B, C, h, w] into tokens [B, h·w, C] (no SiLU). */
DfTensor *nn_group_norm_nlc (DfNet *net, const DfTensor *x, const char *name, int groups,
                             float eps, GError **error);
DfTensor *nn_layer_norm (DfNet *net, const DfTensor *x, const char *name, float eps,
                         GError **error);
DfTensor *nn_unary (DfNet *net, const DfTensor *x, DfUnary op, GError **error);
/* a += b (b broadcast) */
gboolean nn_add_inplace (DfNet *net, DfTensor *a, const DfTensor *b, GError **error);
/* diffusers' FeedForward with GEGLU: <name>.net.0.proj (to 2·inner), then
 * <name>.net.2 (back to C) of its GEGLU in one op (df_op_geglu_linear_add).
 * x [..., C] → new [..., C].  Runs in row
 * chunks when the inner activations would exceed the device's
 * per-binding limit (SD at 1024² on lavapipe's 128 MiB). */
DfTensor *nn_feed_forward_geglu (DfNet *net, const DfTensor *x, const char *name,
                                 GError **error);
/* acc += the feed-forward of x, the last linear adding into @acc. */
gboolean nn_feed_forward_geglu_acc (DfNet *net, DfTensor *acc, const DfTensor *x,
                                    const char *name, GError **error);
/* diffusers' ResnetBlock2D: GroupNorm+SiLU, conv1, (+ time_emb_proj of
 * @emb_act [B, T] as a per-channel bias, when @emb_act is not NULL),
 * GroupNorm+SiLU, conv2, plus x (through conv_shortcut when present). */
DfTensor *nn_resnet (DfNet *net, const DfTensor *x, const DfTensor *emb_act, const char *name,
                     int groups, float eps, GError **error);
/* diffusers' Attention: to_q, to_k, to_v (bias if present), fused
 * attention over @heads heads, to_out.0.  x [B, L, C]; @kv the keys and
 * values [B, M, C] of a cross-attention, computed ahead from its context
 * (to_k and to_v of it), or NULL for self-attention.  acc += the attention
 * of x (to_out.0 adding into @acc). */
gboolean nn_attention_acc (DfNet *net, DfTensor *acc, const DfTensor *x,
                           const DfTensor *const *kv, const char *name, int heads,
                           GError **error);
/* Self-attention of tokens x [B, h·w, C] with to_out.0 stored channels
 * first plus @residual [B, C, h, w], shaped like it (the VAE's). */
DfTensor *nn_attention_nchw_add (DfNet *net, const DfTensor *x, const char *name, int heads,
                                 const DfTensor *residual, GError **error);

G_END_DECLS
