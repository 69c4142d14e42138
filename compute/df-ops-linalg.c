/* df-ops-linalg.c — linear, matmul, conv2d and attention: shape checks and
 * dispatch recording.  The shaders are shaders/matmul.comp (also used by
 * linear), shaders/conv2d.comp and shaders/attention.comp.
 *
 * Limits: every tensor is bound whole to one storage-buffer binding, so
 * each one must fit in maxStorageBufferRange (128 MiB on lavapipe, e.g. a
 * 4096 × 8192 f32 matrix); larger tensors are refused with
 * DF_ERROR_INVALID_ARGUMENT and tiling them is the caller's job.  Workgroup
 * counts must fit the device limits as well (always true at SD shapes). */
#include <inttypes.h>

#include "df-private.h"

DF_PUSH_STRUCT (DfPushMatmul, DF_PUSH_MATMUL);
DF_PUSH_STRUCT (DfPushConv2d, DF_PUSH_CONV2D);
DF_PUSH_STRUCT (DfPushAttention, DF_PUSH_ATTENTION);

/* Two kernel families, by device class:
 *  - CPU devices (lavapipe): register tiles, no shared memory, no
 *    barriers.  Invocations are SIMD lanes of one thread: large register
 *    tiles win, and a workgroup one invocation high makes the a/weight
 *    loads uniform (16×16 tiles in 8×1 workgroups measured fastest with
 *    bench-ops, ahead of 8×16 and 8×8 tiles).
 *  - GPUs: shared-memory tiles with barriers (64×64 output tiles from
 *    16×16 workgroups, K in slices of 16: 8 KiB of shared memory) and,
 *    for attention, K/V blocks in shared memory.
 * DIFFUSE_KERNELS=gpu or =cpu forces a family on any device (the tests
 * run the GPU family on lavapipe that way).  A device without 256
 * invocations or 16 KiB of shared memory per workgroup gets small
 * register tiles.
 *
 * On GPUs with cooperative matrices (VK_KHR_cooperative_matrix in builds
 * that have its kernels, else VK_NV_cooperative_matrix), fp16 matmul and
 * conv2d run on the matrix units instead (gemm_coop.glsl), and attention
 * too: heads up to 160 with the scores in shared memory
 * (attention_coop.comp), wider ones as matrix products
 * (attention_products);
 * DIFFUSE_KERNELS=gpu keeps them on the shared-memory kernels, and
 * DIFFUSE_KERNELS=coop asks for them on any device with fp16 arithmetic,
 * emulated where neither extension is there (how lavapipe tests them).
 * DIFFUSE_COOP=nv prefers the NV kernels where a device has both. */
typedef enum
{
  KERNELS_CPU,
  KERNELS_SHARED,
  KERNELS_SMALL,
} DfKernels;

static DfKernels
kernels (DfContext *ctx)
{
  const DfDeviceInfo *info = df_context_get_info (ctx);
  const char *force = g_getenv ("DIFFUSE_KERNELS");
  gboolean fits = info->max_workgroup_invocations >= 256 && info->max_shared_memory >= 16384;

  if (g_strcmp0 (force, "cpu") == 0)
    return KERNELS_CPU;
  if (g_strcmp0 (force, "gpu") == 0 || g_strcmp0 (force, "coop") == 0
      || info->type != DF_DEVICE_CPU)
    return fits ? KERNELS_SHARED : KERNELS_SMALL;
  return KERNELS_CPU;
}

typedef enum
{
  COOP_NONE,
  COOP_KHR,
  COOP_NV,
  COOP_EMULATED,
} DfCoop;

/* Whether fp16 matmul and conv2d use the cooperative-matrix kernels, and
 * which. */
static DfCoop
coop_mode (DfContext *ctx, DfDType dtype)
{
  const DfDeviceInfo *info = df_context_get_info (ctx);
  const char *force = g_getenv ("DIFFUSE_KERNELS");
  gboolean prefer_nv = g_strcmp0 (g_getenv ("DIFFUSE_COOP"), "nv") == 0;
  DfCoop native = COOP_NONE;

  if (dtype != DF_DTYPE_F16 || !info->fp16_arithmetic)
    return COOP_NONE;
  if (info->cooperative_matrix_nv && (prefer_nv || !info->cooperative_matrix))
    native = COOP_NV;
  else if (info->cooperative_matrix)
    native = COOP_KHR;
  if (g_strcmp0 (force, "coop") == 0)
    return native != COOP_NONE ? native : COOP_EMULATED;
  if (force == NULL && native != COOP_NONE && kernels (ctx) == KERNELS_SHARED)
    return native;
  return COOP_NONE;
}

/* One cooperative-matrix kernel in its builds. */
typedef struct
{
  DfShaderId khr;  /* 16×16×16 fragments */
  DfShaderId khr8; /* 8×8×8 */
  DfShaderId nv;
  DfShaderId emulated;
} CoopShaders;

/* The builds of <op>_coop*_f16<suffix>; without KHR kernels in this build
 * the NV one stands in (never chosen: no device then reports KHR). */
