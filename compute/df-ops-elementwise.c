/* df-ops-elementwise.c — the normalisation and element-wise ops: group
 * norm (with fused SiLU), layer norm, SiLU/GELU/quick-GELU, GEGLU,
 * broadcast add/mul, scale, concat, nearest upsample, permute, timestep
 * and token embeddings, and dtype casts.
 *
 * Conventions (every op here):
 *   - binding 0 is the output y, then the inputs in the order of the
 *     df_op_*() arguments; only y is written;
 *   - elements are indexed with 32-bit integers in the shaders: tensors
 *     are refused above G_MAXUINT32 elements, and df_cmd_dispatch()
 *     refuses any tensor larger than the device's maxStorageBufferRange
 *     (128 MiB on lavapipe) until the callers tile;
 *   - element-wise kernels are grid-stride loops over a 1-D grid with a
 *     device-chosen workgroup size (specialization constant 0); the
 *     normalisations run one workgroup per group or row. */
#include <string.h>

#include "df-private.h"

DF_PUSH_STRUCT (DfPushBinary, DF_PUSH_BINARY);
DF_PUSH_STRUCT (DfPushCast, DF_PUSH_CAST);
DF_PUSH_STRUCT (DfPushConcat, DF_PUSH_CONCAT);
DF_PUSH_STRUCT (DfPushEmbedding, DF_PUSH_EMBEDDING);
DF_PUSH_STRUCT (DfPushGeglu, DF_PUSH_GEGLU);
DF_PUSH_STRUCT (DfPushGroupNorm, DF_PUSH_GROUP_NORM);
DF_PUSH_STRUCT (DfPushLayerNorm, DF_PUSH_LAYER_NORM);
DF_PUSH_STRUCT (DfPushPermute, DF_PUSH_PERMUTE);
DF_PUSH_STRUCT (DfPushScale, DF_PUSH_SCALE);
DF_PUSH_STRUCT (DfPushSoftmax, DF_PUSH_SOFTMAX);
DF_PUSH_STRUCT (DfPushTimestepEmbedding, DF_PUSH_TIMESTEP_EMBEDDING);
DF_PUSH_STRUCT (DfPushUnary, DF_PUSH_UNARY);
DF_PUSH_STRUCT (DfPushUpsample, DF_PUSH_UPSAMPLE);

/* Workgroup sizes, powers of two (the reductions need it) within the
 * device's limit (Vulkan guarantees 128 invocations).  On a CPU device
 * (lavapipe) a workgroup runs on one thread and a barrier costs a context
 * switch: small groups keep the normalisations' tree reductions short.  On
 * GPUs, larger groups hide latency; a normalisation over `items` loads
 * per row or group gets no more invocations than it can use. */
static uint32_t
wg_limit (DfContext *ctx, uint32_t wg)
{
  uint32_t max = df_context_get_info (ctx)->max_workgroup_invocations;

  while (wg > 32 && wg > max)
    wg /= 2;
  return wg;
}

static uint32_t
wg_elementwise (DfContext *ctx)
{
  return wg_limit (ctx, df_context_get_info (ctx)->type == DF_DEVICE_CPU ? 64 : 256);
}

/* Workgroup of the row and group reductions over @items (vec4s or
 * elements) each.  On CPU devices 32, more only for huge groups: each
 * invocation loops over items / wg of them in up to three passes, and
 * lavapipe ends an invocation's loops after 65535 iterations in all (a
 * VAE group at 1024² is 2^20 vec4s). */
static uint32_t
wg_norm (DfContext *ctx, int64_t items)
{
  uint32_t wg = 32;

  if (df_context_get_info (ctx)->type == DF_DEVICE_CPU)
    {
      while (wg < 1024 && items / wg > 8192)
        wg *= 2;
      return wg_limit (ctx, wg);
    }
  while (wg < 256 && wg < items)
    wg *= 2;
  return wg_limit (ctx, wg);
}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (DF_ERROR, DF_ERROR_INVALID_ARGUMENT, format, args));
  va_end (args);
  return FALSE;
}

