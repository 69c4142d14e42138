/* df-nn.c — weights on the device and the building blocks the networks
 * share. */
#include <math.h>
#include <string.h>

#include "df-nn.h"

DfDType
df_networks_default_dtype (DfContext *ctx)
{
  if (g_getenv ("DIFFUSE_FP32") == NULL && df_context_get_info (ctx)->storage_16bit)
    return DF_DTYPE_F16;
  return DF_DTYPE_F32;
}

/* ------------------------------------------------------------------------
 * Weights
 * ------------------------------------------------------------------------ */

static void
tensor_free (gpointer t)
{
  df_tensor_free (t);
}

/* Converts the weight's bytes offset .. offset + len − 1 (fp16 or fp32)
 * from the mapped file straight into upload memory. */
static gboolean
fill_f16 (void *dst, size_t offset, size_t len, gpointer info, GError **error)
{
  return df_tensor_info_read_f16_range (info, dst, (int64_t) (offset / 2), (int64_t) (len / 2),
                                        error);
}

static gboolean
fill_f32 (void *dst, size_t offset, size_t len, gpointer info, GError **error)
{
  return df_tensor_info_read_f32_range (info, dst, (int64_t) (offset / 4), (int64_t) (len / 4),
                                        error);
}

static DfTensor *
upload (DfContext *ctx, const DfTensorInfo *info, DfDType dtype, GError **error)
{
  int64_t shape[DF_MAX_DIMS];
  int ndim = 0;
  int64_t n = df_tensor_info_numel (info);
  g_autoptr (DfTensor) t = NULL;
  gboolean ok;

  /* fold leading dimensions beyond DF_MAX_DIMS (never at SD shapes) */
  if (info->ndim == 0)
    shape[ndim++] = 1;
  else if (info->ndim > DF_MAX_DIMS)
    {
      shape[ndim++] = n;
    }
  else
    for (int i = 0; i < info->ndim; i++)
      shape[ndim++] = info->shape[i];

  t = df_tensor_new (ctx, dtype, ndim, shape, error);
  if (t == NULL)
    return NULL;
  /* from the file mapping into device-visible memory, converted on the way */
  ok = df_tensor_upload_with (t, (size_t) n * df_dtype_size (dtype),
                              dtype == DF_DTYPE_F16 ? fill_f16 : fill_f32, (gpointer) info, error);
  return ok ? g_steal_pointer (&t) : NULL;
}

DfWeights *
df_weights_load (DfContext *ctx, DfModel *model, const char *prefix, DfDType dtype,
                 GError **error)
{
  g_autoptr (DfWeights) w = g_new0 (DfWeights, 1);
  const char *const *names = df_model_get_names (model);
  size_t plen = strlen (prefix);

  w->ctx = ctx;
  w->dtype = dtype;
  w->prefix = g_strdup (prefix);
  w->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, tensor_free);
  for (int i = 0; names[i] != NULL; i++)
    {
      const DfTensorInfo *info;
      DfTensor *t;

      if (strncmp (names[i], prefix, plen) != 0)
        continue;
      info = df_model_lookup (model, names[i]);
      t = upload (ctx, info, dtype, error);
      if (t == NULL)
        {
          g_prefix_error (error, "Loading %s: ", names[i]);
          return NULL;
        }
      w->bytes += df_tensor_bytes (t);
      g_hash_table_insert (w->tensors, g_strdup (names[i] + plen), t);
    }
  if (g_hash_table_size (w->tensors) == 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "The model has no %.*s weights",
                   (int) plen - 1, prefix);
      return NULL;
    }
  return g_steal_pointer (&w);
}

void
df_weights_free (DfWeights *w)
{
  if (w == NULL)
    return;
  g_clear_pointer (&w->tensors, g_hash_table_unref);
  g_free (w->prefix);
  g_free (w);
}

static const DfTensor *
find_va (DfWeights *w, const char *format, va_list ap, char **name_out)
{
  g_autofree char *name = g_strdup_vprintf (format, ap);
  const DfTensor *t = g_hash_table_lookup (w->tensors, name);

  if (name_out)
    *name_out = g_steal_pointer (&name);
  return t;
}