#if DF_SHADERS_COOP_KHR
#define COOP_SHADERS(op, suffix)                                                          \
  ((CoopShaders){ DF_SHADER_##op##_coopkhr_f16##suffix, DF_SHADER_##op##_coopkhr8_f16##suffix, \
                  DF_SHADER_##op##_coop_f16##suffix, DF_SHADER_##op##_coopemu_f16##suffix })
#else
#define COOP_SHADERS(op, suffix)                                                   \
  ((CoopShaders){ DF_SHADER_##op##_coop_f16##suffix, DF_SHADER_##op##_coop_f16##suffix, \
                  DF_SHADER_##op##_coop_f16##suffix, DF_SHADER_##op##_coopemu_f16##suffix })
#endif

/* The shader and workgroup of a cooperative-matrix dispatch whose
 * workgroup is @subgroups subgroups (groups of 8 invocations when
 * emulated), into @d. */
static void
coop_select (DfContext *ctx, DfCoop coop, CoopShaders shaders, uint32_t subgroups, DfDispatch *d)
{
  const DfDeviceInfo *info = df_context_get_info (ctx);

  if (coop == COOP_KHR)
    {
      d->shader = info->cooperative_matrix_size == 8 ? shaders.khr8 : shaders.khr;
      d->full_subgroups = TRUE;
    }
  else
    d->shader = coop == COOP_NV ? shaders.nv : shaders.emulated;
  d->spec[0] = subgroups * (coop == COOP_EMULATED ? 8 : info->subgroup_size);
  d->spec[1] = 1;
  d->spec[2] = 1;
  d->n_spec = 3;
}

/* The cooperative-matrix dispatch of a GEMM whose C is m × n per batch
 * element (conv2d: output channels × pixels), into @d; see
 * gemm_coop.glsl: 64 × 64 tiles from four subgroups. */
static void
coop_dispatch (DfContext *ctx, DfCoop coop, CoopShaders shaders, int64_t m, int64_t n,
               int64_t batch, DfDispatch *d)
{
  coop_select (ctx, coop, shaders, 4, d);
  d->groups[0] = (uint32_t) df_div_up (n, 64);
  d->groups[1] = (uint32_t) df_div_up (m, 64);
  d->groups[2] = (uint32_t) batch;
}

/* Workgroup size (x, y) and the tile each invocation computes (columns or
 * pixels along x, rows or channels along y); bk: K per shared-memory
 * slice. */
typedef struct
{
  uint32_t wg_x, wg_y;
  uint32_t tile_x, tile_y;
  uint32_t bk;
} DfTileConfig;

static DfTileConfig
tile_config (DfKernels k)
{
  switch (k)
    {
    case KERNELS_CPU:
      return (DfTileConfig) { 8, 1, 16, 16, 0 };
    case KERNELS_SHARED:
      return (DfTileConfig) { 16, 16, 4, 4, 16 };
    case KERNELS_SMALL:
    default:
      return (DfTileConfig) { 8, 8, 4, 4, 0 };
    }
}

/* Query rows per invocation of the register kernel.  On a CPU device the
 * rows share each key's K and V loads: at D = 40, 8 rows run 5× faster
 * than 1 (bench-ops).  The accumulators of R rows are R·D floats and the
 * compile time grows with them (D = 160: 3 s at R = 2, 30 s at R = 8),
 * hence R·D ≤ 320.  Heads wider than 160 (the VAE's 512) loop over their
 * elements for every key, and lavapipe ends an invocation's loops after
 * 65535 iterations in all, so they are matrix products instead (see
 * ATTENTION_FUSED_MAX_HEAD_DIM); should one come here, it runs one row. */
static uint32_t
attention_rows (DfKernels k, int64_t d)
{
  if (k != KERNELS_CPU)
    return 1;
  return d <= 160 ? (uint32_t) MAX (1, 320 / d) : 1;
}

/* Keys per shared-memory block of the GPU kernel: K and V blocks of
 * 2 · keys · D floats within 3/4 of the shared memory (of at most 32 KiB),
 * a power of two up to 32. */
static uint32_t
attention_key_block (DfContext *ctx, int64_t d)
{
  uint32_t budget = MIN (df_context_get_info (ctx)->max_shared_memory, 32768u) / 4 * 3;
  uint32_t keys = 32;

  while (keys > 1 && 2 * keys * (uint64_t) d * sizeof (float) > budget)
    keys /= 2;
  return keys;
}

/* 512: the VAE's mid-block attention is one head as wide as its channels */
#define ATTENTION_MAX_HEAD_DIM 512
/* the shader uses exp2: exp(x) = 2^(x · log2(e)) */
#define LOG2_E 1.4426950408889634

/* Invocations per workgroup (one query row or R rows each). */
static uint32_t
attention_workgroup (DfKernels k)
{
  return k == KERNELS_CPU ? 16 : 64;
}

/* Each tensor is one binding: it must fit in maxStorageBufferRange. */
static gboolean
check_range (const char *op, const DfTensor *t, GError **error)
{
  const DfDeviceInfo *info = df_context_get_info (t->ctx);

  if ((uint64_t) df_tensor_bytes (t) <= info->max_storage_buffer_range)
    return TRUE;
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
               "%s: tensor %s of %zu bytes exceeds the device's storage-buffer range of %"
               PRIu64 " bytes; split it into smaller tensors",
               op, df_shape_str (t), df_tensor_bytes (t), info->max_storage_buffer_range);
  return FALSE;
}

static gboolean
check_groups (const char *op, DfContext *ctx, const uint32_t groups[3], GError **error)
{
  const DfDeviceInfo *info = df_context_get_info (ctx);

  for (int i = 0; i < 3; i++)
    if (groups[i] > info->max_workgroup_count[i])
      {
        g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                     "%s: needs %u workgroups along dimension %d, more than the device's %u; "
                     "split the tensors", op, groups[i], i, info->max_workgroup_count[i]);
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_float (const char *op, const DfTensor *ref, const DfTensor *t, GError **error)
{
  if (t == NULL)
    return TRUE;
  return df_check_float_same (op, ref, t, error) && check_range (op, t, error);
}

/* The variant of an fp16 matmul for its operands: all fp16 (@same), an
 * fp32 y (@y32) or an fp32 a (@a32). */
static DfShaderId
matmul_variant (const DfTensor *y, const DfTensor *a, DfShaderId same, DfShaderId y32,
                DfShaderId a32)
{
  if (y->dtype == a->dtype)
    return same;
  return y->dtype == DF_DTYPE_F32 ? y32 : a32;
}

/* How record_matmul loads a and stores y: channels first with
 * @rows_per_image pixels per image (0: row-major), the residual's elements
 * of y per value (1: shaped like y), see DF_PUSH_MATMUL; @a_geglu: a is
 * [M, 2K] and the product takes its GEGLU (matmul.comp's A_GEGLU). */
typedef struct
{
  int64_t rows_per_image;
  int64_t residual_div;
  gboolean a_geglu;
} MatmulForm;

static const MatmulForm PLAIN = { 0, 1, FALSE };

/* matmul.comp's specialization constants: TM, TN (3, 4), BK (5), A_GEGLU */
#define MATMUL_SPEC_A_GEGLU 6

/* Records y[b] = alpha · a[b] · op(b[b]) + bias (+ residual[b]) for
 * b < batch, loaded and stored as @form says; shapes are already checked.
 * b_stride 0 shares one b between batch elements.  Operands share a
 * dtype, except that an fp16 b may go with an fp32 y or an fp32 a
 * (attention's scores and probabilities). */
static gboolean
record_matmul (DfCmd *cmd, DfTensor *y, const DfTensor *a, const DfTensor *b,
               const DfTensor *bias, const DfTensor *residual, MatmulForm form, int64_t batch,
               int64_t m, int64_t n, int64_t k, int64_t b_stride, gboolean transpose_b,
               float alpha, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  DfKernels kern = kernels (ctx);
  DfTileConfig cfg = tile_config (kern);
  /* rows of a and of b (transposed) read as vec4s: a quarter of the loads */
  gboolean vec4 = transpose_b && k % 4 == 0 && b_stride % 4 == 0;
  DfPushMatmul push = {
    .m = (uint32_t) m,
    .n = (uint32_t) n,
    .k = (uint32_t) k,
    .batch_stride_a = (uint32_t) (m * k * (form.a_geglu ? 2 : 1)),
    .batch_stride_b = (uint32_t) b_stride,
    .batch_stride_y = (uint32_t) (m * n),
    .transpose_b = transpose_b ? 1 : 0,
    .has_bias = bias != NULL ? 1 : 0,
    .has_residual = residual != NULL ? 1 : 0,
    .residual_div = (uint32_t) form.residual_div,
    .rows_per_image = (uint32_t) form.rows_per_image,
    .alpha = alpha,
  };
  DfDispatch d = {
    .shader = b->dtype == DF_DTYPE_F32
                  ? (vec4 ? DF_SHADER_matmul_vec4_f32 : DF_SHADER_matmul_f32)
              : vec4 ? matmul_variant (y, a, DF_SHADER_matmul_vec4_f16,
                                       DF_SHADER_matmul_vec4_f16_yf32,
                                       DF_SHADER_matmul_vec4_f16_af32)
                     : matmul_variant (y, a, DF_SHADER_matmul_f16, DF_SHADER_matmul_f16_yf32,
                                       DF_SHADER_matmul_f16_af32),
    .spec = { cfg.wg_x, cfg.wg_y, 1, cfg.tile_y, cfg.tile_x },
    .n_spec = 5,
    /* without a bias or residual, b stands in for the unread binding */
    .bindings = { y, a, b, bias != NULL ? bias : b, residual != NULL ? residual : b },
    .n_bindings = 5,
    .write_mask = 1u << 0,
    .push = &push,
    .push_size = sizeof push,
    .groups = { df_div_up (n, (int64_t) cfg.tile_x * cfg.wg_x),
                df_div_up (m, (int64_t) cfg.tile_y * cfg.wg_y), (uint32_t) batch },
  };

  DfCoop coop = coop_mode (ctx, b->dtype);

  if (coop != COOP_NONE)
    {
      /* scores and probabilities of attention_products may be fp32 */
      CoopShaders shaders = COOP_SHADERS (matmul, );

      if (y->dtype != a->dtype)
        shaders = y->dtype == DF_DTYPE_F32 ? COOP_SHADERS (matmul, _yf32)
                                           : COOP_SHADERS (matmul, _af32);
      coop_dispatch (ctx, coop, shaders, m, n, batch, &d);
    }
  else if (kern == KERNELS_SHARED)
    {
      d.shader = b->dtype == DF_DTYPE_F32
                     ? DF_SHADER_matmul_shared_f32
                     : matmul_variant (y, a, DF_SHADER_matmul_shared_f16,
                                       DF_SHADER_matmul_shared_f16_yf32,
                                       DF_SHADER_matmul_shared_f16_af32);
      d.spec[5] = cfg.bk;
      d.n_spec = 6;
    }
  if (form.a_geglu)
    {
      /* the constants below A_GEGLU keep their values (the shader's
       * defaults where the kernel passed none) */
      static const uint32_t defaults[MATMUL_SPEC_A_GEGLU] = { 1, 1, 1, 4, 4, 16 };
      for (int i = d.n_spec; i < MATMUL_SPEC_A_GEGLU; i++)
        d.spec[i] = defaults[i];
      d.spec[MATMUL_SPEC_A_GEGLU] = 1;
      d.n_spec = MATMUL_SPEC_A_GEGLU + 1;
    }
  if (m == 0 || n == 0 || batch == 0)
    return TRUE;
  if (!check_groups ("matmul", ctx, d.groups, error))
    return FALSE;
  return df_cmd_dispatch (cmd, &d, error);
}

/* df_op_linear_add, or with @channels_first df_op_linear_nchw. */
static gboolean
linear (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w, const DfTensor *bias,
        const DfTensor *residual, gboolean channels_first, GError **error)
{
  const char *op = "linear";
  int64_t y_shape[DF_MAX_DIMS];
  int64_t m, n, k;
  MatmulForm form = PLAIN;

  g_return_val_if_fail (cmd != NULL && y != NULL && x != NULL && w != NULL, FALSE);

  if (!check_float (op, x, x, error) || !check_float (op, x, w, error)
      || !check_float (op, x, y, error) || !check_float (op, x, bias, error)
      || !check_float (op, x, residual, error))
    return FALSE;
  if (x->ndim < 1 || w->ndim != 2 || w->shape[1] != x->shape[x->ndim - 1])
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "linear: weight %s does not match input %s (want [out, %" G_GINT64_FORMAT
                   "])", df_shape_str (w), df_shape_str (x),
                   x->ndim >= 1 ? x->shape[x->ndim - 1] : 0);
      return FALSE;
    }
  n = w->shape[0];
  k = w->shape[1];
  m = k > 0 ? df_tensor_numel (x) / k : 0;
  if (channels_first)
    {
      /* x [B, L, K] → y [B, N, spatial…] with L pixels */
      if (x->ndim != 3 || y->ndim < 2 || y->shape[0] != x->shape[0] || y->shape[1] != n
          || df_tensor_numel (y) != x->shape[0] * n * x->shape[1])
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                       "linear: output %s does not take input %s channels first (want [%"
                       G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", …] of %" G_GINT64_FORMAT
                       " pixels)", df_shape_str (y), df_shape_str (x),
                       x->ndim >= 1 ? x->shape[0] : 0, n, x->ndim == 3 ? x->shape[1] : 0);
          return FALSE;
        }
      form.rows_per_image = x->shape[1];
      memcpy (y_shape, y->shape, sizeof y_shape);
    }
  else
    {
      for (int i = 0; i < x->ndim; i++)
        y_shape[i] = x->shape[i];
      y_shape[x->ndim - 1] = n;
      if (!df_check_shape (op, y, x->ndim, y_shape, error))
        return FALSE;
    }
  if ((bias != NULL && !df_check_shape (op, bias, 1, &n, error))
      || (residual != NULL && !df_check_shape (op, residual, y->ndim, y_shape, error)))
    return FALSE;
  if (k == 0)
    {
      /* m rows of nothing: y is the bias, but keep the shader's K ≥ 1 */
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "linear: input %s has no features", df_shape_str (x));
      return FALSE;
    }

  return record_matmul (cmd, y, x, w, bias, residual, form, 1, m, n, k, 0, TRUE, 1.0f, error);
}