static gboolean
check_size (const char *op, const DfTensor *t, GError **error)
{
  if (df_tensor_numel (t) <= G_MAXUINT32)
    return TRUE;
  return invalid (error, "%s: tensor %s has more than 2³² elements", op, df_shape_str (t));
}

/* Records a 1-D grid-stride dispatch over n items (or the given number of
 * workgroups when groups != 0), y at binding 0. */
static gboolean
dispatch (DfCmd *cmd, DfShaderId shader, uint32_t wg, int64_t n, uint32_t groups,
          const DfTensor *const *bindings, int n_bindings, const void *push,
          uint32_t push_size, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  DfDispatch d = {
    .shader = shader,
    .spec = { wg, 1, 1 },
    .n_spec = 3,
    .n_bindings = n_bindings,
    .write_mask = 1u << 0,
    .push = push,
    .push_size = push_size,
    .groups = { groups != 0 ? groups : df_groups_1d (ctx, n, wg), 1, 1 },
  };

  g_assert (n_bindings <= DF_MAX_BINDINGS);
  for (int i = 0; i < n_bindings; i++)
    {
      if (!check_size (df_shader_get (shader)->name, bindings[i], error))
        return FALSE;
      d.bindings[i] = bindings[i];
    }
  return df_cmd_dispatch (cmd, &d, error);
}

/* ------------------------------------------------------------------------
 * cast
 * ------------------------------------------------------------------------ */

gboolean
df_op_cast (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t n = df_tensor_numel (x);
  DfPushCast push = { .n = (uint32_t) n };
  DfShaderId shader;

  if (!df_check_float_same ("cast", x, x, error) || !df_check_float_same ("cast", y, y, error)
      || !df_check_numel ("cast", y, n, error))
    return FALSE;
  if (x->dtype == y->dtype)
    shader = DF_SHADER_FOR (cast, y->dtype);
  else if (y->dtype == DF_DTYPE_F16)
    shader = DF_SHADER_cast_f32_to_f16;
  else
    shader = DF_SHADER_cast_f16_to_f32;
  return dispatch (cmd, shader, wg_elementwise (ctx), (n + 3) / 4, 0,
                   (const DfTensor *[]){ y, x }, 2, &push, sizeof push, error);
}

/* ------------------------------------------------------------------------
 * normalisation
 * ------------------------------------------------------------------------ */

static gboolean
check_affine (const char *op, const DfTensor *x, const DfTensor *gamma, const DfTensor *beta,
              int64_t c, GError **error)
{
  if (gamma == NULL || beta == NULL)
    return invalid (error, "%s: gamma and beta are required", op);
  return df_check_float_same (op, x, gamma, error) && df_check_float_same (op, x, beta, error)
         && df_check_shape (op, gamma, 1, &c, error) && df_check_shape (op, beta, 1, &c, error);
}

/* df_op_group_norm, into y [N, C, spatial…] or, with @channels_last,
 * y [N, spatial, C]. */