const DfTensor *
df_weights_get (DfWeights *w, GError **error, const char *format, ...)
{
  va_list ap;
  g_autofree char *name = NULL;
  const DfTensor *t;

  va_start (ap, format);
  t = find_va (w, format, ap, &name);
  va_end (ap);
  if (t == NULL)
    g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "The model lacks the weight %s%s",
                 w->prefix, name);
  return t;
}

const DfTensor *
df_weights_find (DfWeights *w, const char *format, ...)
{
  va_list ap;
  const DfTensor *t;

  va_start (ap, format);
  t = find_va (w, format, ap, NULL);
  va_end (ap);
  return t;
}

/* ------------------------------------------------------------------------
 * Blocks
 * ------------------------------------------------------------------------ */

DfTensor *
nn_new (DfNet *net, GError **error, int ndim, const int64_t *shape)
{
  return df_tensor_new (net->ctx, net->dtype, ndim, shape, error);
}

DfTensor *
nn_new4 (DfNet *net, GError **error, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
  return df_tensor_new4 (net->ctx, net->dtype, d0, d1, d2, d3, error);
}

/* The weight of linear @name as [N, K]: nn.Linear's, or a 1×1
 * convolution's [N, K, 1, 1] viewed so (the transformers' proj_in and
 * proj_out of SD 1.x), into @view. */
static gboolean
linear_weight (DfNet *net, const char *name, DfTensor *view, GError **error)
{
  const DfTensor *w = df_weights_get (net->w, error, "%s.weight", name);

  if (w == NULL)
    return FALSE;
  *view = *w;
  if (w->ndim == 4 && w->shape[2] == 1 && w->shape[3] == 1)
    {
      const int64_t nk[2] = { w->shape[0], w->shape[1] };
      return df_tensor_reshape (view, 2, nk, error);
    }
  return TRUE;
}

/* y = x · Wᵀ + b (+ residual), y row-major or, with @nchw, channels first. */
static gboolean
linear_into (DfNet *net, DfTensor *y, const DfTensor *x, const char *name,
             const DfTensor *residual, gboolean nchw, GError **error)
{
  const DfTensor *b = df_weights_find (net->w, "%s.bias", name);
  DfTensor w;

  if (!linear_weight (net, name, &w, error))
    return FALSE;
  if (!(nchw ? df_op_linear_nchw (net->cmd, y, x, &w, b, residual, error)
             : df_op_linear_add (net->cmd, y, x, &w, b, residual, error)))
    {
      g_prefix_error (error, "%s: ", name);
      return FALSE;
    }
  return TRUE;
}

gboolean
nn_linear_acc (DfNet *net, DfTensor *acc, const DfTensor *x, const char *name, GError **error)
{
  return linear_into (net, acc, x, name, acc, FALSE, error);
}

DfTensor *
nn_linear (DfNet *net, const DfTensor *x, const char *name, GError **error)
{
  int64_t shape[DF_MAX_DIMS];
  g_autoptr (DfTensor) y = NULL;
  DfTensor w;

  if (!linear_weight (net, name, &w, error))
    return NULL;
  memcpy (shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = w.shape[0];
  y = nn_new (net, error, x->ndim, shape);
  if (y == NULL || !linear_into (net, y, x, name, NULL, FALSE, error))
    return NULL;
  return g_steal_pointer (&y);
}

DfTensor *
nn_linear_nchw_add (DfNet *net, const DfTensor *x, const char *name, const DfTensor *residual,
                    GError **error)
{
  g_autoptr (DfTensor) y = nn_new (net, error, residual->ndim, residual->shape);

  if (y == NULL || !linear_into (net, y, x, name, residual, TRUE, error))
    return NULL;
  return g_steal_pointer (&y);
}

DfTensor *
nn_conv (DfNet *net, const DfTensor *x, const char *name, int stride, int padding,
         GError **error)
{
  return nn_conv_add (net, x, name, stride, padding, NULL, error);
}

DfTensor *
nn_conv_add (DfNet *net, const DfTensor *x, const char *name, int stride, int padding,
             const DfTensor *residual, GError **error)
{
  const DfTensor *w = df_weights_get (net->w, error, "%s.weight", name);
  const DfTensor *b = df_weights_find (net->w, "%s.bias", name);
  g_autoptr (DfTensor) y = NULL;
  int64_t k, ho, wo;

  if (w == NULL)
    return NULL;
  if (w->ndim != 4 || x->ndim != 4)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: not a 2-D convolution", name);
      return NULL;
    }
  k = w->shape[2];
  if (padding < 0)
    padding = (int) (k - 1) / 2;
  ho = (x->shape[2] + 2 * padding - k) / stride + 1;
  wo = (x->shape[3] + 2 * padding - k) / stride + 1;
  y = nn_new4 (net, error, x->shape[0], w->shape[0], ho, wo);
  if (y == NULL || !df_op_conv2d_add (net->cmd, y, x, w, b, residual, stride, padding, error))
    {
      g_prefix_error (error, "%s: ", name);
      return NULL;
    }
  return g_steal_pointer (&y);
}