gboolean
df_op_linear (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
              const DfTensor *bias, GError **error)
{
  return linear (cmd, y, x, w, bias, NULL, FALSE, error);
}

gboolean
df_op_linear_add (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                  const DfTensor *bias, const DfTensor *residual, GError **error)
{
  return linear (cmd, y, x, w, bias, residual, FALSE, error);
}

gboolean
df_op_linear_nchw (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                   const DfTensor *bias, const DfTensor *residual, GError **error)
{
  return linear (cmd, y, x, w, bias, residual, TRUE, error);
}

gboolean
df_op_geglu_linear_add (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                        const DfTensor *bias, const DfTensor *residual, GError **error)
{
  const char *op = "geglu_linear";
  int64_t k, m, n;

  g_return_val_if_fail (cmd != NULL && y != NULL && x != NULL && w != NULL, FALSE);

  if (!check_float (op, x, x, error) || !check_float (op, x, w, error)
      || !check_float (op, x, y, error) || !check_float (op, x, bias, error)
      || !check_float (op, x, residual, error))
    return FALSE;
  if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != 2 * w->shape[1] || w->shape[1] == 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "geglu_linear: weight %s does not match input %s (want [out, %" G_GINT64_FORMAT
                   "], half the input's features)", df_shape_str (w), df_shape_str (x),
                   x->ndim >= 1 ? x->shape[x->ndim - 1] / 2 : 0);
      return FALSE;
    }
  n = w->shape[0];
  k = w->shape[1];
  m = df_tensor_numel (x) / (2 * k);
  {
    int64_t y_shape[DF_MAX_DIMS];
    memcpy (y_shape, x->shape, sizeof y_shape);
    y_shape[x->ndim - 1] = n;
    if (!df_check_shape (op, y, x->ndim, y_shape, error)
        || (bias != NULL && !df_check_shape (op, bias, 1, &n, error))
        || (residual != NULL && !df_check_shape (op, residual, x->ndim, y_shape, error)))
      return FALSE;
  }
  {
    DfContext *ctx = df_cmd_get_context (cmd);
    int64_t g_shape[DF_MAX_DIMS];
    g_autoptr (DfTensor) g = NULL;

    /* the shared-memory and cooperative-matrix kernels take the GEGLU as
     * they stage x (see matmul.comp's A_GEGLU); the register kernels get
     * it from a pass of its own */
    if (coop_mode (ctx, w->dtype) != COOP_NONE || kernels (ctx) == KERNELS_SHARED)
      return record_matmul (cmd, y, x, w, bias, residual, (MatmulForm){ 0, 1, TRUE }, 1, m, n,
                            k, 0, TRUE, 1.0f, error);
    memcpy (g_shape, x->shape, sizeof g_shape);
    g_shape[x->ndim - 1] = k;
    return (g = df_tensor_new (ctx, x->dtype, x->ndim, g_shape, error)) != NULL
           && df_op_geglu (cmd, g, x, error)
           && record_matmul (cmd, y, g, w, bias, residual, PLAIN, 1, m, n, k, 0, TRUE, 1.0f,
                             error);
  }
}