static gboolean
group_norm (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *gamma,
            const DfTensor *beta, int groups, float eps, gboolean silu, gboolean channels_last,
            GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  const DfDeviceInfo *info = df_context_get_info (ctx);
  int64_t spatial = 1, c, count;
  DfPushGroupNorm push;
  gboolean vec4;

  if (!df_check_float_same ("group_norm", x, x, error)
      || !df_check_float_same ("group_norm", x, y, error))
    return FALSE;
  if (x->ndim < 2)
    return invalid (error, "group_norm: expected x [N, C, …], got %s", df_shape_str (x));
  c = x->shape[1];
  for (int d = 2; d < x->ndim; d++)
    spatial *= x->shape[d];
  if (channels_last)
    {
      const int64_t nlc[3] = { x->shape[0], spatial, c };
      if (!df_check_shape ("group_norm", y, 3, nlc, error))
        return FALSE;
    }
  else if (!df_check_shape ("group_norm", y, x->ndim, x->shape, error))
    return FALSE;
  if (groups <= 0 || c % groups != 0)
    return invalid (error, "group_norm: %" G_GINT64_FORMAT " channels do not split into %d groups",
                    c, groups);
  if (!check_affine ("group_norm", x, gamma, beta, c, error))
    return FALSE;
  count = x->shape[0] * groups;
  /* the channels-last store walks the group one element at a time */
  vec4 = spatial % 4 == 0 && !channels_last;
  push = (DfPushGroupNorm){
    .count = (uint32_t) count,
    .group_size = (uint32_t) (c / groups * spatial),
    .spatial = (uint32_t) spatial,
    .channels_per_group = (uint32_t) (c / groups),
    .groups = (uint32_t) groups,
    .silu = silu ? 1 : 0,
    .vec4_ok = vec4,
    .channels_last = channels_last ? 1 : 0,
    .eps = eps,
  };
  return dispatch (cmd, DF_SHADER_FOR (group_norm, x->dtype),
                   wg_norm (ctx, vec4 ? push.group_size / 4 : push.group_size), 0,
                   (uint32_t) CLAMP (count, 1, (int64_t) MIN (info->max_workgroup_count[0], 65535u)),
                   (const DfTensor *[]){ y, x, gamma, beta }, 4, &push, sizeof push, error);
}

gboolean
df_op_group_norm (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *gamma,
                  const DfTensor *beta, int groups, float eps, gboolean silu, GError **error)
{
  return group_norm (cmd, y, x, gamma, beta, groups, eps, silu, FALSE, error);
}

gboolean
df_op_group_norm_nlc (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *gamma,
                      const DfTensor *beta, int groups, float eps, gboolean silu, GError **error)
{
  return group_norm (cmd, y, x, gamma, beta, groups, eps, silu, TRUE, error);
}

gboolean
df_op_layer_norm (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *gamma,
                  const DfTensor *beta, float eps, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  const DfDeviceInfo *info = df_context_get_info (ctx);
  int64_t c, rows;
  DfPushLayerNorm push;

  if (!df_check_float_same ("layer_norm", x, x, error)
      || !df_check_float_same ("layer_norm", x, y, error)
      || !df_check_shape ("layer_norm", y, x->ndim, x->shape, error))
    return FALSE;
  if (x->ndim < 1 || x->shape[x->ndim - 1] == 0)
    return invalid (error, "layer_norm: expected x [..., C], got %s", df_shape_str (x));
  c = x->shape[x->ndim - 1];
  rows = df_tensor_numel (x) / c;
  if (!check_affine ("layer_norm", x, gamma, beta, c, error))
    return FALSE;
  push = (DfPushLayerNorm){
    .rows = (uint32_t) rows,
    .c = (uint32_t) c,
    .vec4_ok = c % 4 == 0,
    .eps = eps,
  };
  return dispatch (cmd, DF_SHADER_FOR (layer_norm, x->dtype),
                   wg_norm (ctx, c % 4 == 0 ? c / 4 : c), 0,
                   (uint32_t) CLAMP (rows, 1, (int64_t) MIN (info->max_workgroup_count[0], 65535u)),
                   (const DfTensor *[]){ y, x, gamma, beta }, 4, &push, sizeof push, error);
}

gboolean
df_op_softmax (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  const DfDeviceInfo *info = df_context_get_info (ctx);
  int64_t n, rows;
  DfPushSoftmax push;

  if (!df_check_float_same ("softmax", x, x, error)
      || !df_check_float_same ("softmax", x, y, error)
      || !df_check_shape ("softmax", y, x->ndim, x->shape, error))
    return FALSE;
  if (x->ndim < 1 || x->shape[x->ndim - 1] == 0)
    return invalid (error, "softmax: expected x [..., N], got %s", df_shape_str (x));
  n = x->shape[x->ndim - 1];
  rows = df_tensor_numel (x) / n;
  push = (DfPushSoftmax){ .rows = (uint32_t) rows, .n = (uint32_t) n };
  return dispatch (cmd, DF_SHADER_FOR (softmax, x->dtype), wg_norm (ctx, n), 0,
                   (uint32_t) CLAMP (rows, 1, (int64_t) MIN (info->max_workgroup_count[0], 65535u)),
                   (const DfTensor *[]){ y, x }, 2, &push, sizeof push, error);
}