/* GroupNorm <name> of x into y [N, C, …] or, with @nlc, y [N, L, C]. */
static DfTensor *
group_norm (DfNet *net, const DfTensor *x, const char *name, int groups, float eps,
            gboolean silu, gboolean nlc, GError **error)
{
  const DfTensor *g = df_weights_get (net->w, error, "%s.weight", name);
  const DfTensor *b = g ? df_weights_get (net->w, error, "%s.bias", name) : NULL;
  g_autoptr (DfTensor) y = NULL;
  gboolean ok;

  if (b == NULL)
    return NULL;
  if (nlc)
    y = nn_new4 (net, error, x->shape[0], df_tensor_numel (x) / (x->shape[0] * x->shape[1]),
                 x->shape[1], 0);
  else
    y = nn_new (net, error, x->ndim, x->shape);
  if (y == NULL)
    return NULL;
  ok = nlc ? df_op_group_norm_nlc (net->cmd, y, x, g, b, groups, eps, silu, error)
           : df_op_group_norm (net->cmd, y, x, g, b, groups, eps, silu, error);
  if (!ok)
    {
      g_prefix_error (error, "%s: ", name);
      return NULL;
    }
  return g_steal_pointer (&y);
}

DfTensor *
nn_group_norm (DfNet *net, const DfTensor *x, const char *name, int groups, float eps,
               gboolean silu, GError **error)
{
  return group_norm (net, x, name, groups, eps, silu, FALSE, error);
}

DfTensor *
nn_group_norm_nlc (DfNet *net, const DfTensor *x, const char *name, int groups, float eps,
                   GError **error)
{
  return group_norm (net, x, name, groups, eps, FALSE, TRUE, error);
}

DfTensor *
nn_layer_norm (DfNet *net, const DfTensor *x, const char *name, float eps, GError **error)
{
  const DfTensor *g = df_weights_get (net->w, error, "%s.weight", name);
  const DfTensor *b = g ? df_weights_get (net->w, error, "%s.bias", name) : NULL;
  g_autoptr (DfTensor) y = NULL;

  if (b == NULL)
    return NULL;
  y = nn_new (net, error, x->ndim, x->shape);
  if (y == NULL || !df_op_layer_norm (net->cmd, y, x, g, b, eps, error))
    {
      g_prefix_error (error, "%s: ", name);
      return NULL;
    }
  return g_steal_pointer (&y);
}

DfTensor *
nn_unary (DfNet *net, const DfTensor *x, DfUnary op, GError **error)
{
  g_autoptr (DfTensor) y = nn_new (net, error, x->ndim, x->shape);

  if (y == NULL || !df_op_unary (net->cmd, y, x, op, error))
    return NULL;
  return g_steal_pointer (&y);
}

gboolean
nn_add_inplace (DfNet *net, DfTensor *a, const DfTensor *b, GError **error)
{
  return df_op_binary (net->cmd, a, a, b, DF_BINARY_ADD, error);
}

/* The attention of nn_attention_acc before to_out.0: keys and values
 * from @kv (computed ahead) or, when it is NULL, from x. */