gboolean
df_op_matmul (DfCmd *cmd, DfTensor *y, const DfTensor *a, const DfTensor *b,
              gboolean transpose_b, float alpha, GError **error)
{
  const char *op = "matmul";
  int64_t batch, m, n, k, b_rows, b_cols;

  g_return_val_if_fail (cmd != NULL && y != NULL && a != NULL && b != NULL, FALSE);

  if (!check_float (op, a, a, error) || !check_float (op, a, b, error)
      || !check_float (op, a, y, error))
    return FALSE;
  if ((a->ndim != 2 && a->ndim != 3) || b->ndim != a->ndim)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "matmul: a %s and b %s must both be [M, K] or [B, M, K]",
                   df_shape_str (a), df_shape_str (b));
      return FALSE;
    }
  batch = a->ndim == 3 ? a->shape[0] : 1;
  m = a->shape[a->ndim - 2];
  k = a->shape[a->ndim - 1];
  b_rows = b->shape[b->ndim - 2];
  b_cols = b->shape[b->ndim - 1];
  n = transpose_b ? b_rows : b_cols;
  if ((transpose_b ? b_cols : b_rows) != k || (a->ndim == 3 && b->shape[0] != batch) || k == 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "matmul: b %s does not match a %s%s", df_shape_str (b), df_shape_str (a),
                   transpose_b ? " (b transposed)" : "");
      return FALSE;
    }
  {
    int64_t y_shape[3] = { batch, m, n };
    if (!df_check_shape (op, y, a->ndim, a->ndim == 3 ? y_shape : y_shape + 1, error))
      return FALSE;
  }

  return record_matmul (cmd, y, a, b, NULL, NULL, PLAIN, batch, m, n, k, k * n, transpose_b,
                        alpha, error);
}