/* ------------------------------------------------------------------------
 * activations
 * ------------------------------------------------------------------------ */

gboolean
df_op_unary (DfCmd *cmd, DfTensor *y, const DfTensor *x, DfUnary op, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t n = df_tensor_numel (x);
  DfPushUnary push = { .n = (uint32_t) n, .op = (uint32_t) op };

  if (!df_check_float_same ("unary", x, x, error) || !df_check_float_same ("unary", x, y, error)
      || !df_check_shape ("unary", y, x->ndim, x->shape, error))
    return FALSE;
  if (op != DF_UNARY_SILU && op != DF_UNARY_GELU && op != DF_UNARY_QUICK_GELU)
    return invalid (error, "unary: unknown op %d", (int) op);
  return dispatch (cmd, DF_SHADER_FOR (unary, x->dtype), wg_elementwise (ctx), (n + 3) / 4, 0,
                   (const DfTensor *[]){ y, x }, 2, &push, sizeof push, error);
}

gboolean
df_op_geglu (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t shape[DF_MAX_DIMS], half, n;
  DfPushGeglu push;

  if (!df_check_float_same ("geglu", x, x, error) || !df_check_float_same ("geglu", x, y, error))
    return FALSE;
  if (x->ndim < 1 || x->shape[x->ndim - 1] % 2 != 0)
    return invalid (error, "geglu: expected x [..., 2n], got %s", df_shape_str (x));
  memcpy (shape, x->shape, sizeof shape);
  half = shape[x->ndim - 1] /= 2;
  if (!df_check_shape ("geglu", y, x->ndim, shape, error))
    return FALSE;
  n = df_tensor_numel (y);
  push = (DfPushGeglu){ .n = (uint32_t) n, .half_n = (uint32_t) half };
  return dispatch (cmd, DF_SHADER_FOR (geglu, x->dtype), wg_elementwise (ctx),
                   half % 4 == 0 ? n / 4 : n, 0, (const DfTensor *[]){ y, x }, 2, &push,
                   sizeof push, error);
}

/* ------------------------------------------------------------------------
 * binary and scale
 * ------------------------------------------------------------------------ */

