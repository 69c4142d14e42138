/* test-ops-linalg.c — linear, matmul, conv2d and attention on the device
 * against their CPU references (df-ref-linalg.c), in f32 and f16 storage,
 * on shapes that are not multiples of the workgroup or register tile.
 *
 * Tolerances (normalised error, df_test_rel_error):
 *  - f32: 1e-4 — fp32 accumulation against double, K ≤ a few hundred;
 *  - f16: 2e-3 — the inputs are rounded to fp16 before the reference, so
 *    what is left is fp32 accumulation plus rounding the output to fp16
 *    (half an ulp, 2^-11 ≈ 4.9e-4 of the largest value).
 * Outputs start as NaN and every element is compared, so an element the
 * shader skips or gets wrong fails the test. */
#include <math.h>
#include <string.h>

#include "df-ref.h"
#include "df-test.h"

#define TOL_F32 1e-4
#define TOL_F16 2e-3

static double
tolerance (DfDType dtype)
{
  return dtype == DF_DTYPE_F16 ? TOL_F16 : TOL_F32;
}

/* An output tensor full of NaN, so unwritten elements fail comparison. */
static DfTensor *
new_output (DfContext *ctx, DfDType dtype, int ndim, const int64_t *shape)
{
  int64_t n = 1;
  g_autofree float *nan_data = NULL;

  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  nan_data = g_new (float, MAX (n, 1));
  for (int64_t i = 0; i < n; i++)
    nan_data[i] = NAN;
  return df_test_tensor (ctx, dtype, nan_data, ndim, shape);
}

static void
submit (DfCmd *cmd)
{
  g_autoptr (GError) error = NULL;

  df_cmd_submit_wait (cmd, &error);
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------
 * linear
 * ------------------------------------------------------------------------ */

/* Residual of the fused epilogue: none, a tensor of its own, y itself
 * (y += …, y holding the residual before the op), or (conv2d) one value
 * per image and channel, added to every pixel. */
typedef enum
{
  RES_NONE,
  RES_TENSOR,
  RES_IN_PLACE,
  RES_PER_CHANNEL,
} Residual;

/* want += the residual, each of its values added to @per elements of
 * want in a row; returns the residual's data (or NULL) */
static float *
add_residual_per (DfDType dtype, Residual res, float *want, int64_t n, int64_t per)
{
  float *r;

  if (res == RES_NONE)
    return NULL;
  r = df_test_new_input (dtype, n / per, 14, -2, 2);
  for (int64_t i = 0; i < n; i++)
    want[i] += r[i / per];
  return r;
}

static float *
add_residual (DfDType dtype, Residual res, float *want, int64_t n)
{
  return add_residual_per (dtype, res, want, n, 1);
}

/* y = x · wᵀ (+ bias) (+ residual) for x [b, l, k] or, with @geglu
 * (df_op_geglu_linear_add), for the GEGLU of x [b, l, 2k].  @h > 0:
 * stored channels first (df_op_linear_nchw), y [b, n, h, l / h]. */
static void
check_linear_full (DfDType dtype, int64_t b, int64_t l, int64_t k, int64_t n,
                   gboolean with_bias, Residual res, gboolean geglu, int64_t h)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  int64_t m = b * l, kx = geglu ? 2 * k : k;
  g_autofree float *x = df_test_new_input (dtype, m * kx, 1, -1, 1);
  g_autofree float *g = geglu ? g_new (float, m * k) : NULL;
  g_autofree float *w = df_test_new_input (dtype, n * k, 2, -1, 1);
  g_autofree float *bias = with_bias ? df_test_new_input (dtype, n, 3, -1, 1) : NULL;
  g_autofree float *want = g_new (float, m * n);
  g_autofree float *got = NULL;
  int64_t x_shape[3] = { b, l, kx }, w_shape[2] = { n, k };
  int64_t y_rows[3] = { b, l, n }, y_nchw[4] = { b, n, h, h > 0 ? l / h : 0 };
  const int64_t *y_shape = h > 0 ? y_nchw : y_rows;
  int y_ndim = h > 0 ? 4 : 3;
  g_autoptr (DfTensor) tx = df_test_tensor (ctx, dtype, x, 3, x_shape);
  g_autoptr (DfTensor) tw = df_test_tensor (ctx, dtype, w, 2, w_shape);
  g_autoptr (DfTensor) tb = with_bias ? df_test_tensor (ctx, dtype, bias, 1, &n) : NULL;
  g_autoptr (DfTensor) ty = NULL;
  g_autoptr (DfTensor) tr = NULL;
  g_autofree float *r = NULL;
  const DfTensor *residual;

  g_assert_no_error (error);
  g_assert (!(geglu && h > 0));
  if (geglu)
    df_ref_geglu (g, x, m, k);
  df_ref_linear (want, geglu ? g : x, w, bias, m, n, k);
  if (h > 0)
    {
      /* rows [b, l, n] → [b, n, l] */
      g_autofree float *rows = g_memdup2 (want, m * n * sizeof (float));
      for (int64_t i = 0; i < b; i++)
        for (int64_t j = 0; j < n; j++)
          for (int64_t p = 0; p < l; p++)
            want[(i * n + j) * l + p] = rows[(i * l + p) * n + j];
    }
  r = add_residual (dtype, res, want, m * n);
  ty = res == RES_IN_PLACE ? df_test_tensor (ctx, dtype, r, y_ndim, y_shape)
                           : new_output (ctx, dtype, y_ndim, y_shape);
  tr = res == RES_TENSOR ? df_test_tensor (ctx, dtype, r, y_ndim, y_shape) : NULL;
  residual = res == RES_IN_PLACE ? ty : tr;
  if (geglu)
    g_assert_true (df_op_geglu_linear_add (cmd, ty, tx, tw, tb, residual, &error));
  else if (h > 0)
    g_assert_true (df_op_linear_nchw (cmd, ty, tx, tw, tb, residual, &error));
  else
    g_assert_true (df_op_linear_add (cmd, ty, tx, tw, tb, residual, &error));
  g_assert_no_error (error);
  submit (cmd);
  got = df_test_download (ty);
  df_test_assert_close (got, want, m * n, tolerance (dtype));
}