/* Output pixels up to which a CPU device runs conv2d as im2col and a
 * linear layer: the weights are then read as vec4s along C·k·k, each
 * load feeding 16 pixel rows, instead of one scalar load per tap and
 * channel (the UNet's 4×4, 2×2 and 1×1 levels at small latents: a
 * 64×64 picture's step 1.5× faster with up to 4 pixels, 2× with up to 16;
 * 64 gained nothing more). */
#define CONV_IM2COL_MAX_PIXELS 16

/* conv2d of a tiny image as patches [N·P, C·k·k] · wᵀ (+ bias, + the
 * residual), stored channels first straight into y [N, O, P]. */
static gboolean
conv2d_im2col (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
               const DfTensor *bias, const DfTensor *residual, int64_t residual_div, int stride,
               int padding, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  const int64_t n = x->shape[0], c = x->shape[1], o = w->shape[0], ks = w->shape[2];
  const int64_t ho = y->shape[2], wo = y->shape[3], np = ho * wo, kdim = c * ks * ks;
  const int64_t w2[2] = { o, kdim };
  const MatmulForm form = { np, residual_div, FALSE };
  DfTensor wv = *w;
  g_autoptr (DfTensor) patches = NULL;
  DfPushConv2d push = {
    .c = (uint32_t) c,
    .h = (uint32_t) x->shape[2],
    .w = (uint32_t) x->shape[3],
    .o = (uint32_t) n, /* the batch, see im2col.comp */
    .ho = (uint32_t) ho,
    .wo = (uint32_t) wo,
    .ksize = (uint32_t) ks,
    .stride = (uint32_t) stride,
    .padding = padding,
  };
  DfDispatch d = {
    .shader = DF_SHADER_FOR (im2col, x->dtype),
    .spec = { 64, 1, 1 },
    .n_spec = 3,
    .n_bindings = 2,
    .write_mask = 1u << 0,
    .push = &push,
    .push_size = sizeof push,
  };

  if ((patches = df_tensor_new4 (ctx, x->dtype, n * np, kdim, 0, 0, error)) == NULL
      || !df_tensor_reshape (&wv, 2, w2, error) || !check_range ("conv2d", patches, error))
    return FALSE;
  d.bindings[0] = patches;
  d.bindings[1] = x;
  d.groups[0] = df_groups_1d (ctx, df_tensor_numel (patches), 64);
  d.groups[1] = d.groups[2] = 1;
  return df_cmd_dispatch (cmd, &d, error)
         && record_matmul (cmd, y, patches, &wv, bias, residual, form, 1, n * np, o, kdim, 0,
                           TRUE, 1.0f, error);
}

/* Workgroup of the CPU conv2d for images of few pixels: one pixel tile
 * wide, 8 channel tiles high (1×8 beat 1×1 and 1×4 on lavapipe: at
 * 1280 channels and 1×1, 2×2, 4×4 pixels 3.5×, 4× and 1.5× faster than
 * the 8×1 pixel-tile layout). */
#define SMALL_WG_X 1
#define SMALL_WG_Y 8

gboolean
df_op_conv2d (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
              const DfTensor *bias, int stride, int padding, GError **error)
{
  return df_op_conv2d_add (cmd, y, x, w, bias, NULL, stride, padding, error);
}