gboolean
df_op_binary (DfCmd *cmd, DfTensor *y, const DfTensor *a, const DfTensor *b, DfBinary op,
              GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t n = df_tensor_numel (a);
  int64_t as[DF_MAX_DIMS], bs[DF_MAX_DIMS];
  int64_t cs[4] = { 1, 1, 1, 1 }, cb[4] = { 1, 1, 1, 1 }, stride[4];
  int nd = 0, prev = -1;
  gboolean same = TRUE;
  DfPushBinary push;

  if (!df_check_float_same ("binary", a, a, error) || !df_check_float_same ("binary", a, b, error)
      || !df_check_float_same ("binary", a, y, error)
      || !df_check_shape ("binary", y, a->ndim, a->shape, error))
    return FALSE;
  if (op != DF_BINARY_ADD && op != DF_BINARY_MUL)
    return invalid (error, "binary: unknown op %d", (int) op);

  /* align both shapes at the last dimension; b may have extra leading
   * dimensions only if they are 1 */
  for (int d = 0; d < DF_MAX_DIMS; d++)
    {
      int ai = a->ndim - DF_MAX_DIMS + d, bi = b->ndim - DF_MAX_DIMS + d;
      as[d] = ai >= 0 ? a->shape[ai] : 1;
      bs[d] = bi >= 0 ? b->shape[bi] : 1;
      if (bs[d] != as[d] && bs[d] != 1)
        {
          g_autofree char *b_str = g_strdup (df_shape_str (b));
          return invalid (error, "binary: b %s does not broadcast to a %s", b_str,
                          df_shape_str (a));
        }
      same = same && bs[d] == as[d];
    }

  /* merge neighbouring dimensions that b either has in full or broadcasts
   * along, so [N, C, H, W] + [N, C, 1, 1] indexes as [N·C, H·W] + [N·C, 1];
   * dimensions of size 1 in a are dropped */
  for (int d = 0; d < DF_MAX_DIMS; d++)
    {
      int kind = bs[d] == 1 ? 0 : 1;
      if (as[d] == 1)
        continue;
      if (prev == kind)
        {
          cs[nd - 1] *= as[d];
          cb[nd - 1] *= bs[d];
        }
      else
        {
          cs[nd] = as[d];
          cb[nd] = bs[d];
          nd++;
        }
      prev = kind;
    }
  /* right-align the merged dimensions in 4 and give b's strides */
  {
    int64_t s = 1;
    int64_t ra[4] = { 1, 1, 1, 1 }, rb[4] = { 1, 1, 1, 1 };
    for (int d = 0; d < nd; d++)
      {
        ra[4 - nd + d] = cs[d];
        rb[4 - nd + d] = cb[d];
      }
    for (int d = 3; d >= 0; d--)
      {
        stride[d] = rb[d] == 1 ? 0 : s;
        s *= rb[d];
      }
    memcpy (cs, ra, sizeof cs);
  }

  push = (DfPushBinary){
    .n = (uint32_t) n,
    .op = (uint32_t) op,
    .same_shape = same,
    .a_shape1 = (uint32_t) cs[1],
    .a_shape2 = (uint32_t) cs[2],
    .a_shape3 = (uint32_t) cs[3],
    .b_stride0 = (uint32_t) stride[0],
    .b_stride1 = (uint32_t) stride[1],
    .b_stride2 = (uint32_t) stride[2],
    .b_stride3 = (uint32_t) stride[3],
  };
  return dispatch (cmd, DF_SHADER_FOR (binary, a->dtype), wg_elementwise (ctx),
                   same ? (n + 3) / 4 : n, 0, (const DfTensor *[]){ y, a, b }, 3, &push,
                   sizeof push, error);
}

gboolean
df_op_scale (DfCmd *cmd, DfTensor *y, const DfTensor *x, float s, float t, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t n = df_tensor_numel (x);
  DfPushScale push = { .n = (uint32_t) n, .s = s, .t = t };

  if (!df_check_float_same ("scale", x, x, error) || !df_check_float_same ("scale", x, y, error)
      || !df_check_shape ("scale", y, x->ndim, x->shape, error))
    return FALSE;
  return dispatch (cmd, DF_SHADER_FOR (scale, x->dtype), wg_elementwise (ctx), (n + 3) / 4, 0,
                   (const DfTensor *[]){ y, x }, 2, &push, sizeof push, error);
}

/* ------------------------------------------------------------------------
 * layout: concat, upsample, permute
 * ------------------------------------------------------------------------ */

gboolean
df_op_concat (DfCmd *cmd, DfTensor *y, const DfTensor *a, const DfTensor *b, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t shape[DF_MAX_DIMS], inner = 1;
  gboolean ok = TRUE;
  DfPushConcat push;

  if (!df_check_float_same ("concat", a, a, error) || !df_check_float_same ("concat", a, b, error)
      || !df_check_float_same ("concat", a, y, error))
    return FALSE;
  for (int d = 0; d < a->ndim && a->ndim == b->ndim; d++)
    ok = ok && (d == 1 || a->shape[d] == b->shape[d]);
  if (a->ndim < 2 || b->ndim != a->ndim || !ok)
    {
      g_autofree char *bs = g_strdup (df_shape_str (b));
      return invalid (error, "concat: cannot join %s and %s along dimension 1",
                      df_shape_str (a), bs);
    }
  memcpy (shape, a->shape, sizeof shape);
  shape[1] += b->shape[1];
  if (!df_check_shape ("concat", y, a->ndim, shape, error))
    return FALSE;
  for (int d = 2; d < a->ndim; d++)
    inner *= a->shape[d];
  push = (DfPushConcat){
    .n = (uint32_t) df_tensor_numel (y),
    .a_inner = (uint32_t) (a->shape[1] * inner),
    .b_inner = (uint32_t) (b->shape[1] * inner),
  };
  return dispatch (cmd, DF_SHADER_FOR (concat, a->dtype), wg_elementwise (ctx),
                   df_tensor_numel (y), 0, (const DfTensor *[]){ y, a, b }, 3, &push,
                   sizeof push, error);
}