static void
check_linear_res (DfDType dtype, int64_t b, int64_t l, int64_t k, int64_t n, gboolean with_bias,
                  Residual res)
{
  check_linear_full (dtype, b, l, k, n, with_bias, res, FALSE, 0);
}

static void
check_linear (DfDType dtype, int64_t b, int64_t l, int64_t k, int64_t n, gboolean with_bias)
{
  check_linear_res (dtype, b, l, k, n, with_bias, RES_NONE);
}

static void
test_linear (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  /* M = 74, more than one workgroup tile in both directions */
  check_linear (dtype, 2, 37, 45, 71, TRUE);
  check_linear (dtype, 1, 5, 3, 1, FALSE);
  check_linear (dtype, 3, 1, 130, 9, TRUE);
  /* N = 131: more than one workgroup of columns */
  check_linear (dtype, 1, 19, 21, 131, TRUE);
  /* K % 4 == 0: the vec4 path, with edge tiles in M and N */
  check_linear (dtype, 2, 37, 44, 71, TRUE);
  check_linear (dtype, 1, 3, 4, 5, FALSE);
  /* K long enough for hundreds of slices (lavapipe ends every loop of an
   * invocation after 65535 iterations in all) */
  check_linear (dtype, 1, 7, 6000, 9, TRUE);
  /* the residual epilogue: its own tensor, and y += … in place */
  check_linear_res (dtype, 2, 37, 45, 71, TRUE, RES_TENSOR);
  check_linear_res (dtype, 1, 19, 44, 131, FALSE, RES_IN_PLACE);
  check_linear_res (dtype, 1, 5, 3, 1, TRUE, RES_IN_PLACE);
  /* stored channels first (a transformer's proj_out): images of 7×9, 4×4
   * and 3×5 pixels, vec4 and scalar K, more than one tile of rows and
   * columns; a residual of its own, in place, none */
  check_linear_full (dtype, 2, 7 * 9, 44, 71, TRUE, RES_TENSOR, FALSE, 7);
  check_linear_full (dtype, 3, 4 * 4, 13, 20, FALSE, RES_IN_PLACE, FALSE, 4);
  check_linear_full (dtype, 1, 3 * 5, 8, 131, TRUE, RES_NONE, FALSE, 3);
  /* GEGLU taken on load (a feed-forward's second linear, adding into its
   * residual): vec4 (K % 4 == 0) and scalar K, edge tiles */
  check_linear_full (dtype, 2, 37, 44, 71, TRUE, RES_IN_PLACE, TRUE, 0);
  check_linear_full (dtype, 1, 19, 21, 131, FALSE, RES_NONE, TRUE, 0);
  check_linear_full (dtype, 1, 70, 80, 40, TRUE, RES_TENSOR, TRUE, 0);
}

/* ------------------------------------------------------------------------
 * matmul
 * ------------------------------------------------------------------------ */