gboolean
df_op_conv2d_add (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                  const DfTensor *bias, const DfTensor *residual, int stride, int padding,
                  GError **error)
{
  const char *op = "conv2d";
  DfContext *ctx;
  DfKernels kern;
  DfTileConfig cfg;
  int64_t n, c, h, wd, o, ks, ho, wo, residual_div = 1;

  g_return_val_if_fail (cmd != NULL && y != NULL && x != NULL && w != NULL, FALSE);

  if (!check_float (op, x, x, error) || !check_float (op, x, w, error)
      || !check_float (op, x, y, error) || !check_float (op, x, bias, error)
      || !check_float (op, x, residual, error))
    return FALSE;
  if (x->ndim != 4 || w->ndim != 4 || w->shape[1] != x->shape[1] || w->shape[2] != w->shape[3]
      || (w->shape[2] != 1 && w->shape[2] != 3))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "conv2d: weight %s does not fit input %s (want [O, C, k, k], k = 1 or 3)",
                   df_shape_str (w), df_shape_str (x));
      return FALSE;
    }
  if ((stride != 1 && stride != 2) || padding < 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "conv2d: stride %d, padding %d not supported (stride 1 or 2, padding ≥ 0)",
                   stride, padding);
      return FALSE;
    }
  n = x->shape[0];
  c = x->shape[1];
  h = x->shape[2];
  wd = x->shape[3];
  o = w->shape[0];
  ks = w->shape[2];
  if (h + 2 * padding < ks || wd + 2 * padding < ks || c == 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "conv2d: input %s is smaller than the kernel", df_shape_str (x));
      return FALSE;
    }
  ho = (h + 2 * padding - ks) / stride + 1;
  wo = (wd + 2 * padding - ks) / stride + 1;
  {
    const int64_t y_shape[4] = { n, o, ho, wo }, per_channel[4] = { n, o, 1, 1 };
    if (!df_check_shape (op, y, 4, y_shape, error)
        || (bias != NULL && !df_check_shape (op, bias, 1, &o, error)))
      return FALSE;
    /* a residual shaped like y, or one value per image and channel */
    if (residual != NULL && !df_shape_equal (residual, 4, y_shape))
      {
        if (!df_shape_equal (residual, 4, per_channel))
          {
            g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                         "conv2d: residual %s is neither shaped like the output nor one value "
                         "per image and channel", df_shape_str (residual));
            return FALSE;
          }
        residual_div = ho * wo;
      }
  }
  if (n == 0 || o == 0)
    return TRUE;

  ctx = df_cmd_get_context (cmd);
  kern = kernels (ctx);
  cfg = tile_config (kern);
  if (kern == KERNELS_CPU && ho * wo <= CONV_IM2COL_MAX_PIXELS && (c * ks * ks) % 4 == 0)
    return conv2d_im2col (cmd, y, x, w, bias, residual, residual_div, stride, padding, error);
  {
    /* row-segment path (see conv2d.comp): tp output pixels of one row per
     * invocation, cb input channels per step (4 multiply-adds per
     * accumulator and step for 1×1, 6 for 3×3) */
    gboolean vec4 = stride == 1 && wd % 4 == 0 && wo % 4 == 0 && padding <= 4;
    uint32_t tp = wo % 16 == 0 ? 16 : wo % 8 == 0 ? 8 : 4;
    uint32_t cb_want = ks == 1 ? 4 : 2;
    uint32_t cb = c % cb_want == 0 ? cb_want : c % 2 == 0 ? 2 : 1;
    DfPushConv2d push = {
      .c = (uint32_t) c,
      .h = (uint32_t) h,
      .w = (uint32_t) wd,
      .o = (uint32_t) o,
      .ho = (uint32_t) ho,
      .wo = (uint32_t) wo,
      .ksize = (uint32_t) ks,
      .stride = (uint32_t) stride,
      .padding = padding,
      .has_bias = bias != NULL ? 1 : 0,
      .has_residual = residual != NULL ? 1 : 0,
      .residual_div = (uint32_t) residual_div,
    };
    DfDispatch d = {
      .shader = DF_SHADER_FOR (conv2d, y->dtype),
      .spec = { cfg.wg_x, cfg.wg_y, 1, cfg.tile_y, cfg.tile_x },
      .n_spec = 5,
      /* without a bias or residual, w stands in for the unread binding */
      .bindings = { y, x, w, bias != NULL ? bias : w, residual != NULL ? residual : w },
      .n_bindings = 5,
      .write_mask = 1u << 0,
      .push = &push,
      .push_size = sizeof push,
      .groups = { df_div_up (ho * wo, (int64_t) cfg.tile_x * cfg.wg_x),
                  df_div_up (o, (int64_t) cfg.tile_y * cfg.wg_y), (uint32_t) n },
    };

    if (kern == KERNELS_CPU && !vec4 && ho * wo < (int64_t) cfg.tile_x * cfg.wg_x)
      {
        /* few output pixels (the UNet's innermost blocks at small
         * latents): a pixel tile no wider than the image, and the
         * workgroup spread over output channels instead of pixels, so
         * invocations are not mostly idle */
        uint32_t tpx = 1;
        while (tpx < (uint32_t) (ho * wo) && tpx < cfg.tile_x)
          tpx *= 2;
        d.spec[0] = SMALL_WG_X;
        d.spec[1] = SMALL_WG_Y;
        d.spec[4] = tpx;
        d.groups[0] = df_div_up (ho * wo, (int64_t) tpx * SMALL_WG_X);
        d.groups[1] = df_div_up (o, (int64_t) cfg.tile_y * SMALL_WG_Y);
      }
    DfCoop coop = coop_mode (ctx, y->dtype);

    if (coop != COOP_NONE)
      coop_dispatch (ctx, coop, COOP_SHADERS (conv2d, ), o, ho * wo, n, &d);
    else if (kern == KERNELS_SHARED)
      {
        d.shader = DF_SHADER_FOR (conv2d_shared, y->dtype);
        d.spec[5] = cfg.bk;
        d.n_spec = 6;
      }
    else if (vec4 && kern == KERNELS_CPU)
      {
        d.shader = DF_SHADER_FOR (conv2d_vec4, y->dtype);
        d.spec[4] = tp;
        d.spec[5] = (uint32_t) ks;
        d.spec[6] = (uint32_t) padding;
        d.spec[7] = cb;
        d.n_spec = 8;
        d.groups[0] = df_div_up (ho * (wo / tp), cfg.wg_x);
      }
    if (!check_groups (op, ctx, d.groups, error))
      return FALSE;
    return df_cmd_dispatch (cmd, &d, error);
  }
}

/* Widest head the fused attention runs: on GPUs its query row and
 * accumulator live in registers; on lavapipe wider heads loop over their
 * elements for every key, and gallivm ends an invocation's loops after
 * 65535 iterations in all (D = 512 went wrong past 64 keys).  Wider heads
 * are matrix products. */
#define ATTENTION_FUSED_MAX_HEAD_DIM 160

/* Most keys the CPU kernels take: lavapipe ends an invocation's loops
 * after 65535 iterations, and the fused kernel's key loop went wrong at
 * 70000 keys (a 2048² picture); 32768 is a 1448² picture. */
#define ATTENTION_CPU_MAX_KEYS 32768

/* Widest head the cooperative-matrix attention takes (attention_coop.comp
 * pads heads to a multiple of 16 up to this): SD 1.5's 40, 80 and 160,
 * SD 2's 64. */
#define ATTENTION_COOP_MAX_HEAD_DIM 160