static DfTensor *
attention_heads (DfNet *net, const DfTensor *x, const DfTensor *const *kv, const char *name,
                 int heads, GError **error)
{
  g_autofree char *qn = g_strdup_printf ("%s.to_q", name);
  g_autofree char *kn = g_strdup_printf ("%s.to_k", name);
  g_autofree char *vn = g_strdup_printf ("%s.to_v", name);
  g_autoptr (DfTensor) q = NULL;
  g_autoptr (DfTensor) k = NULL;
  g_autoptr (DfTensor) v = NULL;
  g_autoptr (DfTensor) a = NULL;
  int64_t inner;

  q = nn_linear (net, x, qn, error);
  if (q == NULL)
    return NULL;
  if (kv == NULL)
    {
      k = nn_linear (net, x, kn, error);
      v = k ? nn_linear (net, x, vn, error) : NULL;
      if (v == NULL)
        return NULL;
    }
  inner = q->shape[q->ndim - 1];
  a = nn_new (net, error, q->ndim, q->shape);
  if (a == NULL
      || !df_op_attention (net->cmd, a, q, kv ? kv[0] : k, kv ? kv[1] : v, heads,
                           (float) (1.0 / sqrt ((double) inner / heads)), FALSE, error))
    {
      g_prefix_error (error, "%s: ", name);
      return NULL;
    }
  return g_steal_pointer (&a);
}

DfTensor *
nn_attention_nchw_add (DfNet *net, const DfTensor *x, const char *name, int heads,
                       const DfTensor *residual, GError **error)
{
  g_autofree char *on = g_strdup_printf ("%s.to_out.0", name);
  g_autoptr (DfTensor) a = attention_heads (net, x, NULL, name, heads, error);

  return a != NULL ? nn_linear_nchw_add (net, a, on, residual, error) : NULL;
}

gboolean
nn_attention_acc (DfNet *net, DfTensor *acc, const DfTensor *x, const DfTensor *const *kv,
                  const char *name, int heads, GError **error)
{
  g_autofree char *on = g_strdup_printf ("%s.to_out.0", name);
  g_autoptr (DfTensor) a = attention_heads (net, x, kv, name, heads, error);

  return a != NULL && nn_linear_acc (net, acc, a, on, error);
}

DfTensor *
nn_resnet (DfNet *net, const DfTensor *x, const DfTensor *emb_act, const char *name, int groups,
           float eps, GError **error)
{
  g_autofree char *norm1 = g_strdup_printf ("%s.norm1", name);
  g_autofree char *conv1 = g_strdup_printf ("%s.conv1", name);
  g_autofree char *temb = g_strdup_printf ("%s.time_emb_proj", name);
  g_autofree char *norm2 = g_strdup_printf ("%s.norm2", name);
  g_autofree char *conv2 = g_strdup_printf ("%s.conv2", name);
  g_autofree char *shortcut = g_strdup_printf ("%s.conv_shortcut", name);
  g_autoptr (DfTensor) t = NULL;
  g_autoptr (DfTensor) h = NULL;
  g_autoptr (DfTensor) h2 = NULL;

  if (emb_act != NULL)
    {
      /* time_emb_proj(SiLU(emb))[:, :, None, None], added in conv1's
       * epilogue; recorded first, so it needs no barrier of its own */
      t = nn_linear (net, emb_act, temb, error);
      if (t == NULL)
        return NULL;
      {
        const int64_t bc11[4] = { t->shape[0], t->shape[1], 1, 1 };
        if (!df_tensor_reshape (t, 4, bc11, error))
          return NULL;
      }
    }
  h = nn_group_norm (net, x, norm1, groups, eps, TRUE, error);
  h2 = h ? nn_conv_add (net, h, conv1, 1, -1, t, error) : NULL;
  if (h2 == NULL)
    return NULL;
  g_clear_pointer (&h, df_tensor_free);
  g_clear_pointer (&t, df_tensor_free);
  h = nn_group_norm (net, h2, norm2, groups, eps, TRUE, error);
  if (h == NULL)
    return NULL;
  g_clear_pointer (&h2, df_tensor_free);
  /* conv2 adds the shortcut (or x) in its epilogue */
  if (df_weights_find (net->w, "%s.weight", shortcut))
    {
      g_autoptr (DfTensor) s = nn_conv (net, x, shortcut, 1, 0, error);
      return s != NULL ? nn_conv_add (net, h, conv2, 1, -1, s, error) : NULL;
    }
  return nn_conv_add (net, h, conv2, 1, -1, x, error);
}