static void
check_matmul (DfDType dtype, int64_t batch, int64_t m, int64_t k, int64_t n,
              gboolean transpose_b, float alpha)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  g_autofree float *a = df_test_new_input (dtype, batch * m * k, 4, -1, 1);
  g_autofree float *b = df_test_new_input (dtype, batch * k * n, 5, -1, 1);
  g_autofree float *want = g_new (float, batch * m * n);
  g_autofree float *got = NULL;
  int64_t a_shape[3] = { batch, m, k }, y_shape[3] = { batch, m, n };
  int64_t b_shape[3] = { batch, transpose_b ? n : k, transpose_b ? k : n };
  g_autoptr (DfTensor) ta = df_test_tensor (ctx, dtype, a, 3, a_shape);
  g_autoptr (DfTensor) tb = df_test_tensor (ctx, dtype, b, 3, b_shape);
  g_autoptr (DfTensor) ty = new_output (ctx, dtype, 3, y_shape);

  g_assert_no_error (error);
  df_ref_matmul (want, a, b, batch, m, n, k, transpose_b, alpha);
  g_assert_true (df_op_matmul (cmd, ty, ta, tb, transpose_b, alpha, &error));
  g_assert_no_error (error);
  submit (cmd);
  got = df_test_download (ty);
  df_test_assert_close (got, want, batch * m * n, tolerance (dtype));
}

static void
test_matmul (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  check_matmul (dtype, 3, 67, 33, 75, FALSE, 1.0f);
  check_matmul (dtype, 2, 41, 57, 19, TRUE, 0.125f);
  check_matmul (dtype, 1, 1, 7, 3, FALSE, -2.0f);
  check_matmul (dtype, 2, 17, 9, 133, FALSE, 1.0f);
  /* b transposed with K % 4 == 0: the vec4 path, batched */
  check_matmul (dtype, 3, 21, 36, 45, TRUE, 0.5f);
}

/* 2-D operands are one batch element. */
static void
test_matmul_2d (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  int64_t m = 9, k = 11, n = 13;
  g_autofree float *a = df_test_new_uniform (m * k, 6, -1, 1);
  g_autofree float *b = df_test_new_uniform (n * k, 7, -1, 1);
  g_autofree float *want = g_new (float, m * n);
  g_autofree float *got = NULL;
  int64_t a_shape[2] = { m, k }, b_shape[2] = { n, k }, y_shape[2] = { m, n };
  g_autoptr (DfTensor) ta = df_test_tensor (ctx, DF_DTYPE_F32, a, 2, a_shape);
  g_autoptr (DfTensor) tb = df_test_tensor (ctx, DF_DTYPE_F32, b, 2, b_shape);
  g_autoptr (DfTensor) ty = new_output (ctx, DF_DTYPE_F32, 2, y_shape);

  df_ref_matmul (want, a, b, 1, m, n, k, TRUE, 1.0f);
  g_assert_true (df_op_matmul (cmd, ty, ta, tb, TRUE, 1.0f, &error));
  g_assert_no_error (error);
  submit (cmd);
  got = df_test_download (ty);
  df_test_assert_close (got, want, m * n, TOL_F32);
}

/* ------------------------------------------------------------------------
 * conv2d
 * ------------------------------------------------------------------------ */

static void
check_conv2d_res (DfDType dtype, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
                  int64_t ks, int stride, int padding, gboolean with_bias, Residual res)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  int64_t ho = (h + 2 * padding - ks) / stride + 1, wo = (w + 2 * padding - ks) / stride + 1;
  g_autofree float *x = df_test_new_input (dtype, n * c * h * w, 8, -1, 1);
  g_autofree float *wt = df_test_new_input (dtype, o * c * ks * ks, 9, -1, 1);
  g_autofree float *bias = with_bias ? df_test_new_input (dtype, o, 10, -1, 1) : NULL;
  g_autofree float *want = g_new (float, n * o * ho * wo);
  g_autofree float *got = NULL;
  int64_t x_shape[4] = { n, c, h, w }, w_shape[4] = { o, c, ks, ks };
  int64_t y_shape[4] = { n, o, ho, wo };
  g_autoptr (DfTensor) tx = df_test_tensor (ctx, dtype, x, 4, x_shape);
  g_autoptr (DfTensor) tw = df_test_tensor (ctx, dtype, wt, 4, w_shape);
  g_autoptr (DfTensor) tb = with_bias ? df_test_tensor (ctx, dtype, bias, 1, &o) : NULL;
  g_autoptr (DfTensor) ty = NULL;
  g_autoptr (DfTensor) tr = NULL;
  g_autofree float *r = NULL;

  g_assert_no_error (error);
  df_ref_conv2d (want, x, wt, bias, n, c, h, w, o, ks, stride, padding);
  r = add_residual_per (dtype, res, want, n * o * ho * wo,
                        res == RES_PER_CHANNEL ? ho * wo : 1);
  ty = res == RES_IN_PLACE ? df_test_tensor (ctx, dtype, r, 4, y_shape)
                           : new_output (ctx, dtype, 4, y_shape);
  if (res == RES_TENSOR)
    tr = df_test_tensor (ctx, dtype, r, 4, y_shape);
  else if (res == RES_PER_CHANNEL)
    tr = df_test_tensor (ctx, dtype, r, 4, (int64_t[]){ n, o, 1, 1 });
  g_assert_true (df_op_conv2d_add (cmd, ty, tx, tw, tb, res == RES_IN_PLACE ? ty : tr, stride,
                                   padding, &error));
  g_assert_no_error (error);
  submit (cmd);
  got = df_test_download (ty);
  df_test_assert_close (got, want, n * o * ho * wo, tolerance (dtype));
}