/* Shared memory attention_coop.comp declares for head dimension @d. */
static uint64_t
attention_coop_shared_bytes (int64_t d, gboolean emulated)
{
  const uint64_t dp = (uint64_t) (d + 15) / 16 * 16;
  uint64_t bytes = 3 * 32 * (dp + 8) * 2 /* q, k, v */ + 32 * 32 * 4 /* s */
                   + 32 * 40 * 2 /* p */ + 2 * 32 * 4 /* row max, sum */;

  return emulated ? bytes + 32 * dp * 4 /* o */ : bytes;
}

/* Scores of the matrix-product attention held at once, at most. */
#define ATTENTION_SCORE_BYTES ((uint64_t) 32 << 20)

/* Attention as matrix products, for heads wider than the cooperative-matrix
 * attention takes and the fused kernels run: Q, K and V permuted to
 * [B, H, L, D]; per head S = scale · Q Kᵀ, softmax of
 * each row of S in place, O = S V; O permuted back.  The scores are
 * stored in fp32 (fp16 would round logits of a few hundred by a whole
 * unit, a factor e in the probabilities) for as many heads as fit in
 * ATTENTION_SCORE_BYTES, or for as many query rows of one head.  Not
 * causal (CLIP's short causal attention stays fused). */
static gboolean
attention_products (DfCmd *cmd, DfTensor *out, const DfTensor *q, const DfTensor *k,
                    const DfTensor *v, int heads, float scale, GError **error)
{
  static const int to_heads[4] = { 0, 2, 1, 3 }; /* [B, L, H, D] ↔ [B, H, L, D] */
  DfContext *ctx = df_cmd_get_context (cmd);
  const DfDeviceInfo *info = df_context_get_info (ctx);
  const DfDType dt = q->dtype;
  const int64_t b = q->shape[0], lq = q->shape[1], lk = k->shape[1];
  const int64_t d = q->shape[2] / heads, bh = b * heads;
  const uint64_t es = sizeof (float); /* of the scores */
  const char *test_budget = g_getenv ("DIFFUSE_TEST_SCORE_BYTES");
  /* testing aid: small budgets make small shapes group heads and split
   * query rows */
  const uint64_t budget = MIN (test_budget != NULL ? g_ascii_strtoull (test_budget, NULL, 10)
                                                   : ATTENTION_SCORE_BYTES,
                               info->max_storage_buffer_range);
  const uint64_t per_head = (uint64_t) lq * (uint64_t) lk * es;
  /* heads per step, and query rows per step (all of them unless one
   * head's scores exceed the budget) */
  const int64_t nh_max = per_head <= budget ? (int64_t) MIN (budget / per_head, (uint64_t) bh) : 1;
  const int64_t nr_max = per_head <= budget ? lq : MAX (1, (int64_t) (budget / ((uint64_t) lk * es)));
  const int64_t q4[4] = { b, lq, heads, d }, k4[4] = { b, lk, heads, d };
  DfTensor qv = *q, kv = *k, vv = *v, outv = *out;
  g_autoptr (DfTensor) qh = NULL;
  g_autoptr (DfTensor) kh = NULL;
  g_autoptr (DfTensor) vh = NULL;
  g_autoptr (DfTensor) oh = NULL;
  const int64_t q2[2] = { bh * lq, d }, k2[2] = { bh * lk, d };

  /* reshaped copies of the descriptors: the same memory seen as 4-D */
  if (!df_tensor_reshape (&qv, 4, q4, error) || !df_tensor_reshape (&kv, 4, k4, error)
      || !df_tensor_reshape (&vv, 4, k4, error) || !df_tensor_reshape (&outv, 4, q4, error)
      || (qh = df_tensor_new4 (ctx, dt, b, heads, lq, d, error)) == NULL
      || (kh = df_tensor_new4 (ctx, dt, b, heads, lk, d, error)) == NULL
      || (vh = df_tensor_new4 (ctx, dt, b, heads, lk, d, error)) == NULL
      || (oh = df_tensor_new4 (ctx, dt, b, heads, lq, d, error)) == NULL
      || !df_op_permute (cmd, qh, &qv, to_heads, error)
      || !df_op_permute (cmd, kh, &kv, to_heads, error)
      || !df_op_permute (cmd, vh, &vv, to_heads, error)
      || !df_tensor_reshape (qh, 2, q2, error) || !df_tensor_reshape (kh, 2, k2, error)
      || !df_tensor_reshape (vh, 2, k2, error) || !df_tensor_reshape (oh, 2, q2, error))
    return FALSE;

  for (int64_t h0 = 0; h0 < bh; h0 += nh_max)
    for (int64_t r0 = 0; r0 < lq; r0 += nr_max)
      {
        const int64_t nh = MIN (nh_max, bh - h0), nr = MIN (nr_max, lq - r0);
        const int64_t q3[3] = { nh, nr, d }, k3[3] = { nh, lk, d };
        g_autoptr (DfTensor) qs = df_tensor_view_rows (qh, h0 * lq + r0, nh * nr, error);
        g_autoptr (DfTensor) ks = qs ? df_tensor_view_rows (kh, h0 * lk, nh * lk, error) : NULL;
        g_autoptr (DfTensor) vs = ks ? df_tensor_view_rows (vh, h0 * lk, nh * lk, error) : NULL;
        g_autoptr (DfTensor) os = vs ? df_tensor_view_rows (oh, h0 * lq + r0, nh * nr, error) : NULL;
        g_autoptr (DfTensor) s = os ? df_tensor_new4 (ctx, DF_DTYPE_F32, nh, nr, lk, 0, error)
                                    : NULL;

        if (s == NULL || !df_tensor_reshape (qs, 3, q3, error)
            || !df_tensor_reshape (ks, 3, k3, error) || !df_tensor_reshape (vs, 3, k3, error)
            || !df_tensor_reshape (os, 3, q3, error)
            || !record_matmul (cmd, s, qs, ks, NULL, NULL, PLAIN, nh, nr, lk, d, lk * d, TRUE,
                               scale, error)
            || !df_op_softmax (cmd, s, s, error)
            || !record_matmul (cmd, os, s, vs, NULL, NULL, PLAIN, nh, nr, d, lk, lk * d, FALSE,
                               1.0f, error))
          return FALSE;
      }
  {
    const int64_t o4[4] = { b, heads, lq, d };
    return df_tensor_reshape (oh, 4, o4, error) && df_op_permute (cmd, &outv, oh, to_heads, error);
  }
}