gboolean
df_op_upsample_nearest2x (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t shape[4];
  DfPushUpsample push;

  if (!df_check_float_same ("upsample", x, x, error)
      || !df_check_float_same ("upsample", x, y, error))
    return FALSE;
  if (x->ndim != 4)
    return invalid (error, "upsample: expected x [N, C, H, W], got %s", df_shape_str (x));
  shape[0] = x->shape[0];
  shape[1] = x->shape[1];
  shape[2] = 2 * x->shape[2];
  shape[3] = 2 * x->shape[3];
  if (!df_check_shape ("upsample", y, 4, shape, error))
    return FALSE;
  push = (DfPushUpsample){
    .n = (uint32_t) df_tensor_numel (y),
    .h = (uint32_t) x->shape[2],
    .w = (uint32_t) x->shape[3],
  };
  return dispatch (cmd, DF_SHADER_FOR (upsample, x->dtype), wg_elementwise (ctx),
                   df_tensor_numel (y), 0, (const DfTensor *[]){ y, x }, 2, &push, sizeof push,
                   error);
}

gboolean
df_op_permute (DfCmd *cmd, DfTensor *y, const DfTensor *x, const int *perm, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int nd = x->ndim, lead = DF_MAX_DIMS - x->ndim;
  int64_t yshape[DF_MAX_DIMS], xs[4], ys4[4] = { 1, 1, 1, 1 }, st[4] = { 0, 0, 0, 0 };
  gboolean seen[DF_MAX_DIMS] = { FALSE };
  DfPushPermute push;

  if (!df_check_float_same ("permute", x, x, error)
      || !df_check_float_same ("permute", x, y, error))
    return FALSE;
  if (perm == NULL || nd < 1)
    return invalid (error, "permute: no permutation for %s", df_shape_str (x));
  for (int d = 0; d < nd; d++)
    {
      if (perm[d] < 0 || perm[d] >= nd || seen[perm[d]])
        return invalid (error, "permute: not a permutation of the %d dimensions of %s", nd,
                        df_shape_str (x));
      seen[perm[d]] = TRUE;
      yshape[d] = x->shape[perm[d]];
    }
  if (!df_check_shape ("permute", y, nd, yshape, error))
    return FALSE;
  /* x's strides, then y's dimensions right-aligned in 4 with the stride
   * of the x dimension each comes from */
  xs[nd - 1] = 1;
  for (int d = nd - 2; d >= 0; d--)
    xs[d] = xs[d + 1] * x->shape[d + 1];
  for (int d = 0; d < nd; d++)
    {
      ys4[lead + d] = yshape[d];
      st[lead + d] = xs[perm[d]];
    }
  push = (DfPushPermute){
    .n = (uint32_t) df_tensor_numel (x),
    .y_shape1 = (uint32_t) ys4[1],
    .y_shape2 = (uint32_t) ys4[2],
    .y_shape3 = (uint32_t) ys4[3],
    .x_stride0 = (uint32_t) st[0],
    .x_stride1 = (uint32_t) st[1],
    .x_stride2 = (uint32_t) st[2],
    .x_stride3 = (uint32_t) st[3],
  };
  return dispatch (cmd, DF_SHADER_FOR (permute, x->dtype), wg_elementwise (ctx),
                   df_tensor_numel (x), 0, (const DfTensor *[]){ y, x }, 2, &push, sizeof push,
                   error);
}