static void
check_conv2d (DfDType dtype, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t ks,
              int stride, int padding, gboolean with_bias)
{
  check_conv2d_res (dtype, n, c, h, w, o, ks, stride, padding, with_bias, RES_NONE);
}

static void
test_conv2d (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  /* 3×3 stride 1 and 2 with padding 1 (UNet/VAE convs and downsamplers),
   * 1×1 (shortcuts); odd sizes, more output channels than one tile */
  check_conv2d (dtype, 2, 5, 13, 11, 67, 3, 1, 1, TRUE);
  check_conv2d (dtype, 1, 6, 13, 11, 9, 3, 2, 1, TRUE);
  check_conv2d (dtype, 2, 7, 9, 5, 11, 3, 1, 1, FALSE);
  check_conv2d (dtype, 2, 13, 7, 9, 37, 1, 1, 0, TRUE);
  check_conv2d (dtype, 1, 3, 6, 8, 5, 3, 2, 0, FALSE);
  /* padding 2 around a 1×1 kernel: whole rows and columns of bias only */
  check_conv2d (dtype, 1, 4, 5, 3, 6, 1, 2, 2, TRUE);
  /* stride 1, widths multiples of 4: the row-segment (vec4) path with 16,
   * 8 and 4 pixels per invocation, 1×1 and 3×3, wide padding */
  check_conv2d (dtype, 1, 3, 5, 16, 7, 3, 1, 1, TRUE);
  check_conv2d (dtype, 2, 5, 7, 12, 19, 3, 1, 1, FALSE);
  check_conv2d (dtype, 1, 6, 3, 8, 17, 1, 1, 0, TRUE);
  check_conv2d (dtype, 1, 2, 3, 4, 5, 1, 1, 2, TRUE);
  check_conv2d (dtype, 1, 3, 4, 4, 6, 3, 1, 3, FALSE);
  /* channels in steps of 2 (3×3) and 4 (1×1) */
  check_conv2d (dtype, 2, 6, 6, 8, 5, 3, 1, 1, TRUE);
  check_conv2d (dtype, 1, 8, 5, 12, 18, 1, 1, 0, FALSE);
  /* the residual epilogue on each path: scalar (stride 2, odd widths),
   * row segments (widths of 4), tiny images; own tensor and in place */
  check_conv2d_res (dtype, 2, 5, 13, 11, 67, 3, 1, 1, TRUE, RES_TENSOR);
  check_conv2d_res (dtype, 1, 6, 13, 11, 9, 3, 2, 1, FALSE, RES_IN_PLACE);
  check_conv2d_res (dtype, 2, 5, 7, 12, 19, 3, 1, 1, TRUE, RES_IN_PLACE);
  check_conv2d_res (dtype, 1, 8, 5, 12, 18, 1, 1, 0, FALSE, RES_TENSOR);
  check_conv2d_res (dtype, 2, 16, 2, 2, 24, 3, 1, 1, TRUE, RES_IN_PLACE);
  /* images of up to 16 pixels whose C·k·k is a multiple of 4: im2col and
   * a linear layer on CPU devices, with stride 2 and the residual too */
  check_conv2d (dtype, 2, 8, 4, 4, 12, 3, 1, 1, TRUE);
  check_conv2d (dtype, 1, 8, 7, 7, 5, 3, 2, 1, FALSE);
  check_conv2d_res (dtype, 2, 12, 4, 4, 20, 3, 1, 1, TRUE, RES_IN_PLACE);
  check_conv2d_res (dtype, 2, 4, 3, 5, 6, 1, 1, 0, FALSE, RES_TENSOR);
  /* one residual value per image and channel (a resnet's time embedding)
   * on the scalar, row-segment and im2col paths */
  check_conv2d_res (dtype, 2, 5, 13, 11, 67, 3, 1, 1, TRUE, RES_PER_CHANNEL);
  check_conv2d_res (dtype, 2, 5, 7, 12, 19, 3, 1, 1, FALSE, RES_PER_CHANNEL);
  check_conv2d_res (dtype, 2, 12, 4, 4, 20, 3, 1, 1, TRUE, RES_PER_CHANNEL);
  /* the UNet's innermost images: 1×1 (only the centre tap inside) and 1×2 */
  check_conv2d (dtype, 2, 16, 1, 1, 24, 3, 1, 1, TRUE);
  check_conv2d (dtype, 1, 9, 1, 2, 11, 3, 1, 1, FALSE);
}

/* ------------------------------------------------------------------------
 * attention
 * ------------------------------------------------------------------------ */