gboolean
df_op_attention (DfCmd *cmd, DfTensor *out, const DfTensor *q, const DfTensor *k,
                 const DfTensor *v, int heads, float scale, gboolean causal, GError **error)
{
  const char *op = "attention";
  DfContext *ctx;
  DfKernels kern;
  DfCoop coop;
  gboolean fused_coop;
  int64_t batch, lq, lk, channels, d;

  g_return_val_if_fail (cmd != NULL && out != NULL && q != NULL && k != NULL && v != NULL,
                        FALSE);

  if (!check_float (op, q, q, error) || !check_float (op, q, k, error)
      || !check_float (op, q, v, error) || !check_float (op, q, out, error))
    return FALSE;
  if (q->ndim != 3 || k->ndim != 3 || heads <= 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "attention: q %s and k %s must be [B, L, heads·D] with heads > 0 (heads %d)",
                   df_shape_str (q), df_shape_str (k), heads);
      return FALSE;
    }
  batch = q->shape[0];
  lq = q->shape[1];
  channels = q->shape[2];
  lk = k->shape[1];
  d = channels / heads;
  if (channels % heads != 0 || d % 8 != 0 || d == 0 || d > ATTENTION_MAX_HEAD_DIM)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "attention: %" G_GINT64_FORMAT " channels in %d heads: the head dimension "
                   "must be a multiple of 8 up to %d", channels, heads,
                   ATTENTION_MAX_HEAD_DIM);
      return FALSE;
    }
  {
    int64_t kv_shape[3] = { batch, lk, channels };
    if (!df_check_shape (op, k, 3, kv_shape, error) || !df_check_shape (op, v, 3, kv_shape, error)
        || !df_check_shape (op, out, 3, q->shape, error))
      return FALSE;
  }
  if (batch == 0 || lq == 0)
    return TRUE;
  if (lk == 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "attention: no keys (k %s)", df_shape_str (k));
      return FALSE;
    }

  ctx = df_cmd_get_context (cmd);
  kern = kernels (ctx);
  if (kern == KERNELS_CPU && lk > ATTENTION_CPU_MAX_KEYS)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "attention: %" G_GINT64_FORMAT " keys are more than a CPU device runs "
                   "correctly (%d); use a smaller picture", lk, ATTENTION_CPU_MAX_KEYS);
      return FALSE;
    }
  coop = coop_mode (ctx, q->dtype);
  /* on cooperative matrices with the scores in shared memory, where the
   * kernel's tiles fit (unless DIFFUSE_ATTENTION=products asks for the
   * products, to compare) */
  fused_coop = !causal && coop != COOP_NONE && d <= ATTENTION_COOP_MAX_HEAD_DIM
               && attention_coop_shared_bytes (d, coop == COOP_EMULATED)
                      <= df_context_get_info (ctx)->max_shared_memory
               && g_strcmp0 (g_getenv ("DIFFUSE_ATTENTION"), "products") != 0;
  /* as matrix products on cooperative matrices otherwise, and elsewhere
   * for heads wider than the fused kernel runs (the VAE's 512), when every
   * head's rows can be viewed at an aligned offset */
  if (!fused_coop && !causal && (coop != COOP_NONE || d > ATTENTION_FUSED_MAX_HEAD_DIM)
      && (uint64_t) d * df_dtype_size (q->dtype)
             % MAX (df_context_get_info (ctx)->min_storage_buffer_offset_alignment, 4) == 0)
    return attention_products (cmd, out, q, k, v, heads, scale, error);
  {
    DfPushAttention push = {
      .lq = (uint32_t) lq,
      .lk = (uint32_t) lk,
      .heads = (uint32_t) heads,
      .causal = causal ? 1 : 0,
      .scale_log2e = (float) (scale * LOG2_E),
    };
    DfDispatch dd = {
      .bindings = { out, q, k, v },
      .n_bindings = 4,
      .write_mask = 1u << 0,
      .push = &push,
      .push_size = sizeof push,
    };

    if (fused_coop)
      {
        /* 32 query rows per workgroup, two subgroups */
        coop_select (ctx, coop, COOP_SHADERS (attention, ), 2, &dd);
        dd.spec[3] = (uint32_t) d;
        dd.n_spec = 4;
        dd.groups[0] = df_div_up (lq, 32);
      }
    else
      {
        uint32_t wg = attention_workgroup (kern), rows = attention_rows (kern, d);

        dd.shader = kern == KERNELS_SHARED ? DF_SHADER_FOR (attention_shared, q->dtype)
                                           : DF_SHADER_FOR (attention, q->dtype);
        dd.spec[0] = wg;
        dd.spec[1] = 1;
        dd.spec[2] = 1;
        dd.spec[3] = (uint32_t) d;
        /* shared: keys per block; else query rows per invocation */
        dd.spec[4] = kern == KERNELS_SHARED ? attention_key_block (ctx, d) : rows;
        dd.n_spec = 5;
        dd.groups[0] = df_div_up (lq, (int64_t) wg * rows);
      }
    dd.groups[1] = (uint32_t) heads;
    dd.groups[2] = (uint32_t) batch;
    if (!check_groups (op, ctx, dd.groups, error))
      return FALSE;
    return df_cmd_dispatch (cmd, &dd, error);
  }
}