/* Rows per chunk so that a [rows, inner] activation fits one binding, a
 * multiple of the rows that keep a view of [rows, c] at an aligned offset. */
static int64_t
rows_per_chunk (DfNet *net, int64_t rows, int64_t c, int64_t inner)
{
  const DfDeviceInfo *info = df_context_get_info (net->ctx);
  uint64_t size = df_dtype_size (net->dtype);
  int64_t fit = (int64_t) (info->max_storage_buffer_range / ((uint64_t) inner * size));
  int64_t align = (int64_t) MAX (info->min_storage_buffer_offset_alignment, 4);
  int64_t row_bytes = c * (int64_t) size, a = align, b = row_bytes, step;

  /* testing aid: force small chunks on small models */
  if (g_getenv ("DIFFUSE_TEST_CHUNK_ROWS") != NULL)
    fit = MIN (fit, g_ascii_strtoll (g_getenv ("DIFFUSE_TEST_CHUNK_ROWS"), NULL, 10));
  if (fit >= rows)
    return rows;
  while (b != 0) /* gcd */
    {
      int64_t r = a % b;
      a = b;
      b = r;
    }
  step = align / a;
  return MAX (step, fit / step * step);
}

/* The feed-forward of x into @out, plus @out itself when @accumulate. */
static gboolean
feed_forward_geglu (DfNet *net, DfTensor *out, const DfTensor *x, const char *name,
                    gboolean accumulate, GError **error)
{
  g_autofree char *in_name = g_strdup_printf ("%s.net.0.proj", name);
  g_autofree char *out_name = g_strdup_printf ("%s.net.2", name);
  const DfTensor *w_in = df_weights_get (net->w, error, "%s.weight", in_name);
  const DfTensor *w_out = w_in ? df_weights_get (net->w, error, "%s.weight", out_name) : NULL;
  const DfTensor *b_in = df_weights_find (net->w, "%s.bias", in_name);
  const DfTensor *b_out = df_weights_find (net->w, "%s.bias", out_name);
  int64_t c = x->shape[x->ndim - 1], rows = df_tensor_numel (x) / c, chunk;

  if (w_out == NULL)
    return FALSE;
  chunk = rows_per_chunk (net, rows, c, w_in->shape[0]);
  for (int64_t r0 = 0; r0 < rows; r0 += chunk)
    {
      int64_t n = MIN (chunk, rows - r0);
      g_autoptr (DfTensor) xv = df_tensor_view_rows ((DfTensor *) x, r0, n, error);
      g_autoptr (DfTensor) ov = xv ? df_tensor_view_rows (out, r0, n, error) : NULL;
      g_autoptr (DfTensor) p = ov ? nn_new4 (net, error, n, w_in->shape[0], 0, 0) : NULL;

      /* net.2 of the projection's GEGLU, one op */
      if (p == NULL || !df_op_linear (net->cmd, p, xv, w_in, b_in, error)
          || !df_op_geglu_linear_add (net->cmd, ov, p, w_out, b_out, accumulate ? ov : NULL,
                                      error))
        {
          g_prefix_error (error, "%s: ", name);
          return FALSE;
        }
    }
  return TRUE;
}

DfTensor *
nn_feed_forward_geglu (DfNet *net, const DfTensor *x, const char *name, GError **error)
{
  g_autoptr (DfTensor) out = nn_new (net, error, x->ndim, x->shape);

  if (out == NULL || !feed_forward_geglu (net, out, x, name, FALSE, error))
    return NULL;
  return g_steal_pointer (&out);
}

gboolean
nn_feed_forward_geglu_acc (DfNet *net, DfTensor *acc, const DfTensor *x, const char *name,
                           GError **error)
{
  return feed_forward_geglu (net, acc, x, name, TRUE, error);
}