static void
check_attention (DfDType dtype, int64_t batch, int heads, int64_t d, int64_t lq, int64_t lk,
                 float scale, gboolean causal)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  int64_t ch = heads * d;
  /* q wider than k and v so that some softmax rows are peaked */
  g_autofree float *q = df_test_new_input (dtype, batch * lq * ch, 11, -2, 2);
  g_autofree float *k = df_test_new_input (dtype, batch * lk * ch, 12, -1, 1);
  g_autofree float *v = df_test_new_input (dtype, batch * lk * ch, 13, -1, 1);
  g_autofree float *want = g_new (float, batch * lq * ch);
  g_autofree float *got = NULL;
  int64_t q_shape[3] = { batch, lq, ch }, kv_shape[3] = { batch, lk, ch };
  g_autoptr (DfTensor) tq = df_test_tensor (ctx, dtype, q, 3, q_shape);
  g_autoptr (DfTensor) tk = df_test_tensor (ctx, dtype, k, 3, kv_shape);
  g_autoptr (DfTensor) tv = df_test_tensor (ctx, dtype, v, 3, kv_shape);
  g_autoptr (DfTensor) tout = new_output (ctx, dtype, 3, q_shape);

  g_assert_no_error (error);
  df_ref_attention (want, q, k, v, batch, lq, lk, heads, d, scale, causal);
  g_assert_true (df_op_attention (cmd, tout, tq, tk, tv, heads, scale, causal, &error));
  g_assert_no_error (error);
  submit (cmd);
  got = df_test_download (tout);
  df_test_assert_close (got, want, batch * lq * ch, tolerance (dtype));
}

static void
test_attention (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  /* self-attention, the UNet's first level: D = 40 */
  check_attention (dtype, 2, 2, 40, 37, 37, 1.0f / sqrtf (40), FALSE);
  /* cross-attention with 77 text tokens: D = 64; a large scale makes the
   * softmax peaked, so a wrong running maximum shows */
  check_attention (dtype, 1, 3, 64, 19, 77, 1.0f, FALSE);
  /* the deeper UNet levels: D = 80 and 160 */
  check_attention (dtype, 1, 2, 80, 21, 13, 1.0f / sqrtf (80), FALSE);
  check_attention (dtype, 2, 1, 160, 9, 33, 1.0f / sqrtf (160), FALSE);
  /* the VAE's mid-block: one head of 512, a few keys and several dozen */
  check_attention (dtype, 1, 1, 512, 13, 11, 1.0f / sqrtf (512), FALSE);
  check_attention (dtype, 1, 1, 512, 13, 40, 1.0f / sqrtf (512), FALSE);
  /* and hundreds of keys (the fused kernel's loops over 512 elements per
   * key outran lavapipe's 65535 loop iterations past 64 keys) */
  check_attention (dtype, 1, 1, 512, 5, 300, 1.0f / sqrtf (512), FALSE);
  /* many keys for the wide heads (several query rows per invocation) */
  check_attention (dtype, 1, 2, 160, 19, 100, 1.0f / sqrtf (160), FALSE);
  /* CLIP: causal self-attention, D = 64 */
  check_attention (dtype, 2, 2, 64, 23, 23, 1.0f / 8.0f, TRUE);
  /* several blocks of 32 query rows and of 32 keys, a head of 8 (padded
   * to 16 on cooperative matrices), peaked rows */
  check_attention (dtype, 2, 3, 8, 70, 100, 1.0f, FALSE);
  /* a single key, fewer keys than queries under the causal mask */
  check_attention (dtype, 1, 1, 40, 5, 1, 1.0f, FALSE);
  check_attention (dtype, 1, 2, 64, 11, 6, 0.5f, TRUE);
}

/* ------------------------------------------------------------------------
 * Kernel family: the shaders recorded are those of the device class, or of
 * the family DIFFUSE_KERNELS forces (the same tests run again with =gpu,
 * and the fp16 ones with =coop), so a pass with DIFFUSE_KERNELS=gpu proves
 * the GPU kernels and one with =coop the cooperative-matrix kernels (their
 * emulation on devices without the extension).
 * ------------------------------------------------------------------------ */