/* ------------------------------------------------------------------------
 * embeddings
 * ------------------------------------------------------------------------ */

gboolean
df_op_timestep_embedding (DfCmd *cmd, DfTensor *y, const DfTensor *t, gboolean flip_sin_to_cos,
                          float freq_shift, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t dim, half;
  DfPushTimestepEmbedding push;

  if (!df_check_dtype ("timestep_embedding", t, DF_DTYPE_F32, error)
      || !df_check_float_same ("timestep_embedding", y, y, error))
    return FALSE;
  if (t->ndim != 1 || y->ndim != 2 || y->shape[0] != t->shape[0] || y->shape[1] < 2)
    {
      g_autofree char *ts = g_strdup (df_shape_str (t));
      return invalid (error, "timestep_embedding: expected t [B] and y [B, dim ≥ 2], got %s and %s",
                      ts, df_shape_str (y));
    }
  dim = y->shape[1];
  half = dim / 2;
  if ((float) half - freq_shift == 0.0f)
    return invalid (error, "timestep_embedding: freq_shift %g leaves no frequencies",
                    (double) freq_shift);
  push = (DfPushTimestepEmbedding){
    .n = (uint32_t) df_tensor_numel (y),
    .dim = (uint32_t) dim,
    .half_dim = (uint32_t) half,
    .flip = flip_sin_to_cos ? 1 : 0,
    .freq_shift = freq_shift,
  };
  return dispatch (cmd, DF_SHADER_FOR (timestep_embedding, y->dtype), wg_elementwise (ctx),
                   df_tensor_numel (y), 0, (const DfTensor *[]){ y, t }, 2, &push, sizeof push,
                   error);
}

gboolean
df_op_embedding (DfCmd *cmd, DfTensor *y, const DfTensor *ids, const DfTensor *tok,
                 const DfTensor *pos, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t shape[3], c;
  DfPushEmbedding push;

  if (!df_check_dtype ("embedding", ids, DF_DTYPE_U32, error)
      || !df_check_float_same ("embedding", tok, tok, error)
      || !df_check_float_same ("embedding", tok, y, error)
      || (pos != NULL && !df_check_float_same ("embedding", tok, pos, error)))
    return FALSE;
  if (ids->ndim != 2 || tok->ndim != 2 || tok->shape[0] < 1)
    {
      g_autofree char *is = g_strdup (df_shape_str (ids));
      return invalid (error, "embedding: expected ids [B, L] and tok [V ≥ 1, C], got %s and %s",
                      is, df_shape_str (tok));
    }
  c = tok->shape[1];
  if (pos != NULL && (pos->ndim != 2 || pos->shape[1] != c || pos->shape[0] < ids->shape[1]))
    return invalid (error, "embedding: expected pos [≥ %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                    "], got %s", ids->shape[1], c, df_shape_str (pos));
  shape[0] = ids->shape[0];
  shape[1] = ids->shape[1];
  shape[2] = c;
  if (!df_check_shape ("embedding", y, 3, shape, error))
    return FALSE;
  push = (DfPushEmbedding){
    .n = (uint32_t) df_tensor_numel (y),
    .c = (uint32_t) c,
    .len = (uint32_t) MAX (ids->shape[1], 1),
    .vocab = (uint32_t) MIN (tok->shape[0], (int64_t) G_MAXUINT32),
    .has_pos = pos != NULL,
  };
  /* without pos, binding 3 repeats tok; the shader does not read it */
  return dispatch (cmd, DF_SHADER_FOR (embedding, tok->dtype), wg_elementwise (ctx),
                   df_tensor_numel (y), 0,
                   (const DfTensor *[]){ y, ids, tok, pos != NULL ? pos : tok }, 4, &push,
                   sizeof push, error);
}