static void
test_kernels (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  const DfDeviceInfo *info = df_context_get_info (ctx);
  const char *force = g_getenv ("DIFFUSE_KERNELS");
  gboolean gpu = g_strcmp0 (force, "gpu") == 0 || g_strcmp0 (force, "coop") == 0
                 || (force == NULL && info->type != DF_DEVICE_CPU);
  gboolean native = info->cooperative_matrix || info->cooperative_matrix_nv;
  gboolean coop = info->fp16_arithmetic
                  && (g_strcmp0 (force, "coop") == 0 || (force == NULL && gpu && native));
  /* KHR where the device (and the build) has it, unless DIFFUSE_COOP=nv
   * asks for NV and the device has both */
  gboolean nv = info->cooperative_matrix_nv
                && (!info->cooperative_matrix || g_strcmp0 (g_getenv ("DIFFUSE_COOP"), "nv") == 0);
  const char *coop_kind = nv                                  ? "coop"
                          : info->cooperative_matrix_size == 16 ? "coopkhr"
                          : info->cooperative_matrix_size == 8  ? "coopkhr8"
                                                                : "coopemu";
  int64_t x_shape[2] = { 5, 8 }, w_shape[2] = { 3, 8 }, y_shape[2] = { 5, 3 };
  int64_t img_shape[4] = { 1, 2, 4, 4 }, cw_shape[4] = { 3, 2, 3, 3 };
  int64_t cy_shape[4] = { 1, 3, 4, 4 }, q_shape[3] = { 1, 3, 8 };
  g_autoptr (DfTensor) x = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 2, x_shape);
  g_autoptr (DfTensor) w = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 2, w_shape);
  g_autoptr (DfTensor) y = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 2, y_shape);
  g_autoptr (DfTensor) img = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 4, img_shape);
  g_autoptr (DfTensor) cw = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 4, cw_shape);
  g_autoptr (DfTensor) cy = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 4, cy_shape);
  g_autoptr (DfTensor) q = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 3, q_shape);
  g_autoptr (DfTensor) out = df_test_tensor (ctx, DF_DTYPE_F32, NULL, 3, q_shape);
  g_autoptr (DfTensor) x16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 2, x_shape);
  g_autoptr (DfTensor) w16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 2, w_shape);
  g_autoptr (DfTensor) y16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 2, y_shape);
  g_autoptr (DfTensor) img16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 4, img_shape);
  g_autoptr (DfTensor) cw16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 4, cw_shape);
  g_autoptr (DfTensor) cy16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 4, cy_shape);
  g_autoptr (DfTensor) q16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 3, q_shape);
  g_autoptr (DfTensor) out16 = df_test_tensor (ctx, DF_DTYPE_F16, NULL, 3, q_shape);
  g_autofree char *matmul16 = coop ? g_strdup_printf ("matmul_%s_f16", coop_kind)
                                   : g_strdup (gpu ? "matmul_shared_f16" : "matmul_vec4_f16");
  g_autofree char *conv16 = coop ? g_strdup_printf ("conv2d_%s_f16", coop_kind)
                                 : g_strdup (gpu ? "conv2d_shared_f16" : "conv2d_vec4_f16");
  g_autofree char *attention16 = coop ? g_strdup_printf ("attention_%s_f16", coop_kind)
                                      : g_strdup (gpu ? "attention_shared_f16" : "attention_f16");
  /* K = 8 and widths of 4: the CPU family takes its vec4 variants; fp32
   * never runs on cooperative matrices */
  const char *want[] = {
    gpu ? "matmul_shared_f32" : "matmul_vec4_f32",
    gpu ? "conv2d_shared_f32" : "conv2d_vec4_f32",
    gpu ? "attention_shared_f32" : "attention_f32",
    matmul16,
    conv16,
    attention16,
  };
  GHashTable *profile;

  g_assert_no_error (error);
  if (df_context_get_info (ctx)->timestamp_period_ns <= 0)
    {
      g_test_skip ("the device has no timestamps to label dispatches with");
      return;
    }
  df_cmd_set_profiling (cmd, TRUE);
  g_assert_true (df_op_fill (cmd, cy, 0.0f, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_true (df_op_linear (cmd, y, x, w, NULL, &error));
  g_assert_true (df_op_conv2d (cmd, cy, img, cw, NULL, 1, 1, &error));
  g_assert_true (df_op_attention (cmd, out, q, q, q, 1, 0.5f, FALSE, &error));
  g_assert_true (df_op_linear (cmd, y16, x16, w16, NULL, &error));
  g_assert_true (df_op_conv2d (cmd, cy16, img16, cw16, NULL, 1, 1, &error));
  g_assert_true (df_op_attention (cmd, out16, q16, q16, q16, 1, 0.5f, FALSE, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_no_error (error);
  profile = df_cmd_get_profile (cmd);
  g_assert_nonnull (profile);
  for (size_t i = 0; i < G_N_ELEMENTS (want); i++)
    if (!g_hash_table_contains (profile, want[i]))
      g_error ("shader %s was not recorded (DIFFUSE_KERNELS=%s)", want[i],
               g_getenv ("DIFFUSE_KERNELS"));
}

/* ------------------------------------------------------------------------
 * Invalid arguments
 * ------------------------------------------------------------------------ */

static DfTensor *
empty (DfDType dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
  g_autoptr (GError) error = NULL;
  DfTensor *t = df_tensor_new4 (df_test_context (), dtype, d0, d1, d2, d3, &error);

  g_assert_no_error (error);
  return t;
}

#define assert_invalid(call)                                        \
  G_STMT_START                                                      \
  {                                                                 \
    g_autoptr (GError) err_ = NULL;                                 \
    g_assert_false (call);                                          \
    g_assert_error (err_, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);     \
  }                                                                 \
  G_STMT_END
#define ERR (&err_)

static void
test_invalid (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  const DfDType f32 = DF_DTYPE_F32;
  g_autoptr (DfTensor) x = empty (f32, 2, 5, 8, 0);      /* [2, 5, 8] */
  g_autoptr (DfTensor) w = empty (f32, 3, 8, 0, 0);      /* [3, 8] */
  g_autoptr (DfTensor) w_bad = empty (f32, 3, 7, 0, 0);  /* [3, 7] */
  g_autoptr (DfTensor) w_f16 = empty (DF_DTYPE_F16, 3, 8, 0, 0);
  g_autoptr (DfTensor) bias = empty (f32, 3, 0, 0, 0);
  g_autoptr (DfTensor) bias_bad = empty (f32, 4, 0, 0, 0);
  g_autoptr (DfTensor) y = empty (f32, 2, 5, 3, 0);
  g_autoptr (DfTensor) y_bad = empty (f32, 2, 5, 4, 0);
  g_autoptr (DfTensor) img = empty (f32, 1, 3, 6, 6);
  g_autoptr (DfTensor) cw = empty (f32, 4, 3, 3, 3);
  g_autoptr (DfTensor) cw_bad = empty (f32, 4, 2, 3, 3);
  g_autoptr (DfTensor) cw_5 = empty (f32, 4, 3, 5, 5);
  g_autoptr (DfTensor) cy = empty (f32, 1, 4, 6, 6);
  g_autoptr (DfTensor) cy_s2 = empty (f32, 1, 4, 3, 3);
  g_autoptr (DfTensor) q = empty (f32, 1, 7, 64, 0);
  g_autoptr (DfTensor) kv = empty (f32, 1, 9, 64, 0);
  g_autoptr (DfTensor) kv_bad = empty (f32, 1, 9, 32, 0);
  g_autoptr (DfTensor) kv_b2 = empty (f32, 2, 9, 64, 0);
  g_autoptr (DfTensor) out = empty (f32, 1, 7, 64, 0);
  g_autoptr (DfTensor) y_nchw = empty (f32, 2, 3, 5, 1);     /* [2, 3, 5, 1] */
  g_autoptr (DfTensor) y_nchw_bad = empty (f32, 2, 3, 4, 1); /* 4 pixels, not 5 */
  g_autoptr (DfTensor) res_c = empty (f32, 1, 4, 1, 1);      /* per channel */
  g_autoptr (DfTensor) res_bad = empty (f32, 1, 4, 1, 6);

  g_assert_no_error (error);

  /* the valid calls, so the failures below are about the one change */
  g_assert_true (df_op_linear (cmd, y, x, w, bias, &error));
  g_assert_true (df_op_conv2d (cmd, cy, img, cw, NULL, 1, 1, &error));
  g_assert_true (df_op_conv2d (cmd, cy_s2, img, cw, NULL, 2, 1, &error));
  g_assert_true (df_op_linear_nchw (cmd, y_nchw, x, w, bias, y_nchw, &error));
  g_assert_true (df_op_conv2d_add (cmd, cy, img, cw, NULL, res_c, 1, 1, &error));
  g_assert_true (df_op_attention (cmd, out, q, kv, kv, 4, 0.25f, FALSE, &error));
  g_assert_no_error (error);

  /* linear */
  assert_invalid (df_op_linear (cmd, y, x, w_bad, bias, ERR));
  assert_invalid (df_op_linear (cmd, y_bad, x, w, bias, ERR));
  assert_invalid (df_op_linear (cmd, y, x, w, bias_bad, ERR));
  assert_invalid (df_op_linear (cmd, y, x, w_f16, bias, ERR));
  /* channels first: pixels, channels, the residual's shape, 2-D input */
  assert_invalid (df_op_linear_nchw (cmd, y_nchw_bad, x, w, bias, NULL, ERR));
  assert_invalid (df_op_linear_nchw (cmd, y, x, w, bias, NULL, ERR));
  assert_invalid (df_op_linear_nchw (cmd, y_nchw, x, w, bias, y_nchw_bad, ERR));
  assert_invalid (df_op_linear_nchw (cmd, y_nchw, w, w, bias, NULL, ERR));
  /* GEGLU then linear: the input's features must be twice the weight's */
  assert_invalid (df_op_geglu_linear_add (cmd, y, x, w, bias, NULL, ERR));
  /* matmul: 3-D a with 2-D b, inner dimensions that differ */
  assert_invalid (df_op_matmul (cmd, y, x, w, TRUE, 1.0f, ERR));
  assert_invalid (df_op_matmul (cmd, out, q, kv, TRUE, 1.0f, ERR));
  assert_invalid (df_op_matmul (cmd, out, q, kv, FALSE, 1.0f, ERR));
  /* conv2d: channels, kernel size, output shape, stride */
  assert_invalid (df_op_conv2d (cmd, cy, img, cw_bad, NULL, 1, 1, ERR));
  assert_invalid (df_op_conv2d (cmd, cy, img, cw_5, NULL, 1, 1, ERR));
  assert_invalid (df_op_conv2d (cmd, cy, img, cw, NULL, 2, 1, ERR));
  assert_invalid (df_op_conv2d (cmd, cy, img, cw, NULL, 3, 1, ERR));
  assert_invalid (df_op_conv2d (cmd, cy, img, cw, NULL, 1, -1, ERR));
  assert_invalid (df_op_conv2d (cmd, cy, img, cw, bias, 1, 1, ERR));
  /* a residual neither shaped like y nor one value per channel */
  assert_invalid (df_op_conv2d_add (cmd, cy, img, cw, NULL, res_bad, 1, 1, ERR));
  /* attention: k/v width, batch, heads that leave D = 64 / 3 or 64 / 16 */
  assert_invalid (df_op_attention (cmd, out, q, kv_bad, kv_bad, 4, 0.25f, FALSE, ERR));
  assert_invalid (df_op_attention (cmd, out, q, kv_b2, kv_b2, 4, 0.25f, FALSE, ERR));
  assert_invalid (df_op_attention (cmd, out, q, kv, kv_bad, 4, 0.25f, FALSE, ERR));
  assert_invalid (df_op_attention (cmd, out, q, kv, kv, 3, 0.25f, FALSE, ERR));
  assert_invalid (df_op_attention (cmd, out, q, kv, kv, 16, 0.25f, FALSE, ERR));
  assert_invalid (df_op_attention (cmd, out, q, kv, kv, 0, 0.25f, FALSE, ERR));
  assert_invalid (df_op_attention (cmd, kv, q, kv, kv, 4, 0.25f, FALSE, ERR));
  /* more keys than the CPU kernels run correctly (lavapipe's loop limit) */
  if (g_strcmp0 (g_getenv ("DIFFUSE_KERNELS"), "cpu") == 0
      || (g_getenv ("DIFFUSE_KERNELS") == NULL
          && df_context_get_info (ctx)->type == DF_DEVICE_CPU))
    {
      g_autoptr (DfTensor) kv_long = empty (f32, 1, 32769, 64, 0);
      assert_invalid (df_op_attention (cmd, out, q, kv_long, kv_long, 4, 0.25f, FALSE, ERR));
    }

  /* nothing invalid was recorded; the valid dispatches still run */
  submit (cmd);
}

/* A tensor larger than one storage-buffer binding is refused with a clear
 * error, before anything is recorded. */
static void
test_too_large (void)
{
  DfContext *ctx = df_test_context ();
  const DfDeviceInfo *info = df_context_get_info (ctx);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, &error);
  int64_t k = (int64_t) (info->max_storage_buffer_range / sizeof (float)) + 4;
  g_autoptr (DfTensor) x = NULL;
  g_autoptr (DfTensor) w = empty (DF_DTYPE_F32, 1, 8, 0, 0);
  g_autoptr (DfTensor) y = empty (DF_DTYPE_F32, 1, 1, 0, 0);

  g_assert_no_error (error);
  x = empty (DF_DTYPE_F32, 1, k, 0, 0);
  g_assert_false (df_op_linear (cmd, y, x, w, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "storage-buffer range"));
}

int
main (int argc, char **argv)
{
  static const struct { const char *name; DfDType dtype; } dtypes[] = {
    { "f32", DF_DTYPE_F32 },
    { "f16", DF_DTYPE_F16 },
  };
  static const struct { const char *name; GTestDataFunc func; } ops[] = {
    { "linear", test_linear },
    { "matmul", test_matmul },
    { "conv2d", test_conv2d },
    { "attention", test_attention },
  };
  int ret;

  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (ops); i++)
    for (size_t j = 0; j < G_N_ELEMENTS (dtypes); j++)
      {
        g_autofree char *path = g_strdup_printf ("/ops-linalg/%s/%s", ops[i].name, dtypes[j].name);
        g_test_add_data_func (path, GINT_TO_POINTER (dtypes[j].dtype), ops[i].func);
      }
  g_test_add_func ("/ops-linalg/matmul/2d", test_matmul_2d);
  g_test_add_func ("/ops-linalg/kernels", test_kernels);
  g_test_add_func ("/ops-linalg/invalid", test_invalid);
  g_test_add_func ("/ops-linalg/too-large", test_too_large);
  ret = g_test_run ();
  df_test_context_free ();
  return ret;
}
