/* test-ops-elementwise.c — the normalisation and element-wise ops on the
 * device against their CPU references (df-ref-elementwise.c), in f32 and
 * f16 storage, on shapes that are not multiples of the workgroup size (nor
 * of 4, which the vec4 paths need), plus the vec4 paths themselves.
 *
 * Tolerances (normalised error, df_test_rel_error), per op below.  For f16
 * the inputs are rounded to fp16 before the reference runs, so what is
 * left is fp32 arithmetic plus rounding the output to fp16: half an ulp,
 * 2^-11 ≈ 4.9e-4 of the largest value, or a whole ulp (9.8e-4) if the
 * device rounds towards zero.  Copies (concat, upsample, permute) must be
 * exact in both.  Outputs start as NaN and every element is compared, so
 * a skipped element fails the test, and the f32 tolerances are tight
 * enough that any wrong index or formula fails it too. */
#include <math.h>
#include <string.h>

#include "df-ref.h"
#include "df-test.h"

/* f16: output rounding (see above), and 1.5e-3 where fp32 statistics are
 * normalised and scaled by gamma before the rounding */
#define TOL_F16 1e-3
#define TOL_F16_NORM 1.5e-3

#define F32 GINT_TO_POINTER (DF_DTYPE_F32)
#define F16 GINT_TO_POINTER (DF_DTYPE_F16)

static double
tol (DfDType dtype, double f32, double f16)
{
  return dtype == DF_DTYPE_F16 ? f16 : f32;
}

static int64_t
numel (int ndim, const int64_t *shape)
{
  int64_t n = 1;

  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  return n;
}

/* An output tensor full of NaN, so unwritten elements fail comparison. */
static DfTensor *
new_output (DfDType dtype, int ndim, const int64_t *shape)
{
  int64_t n = numel (ndim, shape);
  g_autofree float *nan_data = g_new (float, MAX (n, 1));

  for (int64_t i = 0; i < n; i++)
    nan_data[i] = NAN;
  return df_test_tensor (df_test_context (), dtype, nan_data, ndim, shape);
}

static DfTensor *
new_tensor (DfDType dtype, const float *data, int ndim, const int64_t *shape)
{
  return df_test_tensor (df_test_context (), dtype, data, ndim, shape);
}

static DfCmd *
new_cmd (void)
{
  g_autoptr (GError) error = NULL;
  DfCmd *cmd = df_cmd_new (df_test_context (), &error);

  g_assert_no_error (error);
  return cmd;
}

static void
submit (DfCmd *cmd)
{
  g_autoptr (GError) error = NULL;

  df_cmd_submit_wait (cmd, &error);
  g_assert_no_error (error);
}

/* After an op was recorded into cmd (without error): submits it, downloads
 * y and compares it with want. */
static void
submit_and_check (DfCmd *cmd, const GError *error, const DfTensor *y, const float *want,
                  double tolerance)
{
  g_autofree float *got = NULL;

  g_assert_no_error (error);
  submit (cmd);
  got = df_test_download (y);
  df_test_assert_close (got, want, df_tensor_numel (y), tolerance);
}

/* ------------------------------------------------------------------------
 * group norm: fp32 statistics in two passes against double.  f32 1e-5:
 * outputs are O(3) and fp32 sums over up to 40960 elements (measured on
 * lavapipe: ≤ 6e-7).
 * ------------------------------------------------------------------------ */

/* Group norm into y shaped like x or, with @nlc, channels last
 * [N, spatial, C] (df_op_group_norm_nlc). */
static void
check_group_norm_to (DfDType dtype, int ndim, const int64_t *shape, int groups, float eps,
                     gboolean silu, float lo, float hi, gboolean nlc)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t n = numel (ndim, shape), c = shape[1], spatial = n / shape[0] / c;
  g_autofree float *x = df_test_new_input (dtype, n, 11, lo, hi);
  g_autofree float *gamma = df_test_new_input (dtype, c, 12, 0.5f, 1.5f);
  g_autofree float *beta = df_test_new_input (dtype, c, 13, -0.5f, 0.5f);
  g_autofree float *want = g_new (float, n);
  const int64_t nlc_shape[3] = { shape[0], spatial, c };
  g_autoptr (DfTensor) tx = new_tensor (dtype, x, ndim, shape);
  g_autoptr (DfTensor) tg = new_tensor (dtype, gamma, 1, &c);
  g_autoptr (DfTensor) tb = new_tensor (dtype, beta, 1, &c);
  g_autoptr (DfTensor) ty = nlc ? new_output (dtype, 3, nlc_shape)
                                : new_output (dtype, ndim, shape);

  df_ref_group_norm (want, x, gamma, beta, shape[0], c, spatial, groups, eps, silu);
  if (nlc)
    {
      g_autofree float *nchw = g_memdup2 (want, n * sizeof (float));
      for (int64_t b = 0; b < shape[0]; b++)
        for (int64_t ch = 0; ch < c; ch++)
          for (int64_t p = 0; p < spatial; p++)
            want[(b * spatial + p) * c + ch] = nchw[(b * c + ch) * spatial + p];
      df_op_group_norm_nlc (cmd, ty, tx, tg, tb, groups, eps, silu, &error);
    }
  else
    df_op_group_norm (cmd, ty, tx, tg, tb, groups, eps, silu, &error);
  submit_and_check (cmd, error, ty, want, tol (dtype, 1e-5, TOL_F16_NORM));
}

static void
check_group_norm (DfDType dtype, int ndim, const int64_t *shape, int groups, float eps,
                  gboolean silu, float lo, float hi)
{
  check_group_norm_to (dtype, ndim, shape, groups, eps, silu, lo, hi, FALSE);
}

static void
test_group_norm (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  /* SD's 32 groups; spatial 35 takes the scalar path */
  check_group_norm (dtype, 4, (int64_t[]){ 2, 64, 7, 5 }, 32, 1e-5f, FALSE, -2, 2);
  check_group_norm (dtype, 4, (int64_t[]){ 2, 64, 7, 5 }, 32, 1e-6f, TRUE, -2, 2);
  /* other group counts; a mean far from 0 (two-pass variance) */
  check_group_norm (dtype, 4, (int64_t[]){ 1, 12, 9, 11 }, 3, 1e-6f, TRUE, 3, 5);
  /* spatial 24: the vec4 path */
  check_group_norm (dtype, 4, (int64_t[]){ 2, 8, 4, 6 }, 4, 1e-5f, TRUE, -1, 3);
  /* [N, C, L] */
  check_group_norm (dtype, 3, (int64_t[]){ 2, 6, 13 }, 2, 1e-5f, FALSE, -1, 1);
  /* 40960-element groups, as 320 channels at 64×64 in 32 groups */
  check_group_norm (dtype, 4, (int64_t[]){ 1, 20, 64, 64 }, 2, 1e-6f, TRUE, -1, 2);
  check_group_norm (dtype, 4, (int64_t[]){ 1, 10, 63, 65 }, 1, 1e-6f, FALSE, -1, 2);
  /* one group of 2^22 + elements (a VAE group at 1024²): more loop
   * iterations than lavapipe runs per invocation at 32 invocations */
  check_group_norm (dtype, 4, (int64_t[]){ 1, 4, 1024, 1032 }, 1, 1e-6f, TRUE, -1, 2);
  /* channels last (a transformer's tokens): several groups and images,
   * spatial a multiple of 4 or not, SiLU or not */
  check_group_norm_to (dtype, 4, (int64_t[]){ 2, 64, 7, 5 }, 32, 1e-6f, FALSE, -2, 2, TRUE);
  check_group_norm_to (dtype, 4, (int64_t[]){ 2, 8, 4, 6 }, 4, 1e-5f, TRUE, 3, 5, TRUE);
  check_group_norm_to (dtype, 4, (int64_t[]){ 1, 20, 32, 32 }, 2, 1e-6f, FALSE, -1, 2, TRUE);
}

/* ------------------------------------------------------------------------
 * layer norm: as group norm, f32 1e-5
 * ------------------------------------------------------------------------ */

static void
check_layer_norm (DfDType dtype, int ndim, const int64_t *shape, float eps)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t n = numel (ndim, shape), c = shape[ndim - 1];
  g_autofree float *x = df_test_new_input (dtype, n, 21, -2, 3);
  g_autofree float *gamma = df_test_new_input (dtype, c, 22, 0.5f, 1.5f);
  g_autofree float *beta = df_test_new_input (dtype, c, 23, -0.5f, 0.5f);
  g_autofree float *want = g_new (float, n);
  g_autoptr (DfTensor) tx = new_tensor (dtype, x, ndim, shape);
  g_autoptr (DfTensor) tg = new_tensor (dtype, gamma, 1, &c);
  g_autoptr (DfTensor) tb = new_tensor (dtype, beta, 1, &c);
  g_autoptr (DfTensor) ty = new_output (dtype, ndim, shape);

  df_ref_layer_norm (want, x, gamma, beta, n / c, c, eps);
  df_op_layer_norm (cmd, ty, tx, tg, tb, eps, &error);
  submit_and_check (cmd, error, ty, want, tol (dtype, 1e-5, TOL_F16_NORM));
}

static void
test_layer_norm (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  check_layer_norm (dtype, 2, (int64_t[]){ 5, 13 }, 1e-5f);
  check_layer_norm (dtype, 3, (int64_t[]){ 2, 77, 768 }, 1e-5f); /* CLIP */
  check_layer_norm (dtype, 3, (int64_t[]){ 1, 67, 320 }, 1e-5f); /* UNet, vec4 */
  check_layer_norm (dtype, 2, (int64_t[]){ 3, 1 }, 1e-5f);       /* y = beta */
}

/* ------------------------------------------------------------------------
 * softmax: f32 1e-6 (values in [0, 1]), f16 the storage rounding; in place
 * and not, rows wider than the workgroup, a single element
 * ------------------------------------------------------------------------ */

static void
check_softmax (DfDType dtype, int64_t rows, int64_t n, gboolean in_place)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t shape[2] = { rows, n };
  /* wide enough that exp underflows for the smallest of a row */
  g_autofree float *x = df_test_new_input (dtype, rows * n, 24, -40, 12);
  g_autofree float *want = g_new (float, rows * n);
  g_autoptr (DfTensor) tx = new_tensor (dtype, x, 2, shape);
  g_autoptr (DfTensor) ty = in_place ? NULL : new_output (dtype, 2, shape);

  df_ref_softmax (want, x, rows, n);
  df_op_softmax (cmd, in_place ? tx : ty, tx, &error);
  submit_and_check (cmd, error, in_place ? tx : ty, want, tol (dtype, 1e-6, TOL_F16));
}

static void
test_softmax (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  check_softmax (dtype, 5, 13, FALSE);
  check_softmax (dtype, 3, 1000, TRUE);
  check_softmax (dtype, 2, 1, FALSE);
  check_softmax (dtype, 64, 77, TRUE);
}

/* ------------------------------------------------------------------------
 * activations: f32 5e-6 (GLSL's exp is within 3 + 2|x| ulp, 2e-6 for
 * |x| ≤ 8 if a device uses all of it; the erf approximation is within
 * 1.5e-7; measured on lavapipe: ≤ 1.5e-7)
 * ------------------------------------------------------------------------ */

static void
check_unary (DfDType dtype, int64_t n, DfUnary op)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  g_autofree float *x = df_test_new_input (dtype, n, 31 + op, -8, 8);
  g_autofree float *want = g_new (float, n);
  g_autoptr (DfTensor) tx = new_tensor (dtype, x, 1, &n);
  g_autoptr (DfTensor) ty = new_output (dtype, 1, &n);

  df_ref_unary (want, x, n, op);
  df_op_unary (cmd, ty, tx, op, &error);
  submit_and_check (cmd, error, ty, want, tol (dtype, 5e-6, TOL_F16));
}

static void
test_unary (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);
  static const DfUnary ops[] = { DF_UNARY_SILU, DF_UNARY_GELU, DF_UNARY_QUICK_GELU };

  for (size_t i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      check_unary (dtype, 1003, ops[i]);
      check_unary (dtype, 3, ops[i]); /* only the scalar tail */
    }
}

static void
check_geglu (DfDType dtype, int64_t rows, int64_t half)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t x_shape[2] = { rows, 2 * half }, y_shape[2] = { rows, half };
  g_autofree float *x = df_test_new_input (dtype, rows * 2 * half, 41, -4, 4);
  g_autofree float *want = g_new (float, rows * half);
  g_autoptr (DfTensor) tx = new_tensor (dtype, x, 2, x_shape);
  g_autoptr (DfTensor) ty = new_output (dtype, 2, y_shape);

  df_ref_geglu (want, x, rows, half);
  df_op_geglu (cmd, ty, tx, &error);
  submit_and_check (cmd, error, ty, want, tol (dtype, 5e-6, TOL_F16));
}

static void
test_geglu (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  check_geglu (dtype, 14, 13); /* scalar */
  check_geglu (dtype, 15, 40); /* vec4 */
}

/* ------------------------------------------------------------------------
 * binary and scale: one fp32 operation, f32 1e-6
 * ------------------------------------------------------------------------ */

static void
check_binary (DfDType dtype, int a_ndim, const int64_t *a_shape, int b_ndim,
              const int64_t *b_shape, DfBinary op, gboolean in_place)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t na = numel (a_ndim, a_shape), nb = numel (b_ndim, b_shape);
  int64_t a4[4] = { 1, 1, 1, 1 }, b4[4] = { 1, 1, 1, 1 };
  g_autofree float *a = df_test_new_input (dtype, na, 51, -2, 2);
  g_autofree float *b = df_test_new_input (dtype, nb, 52, -2, 2);
  g_autofree float *want = g_new (float, na);
  g_autoptr (DfTensor) ta = new_tensor (dtype, a, a_ndim, a_shape);
  g_autoptr (DfTensor) tb = new_tensor (dtype, b, b_ndim, b_shape);
  g_autoptr (DfTensor) ty = in_place ? NULL : new_output (dtype, a_ndim, a_shape);

  for (int d = 0; d < a_ndim; d++)
    a4[4 - a_ndim + d] = a_shape[d];
  for (int d = 0; d < b_ndim && d < 4; d++)
    b4[4 - b_ndim + d] = b_shape[d];
  df_ref_binary (want, a, b, a4, b4, op);
  df_op_binary (cmd, in_place ? ta : ty, ta, tb, op, &error);
  submit_and_check (cmd, error, in_place ? ta : ty, want, tol (dtype, 1e-6, TOL_F16));
}

static void
test_binary (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  /* residual: same shapes (vec4 path with a tail of 2) */
  check_binary (dtype, 4, (int64_t[]){ 2, 3, 5, 7 }, 4, (int64_t[]){ 2, 3, 5, 7 },
                DF_BINARY_ADD, FALSE);
  check_binary (dtype, 4, (int64_t[]){ 2, 3, 5, 7 }, 4, (int64_t[]){ 2, 3, 5, 7 },
                DF_BINARY_MUL, TRUE);
  /* time embedding [N, C, 1, 1] onto [N, C, H, W], also in place */
  check_binary (dtype, 4, (int64_t[]){ 2, 6, 5, 7 }, 4, (int64_t[]){ 2, 6, 1, 1 },
                DF_BINARY_ADD, FALSE);
  check_binary (dtype, 4, (int64_t[]){ 2, 6, 5, 7 }, 4, (int64_t[]){ 2, 6, 1, 1 },
                DF_BINARY_ADD, TRUE);
  /* bias [C] onto [..., C] */
  check_binary (dtype, 3, (int64_t[]){ 3, 5, 7 }, 1, (int64_t[]){ 7 }, DF_BINARY_MUL, FALSE);
  /* broadcast in alternating dimensions, and in the middle */
  check_binary (dtype, 4, (int64_t[]){ 2, 6, 5, 7 }, 4, (int64_t[]){ 1, 6, 1, 7 },
                DF_BINARY_ADD, FALSE);
  check_binary (dtype, 3, (int64_t[]){ 2, 5, 7 }, 2, (int64_t[]){ 5, 1 }, DF_BINARY_MUL, FALSE);
  /* extra leading 1s in b */
  check_binary (dtype, 2, (int64_t[]){ 4, 9 }, 3, (int64_t[]){ 1, 1, 9 }, DF_BINARY_ADD, FALSE);
  /* a scalar b */
  check_binary (dtype, 2, (int64_t[]){ 3, 11 }, 1, (int64_t[]){ 1 }, DF_BINARY_MUL, FALSE);
}

static void
test_scale (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  for (int in_place = 0; in_place < 2; in_place++)
    {
      g_autoptr (DfCmd) cmd = new_cmd ();
      g_autoptr (GError) error = NULL;
      int64_t n = 1027;
      g_autofree float *x = df_test_new_input (dtype, n, 61, -3, 3);
      g_autofree float *want = g_new (float, n);
      g_autoptr (DfTensor) tx = new_tensor (dtype, x, 1, &n);
      g_autoptr (DfTensor) ty = in_place ? NULL : new_output (dtype, 1, &n);

      df_ref_scale (want, x, n, 0.18215f, -0.5f);
      df_op_scale (cmd, in_place ? tx : ty, tx, 0.18215f, -0.5f, &error);
      submit_and_check (cmd, error, in_place ? tx : ty, want, tol (dtype, 1e-6, TOL_F16));
    }
}

/* ------------------------------------------------------------------------
 * layout ops: exact copies
 * ------------------------------------------------------------------------ */

static void
check_concat (DfDType dtype, int ndim, const int64_t *a_shape, int64_t cb)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t b_shape[4], y_shape[4], inner = 1;
  int64_t na = numel (ndim, a_shape), nb;
  g_autofree float *a = df_test_new_input (dtype, na, 71, -2, 2);
  g_autofree float *b = NULL, *want = NULL;
  g_autoptr (DfTensor) ta = NULL, tb = NULL, ty = NULL;

  memcpy (b_shape, a_shape, sizeof (int64_t) * ndim);
  memcpy (y_shape, a_shape, sizeof (int64_t) * ndim);
  b_shape[1] = cb;
  y_shape[1] += cb;
  for (int d = 2; d < ndim; d++)
    inner *= a_shape[d];
  nb = numel (ndim, b_shape);
  b = df_test_new_input (dtype, nb, 72, -2, 2);
  want = g_new (float, na + nb);
  ta = new_tensor (dtype, a, ndim, a_shape);
  tb = new_tensor (dtype, b, ndim, b_shape);
  ty = new_output (dtype, ndim, y_shape);

  df_ref_concat (want, a, b, a_shape[0], a_shape[1], cb, inner);
  df_op_concat (cmd, ty, ta, tb, &error);
  submit_and_check (cmd, error, ty, want, 0);
}

static void
test_concat (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  check_concat (dtype, 4, (int64_t[]){ 2, 3, 5, 7 }, 4);
  check_concat (dtype, 3, (int64_t[]){ 2, 5, 9 }, 3);
  check_concat (dtype, 2, (int64_t[]){ 3, 4 }, 1);
}

static void
test_upsample (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t x_shape[4] = { 2, 3, 5, 7 }, y_shape[4] = { 2, 3, 10, 14 };
  g_autofree float *x = df_test_new_input (dtype, 210, 81, -2, 2);
  g_autofree float *want = g_new (float, 840);
  g_autoptr (DfTensor) tx = new_tensor (dtype, x, 4, x_shape);
  g_autoptr (DfTensor) ty = new_output (dtype, 4, y_shape);

  df_ref_upsample_nearest2x (want, x, 6, 5, 7);
  df_op_upsample_nearest2x (cmd, ty, tx, &error);
  submit_and_check (cmd, error, ty, want, 0);
}

static void
check_permute (DfDType dtype, int ndim, const int64_t *shape, const int *perm)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t n = numel (ndim, shape), s4[4] = { 1, 1, 1, 1 }, y_shape[4];
  int p4[4] = { 0, 1, 2, 3 }, lead = 4 - ndim;
  g_autofree float *x = df_test_new_input (dtype, n, 91, -2, 2);
  g_autofree float *want = g_new (float, n);
  g_autoptr (DfTensor) tx = new_tensor (dtype, x, ndim, shape);
  g_autoptr (DfTensor) ty = NULL;

  for (int d = 0; d < ndim; d++)
    {
      s4[lead + d] = shape[d];
      p4[lead + d] = lead + perm[d];
      y_shape[d] = shape[perm[d]];
    }
  ty = new_output (dtype, ndim, y_shape);
  df_ref_permute (want, x, s4, p4);
  df_op_permute (cmd, ty, tx, perm, &error);
  submit_and_check (cmd, error, ty, want, 0);
}

static void
test_permute (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  /* attention heads [B, L, H, D] → [B, H, L, D] */
  check_permute (dtype, 4, (int64_t[]){ 2, 3, 5, 7 }, (int[]){ 0, 2, 1, 3 });
  /* NCHW → NHWC */
  check_permute (dtype, 4, (int64_t[]){ 2, 3, 5, 7 }, (int[]){ 0, 2, 3, 1 });
  check_permute (dtype, 4, (int64_t[]){ 2, 3, 5, 7 }, (int[]){ 3, 1, 0, 2 });
  check_permute (dtype, 3, (int64_t[]){ 3, 5, 7 }, (int[]){ 1, 0, 2 });
  check_permute (dtype, 2, (int64_t[]){ 9, 13 }, (int[]){ 1, 0 });
  check_permute (dtype, 1, (int64_t[]){ 11 }, (int[]){ 0 });
}

/* ------------------------------------------------------------------------
 * embeddings
 * ------------------------------------------------------------------------ */

/* The reference against values worked out by hand: dim 4, half 2,
 * freq = [1, exp(−ln(10000)/2) = 0.01]. */
static void
test_timestep_embedding_reference (void)
{
  float t[2] = { 1.0f, 3.0f }, y[2 * 5];

  df_ref_timestep_embedding (y, t, 1, 4, TRUE, 0.0f);
  g_assert_cmpfloat_with_epsilon (y[0], cos (1.0), 1e-6);
  g_assert_cmpfloat_with_epsilon (y[1], cos (0.01), 1e-6);
  g_assert_cmpfloat_with_epsilon (y[2], sin (1.0), 1e-6);
  g_assert_cmpfloat_with_epsilon (y[3], sin (0.01), 1e-6);
  /* dim 5: the same two frequencies with shift 1 → freq_1 = 1e-4, sin
   * first, and a zero column */
  df_ref_timestep_embedding (y, t, 2, 5, FALSE, 1.0f);
  g_assert_cmpfloat_with_epsilon (y[5 + 0], sin (3.0), 1e-6);
  g_assert_cmpfloat_with_epsilon (y[5 + 1], sin (3e-4), 1e-7);
  g_assert_cmpfloat_with_epsilon (y[5 + 2], cos (3.0), 1e-6);
  g_assert_cmpfloat_with_epsilon (y[5 + 3], cos (3e-4), 1e-6);
  g_assert_cmpfloat (y[5 + 4], ==, 0.0f);
}

/* The activations' reference against known values. */
static void
test_unary_reference (void)
{
  float x[3] = { 1.0f, -1.0f, 0.5f }, y[3];

  df_ref_unary (y, x, 3, DF_UNARY_GELU);
  g_assert_cmpfloat_with_epsilon (y[0], 0.8413447460685429, 1e-6);
  g_assert_cmpfloat_with_epsilon (y[1], -0.15865525393145707, 1e-6);
  g_assert_cmpfloat_with_epsilon (y[2], 0.34573123063700656, 1e-6);
  df_ref_unary (y, x, 3, DF_UNARY_SILU);
  g_assert_cmpfloat_with_epsilon (y[0], 0.7310585786300049, 1e-6);
  df_ref_unary (y, x, 3, DF_UNARY_QUICK_GELU);
  g_assert_cmpfloat_with_epsilon (y[0], 1.0 / (1.0 + exp (-1.702)), 1e-6);
}

/* t·freq reaches 999 rad: one ulp of the argument is 6e-5, and the
 * shader's exp and the C library's may differ by an ulp, so f32 allows
 * 2e-4; f16 2e-3 (the output rounding, plus that). */
static void
check_timestep_embedding (DfDType dtype, int64_t batch, int64_t dim, gboolean flip,
                          float shift)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  float t[6] = { 0.0f, 1.0f, 17.5f, 261.0f, 999.0f, 500.25f };
  int64_t y_shape[2] = { batch, dim };
  g_autofree float *want = g_new (float, batch * dim);
  g_autoptr (DfTensor) tt = new_tensor (DF_DTYPE_F32, t, 1, &batch);
  g_autoptr (DfTensor) ty = new_output (dtype, 2, y_shape);

  g_assert_cmpint (batch, <=, G_N_ELEMENTS (t));
  df_ref_timestep_embedding (want, t, batch, dim, flip, shift);
  df_op_timestep_embedding (cmd, ty, tt, flip, shift, &error);
  submit_and_check (cmd, error, ty, want, tol (dtype, 2e-4, 2e-3));
}

static void
test_timestep_embedding (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  check_timestep_embedding (dtype, 6, 320, TRUE, 0.0f); /* SD's UNet */
  check_timestep_embedding (dtype, 5, 7, FALSE, 1.0f);
}

/* f32: one fp32 addition, exact but for 1e-7; f16 the output rounding */
static void
check_embedding (DfDType dtype, int64_t batch, int64_t len, int64_t vocab, int64_t c,
                 int64_t positions)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t ids_shape[2] = { batch, len }, tok_shape[2] = { vocab, c };
  int64_t pos_shape[2] = { positions, c }, y_shape[3] = { batch, len, c };
  g_autofree uint32_t *ids = g_new (uint32_t, batch * len);
  g_autofree float *tok = df_test_new_input (dtype, vocab * c, 101, -1, 1);
  g_autofree float *pos = positions ? df_test_new_input (dtype, positions * c, 102, -1, 1) : NULL;
  g_autofree float *want = g_new (float, batch * len * c);
  g_autoptr (DfTensor) tids = df_test_tensor (df_test_context (), DF_DTYPE_U32, NULL, 2,
                                              ids_shape);
  g_autoptr (DfTensor) ttok = new_tensor (dtype, tok, 2, tok_shape);
  g_autoptr (DfTensor) tpos = positions ? new_tensor (dtype, pos, 2, pos_shape) : NULL;
  g_autoptr (DfTensor) ty = new_output (dtype, 3, y_shape);

  for (int64_t i = 0; i < batch * len; i++)
    ids[i] = (uint32_t) ((i * 7919) % vocab);
  ids[batch * len - 1] = 1000000; /* out of range: clamped to vocab − 1 */
  ids[0] = G_MAXUINT32;
  df_tensor_upload (tids, ids, sizeof (uint32_t) * batch * len, &error);
  g_assert_no_error (error);

  df_ref_embedding (want, ids, tok, pos, batch, len, vocab, c);
  df_op_embedding (cmd, ty, tids, ttok, tpos, &error);
  submit_and_check (cmd, error, ty, want, tol (dtype, 1e-7, TOL_F16));
}

static void
test_embedding (gconstpointer data)
{
  DfDType dtype = GPOINTER_TO_INT (data);

  check_embedding (dtype, 2, 9, 50, 13, 11);
  check_embedding (dtype, 1, 77, 300, 16, 0);
}

/* ------------------------------------------------------------------------
 * cast: f32 → f16 is the fp16 rounding (1e-3 allows a device that rounds
 * towards zero); the others are exact
 * ------------------------------------------------------------------------ */

static void
check_cast (DfDType from, DfDType to)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  g_autoptr (GError) error = NULL;
  int64_t shape[2] = { 7, 149 }, y_shape[3] = { 7, 149, 1 }, n = 7 * 149;
  /* up to fp16's largest finite value, 65504 */
  g_autofree float *x = df_test_new_input (from, n, 111, -65000, 65000);
  g_autofree float *want = g_memdup2 (x, sizeof (float) * n);
  g_autoptr (DfTensor) tx = new_tensor (from, x, 2, shape);
  g_autoptr (DfTensor) ty = new_output (to, 3, y_shape);

  if (to == DF_DTYPE_F16)
    df_test_round_f16 (want, n);
  df_op_cast (cmd, ty, tx, &error);
  submit_and_check (cmd, error, ty, want,
                    from == DF_DTYPE_F32 && to == DF_DTYPE_F16 ? 1e-3 : 0);
}

static void
test_cast (void)
{
  check_cast (DF_DTYPE_F32, DF_DTYPE_F16);
  check_cast (DF_DTYPE_F16, DF_DTYPE_F32);
  check_cast (DF_DTYPE_F32, DF_DTYPE_F32);
  check_cast (DF_DTYPE_F16, DF_DTYPE_F16);
}

/* ------------------------------------------------------------------------
 * shapes that do not fit are refused before anything is recorded
 * ------------------------------------------------------------------------ */

static void
assert_invalid (gboolean ok, GError *error)
{
  g_assert_false (ok);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  if (g_test_verbose ())
    g_test_message ("refused: %s", error->message);
}

static void
test_invalid (void)
{
  g_autoptr (DfCmd) cmd = new_cmd ();
  DfDType f32 = DF_DTYPE_F32, f16 = DF_DTYPE_F16;
  g_autoptr (DfTensor) x = new_output (f32, 4, (int64_t[]){ 2, 10, 3, 3 });
  g_autoptr (DfTensor) x16 = new_output (f16, 4, (int64_t[]){ 2, 10, 3, 3 });
  g_autoptr (DfTensor) c10 = new_output (f32, 1, (int64_t[]){ 10 });
  g_autoptr (DfTensor) c9 = new_output (f32, 1, (int64_t[]){ 9 });
  g_autoptr (DfTensor) b4 = new_output (f32, 1, (int64_t[]){ 4 });
  g_autoptr (DfTensor) odd = new_output (f32, 2, (int64_t[]){ 3, 5 });
  g_autoptr (DfTensor) big = new_output (f32, 4, (int64_t[]){ 2, 10, 6, 6 });
  g_autoptr (DfTensor) other = new_output (f32, 4, (int64_t[]){ 3, 10, 3, 3 });
  g_autoptr (DfTensor) ids = df_test_tensor (df_test_context (), DF_DTYPE_U32, NULL, 2,
                                             (int64_t[]){ 1, 3 });
  g_autoptr (DfTensor) t16 = new_output (f16, 1, (int64_t[]){ 2 });
  g_autoptr (DfTensor) emb = new_output (f32, 2, (int64_t[]){ 2, 8 });
  g_autoptr (DfTensor) seq = new_output (f32, 3, (int64_t[]){ 1, 3, 8 });
  GError *error = NULL;

#define REFUSED(call)                \
  G_STMT_START                       \
  {                                  \
    gboolean ok_ = (call);           \
    assert_invalid (ok_, error);     \
    g_clear_error (&error);          \
  }                                  \
  G_STMT_END

  /* 10 channels in 4 groups; gamma of the wrong length; y of another dtype */
  REFUSED (df_op_group_norm (cmd, x, x, c10, c10, 4, 1e-5f, FALSE, &error));
  REFUSED (df_op_group_norm (cmd, x, x, c9, c10, 5, 1e-5f, FALSE, &error));
  REFUSED (df_op_group_norm (cmd, x16, x, c10, c10, 5, 1e-5f, FALSE, &error));
  /* channels last wants y [N, spatial, C], not x's own shape */
  REFUSED (df_op_group_norm_nlc (cmd, x, x, c10, c10, 5, 1e-5f, FALSE, &error));
  /* layer norm over 3 with gamma [10]; y of another shape */
  REFUSED (df_op_layer_norm (cmd, x, x, c10, c10, 1e-5f, &error));
  REFUSED (df_op_layer_norm (cmd, big, x, c10, c10, 1e-5f, &error));
  REFUSED (df_op_softmax (cmd, big, x, &error));
  REFUSED (df_op_softmax (cmd, x16, x, &error));
  /* b [4] does not broadcast onto [..., 3]; b of another dtype */
  REFUSED (df_op_binary (cmd, x, x, b4, DF_BINARY_ADD, &error));
  REFUSED (df_op_binary (cmd, x, x, x16, DF_BINARY_ADD, &error));
  REFUSED (df_op_unary (cmd, big, x, DF_UNARY_GELU, &error));
  REFUSED (df_op_scale (cmd, x16, x, 1.0f, 0.0f, &error));
  /* geglu over an odd last dimension */
  REFUSED (df_op_geglu (cmd, odd, odd, &error));
  /* concat with a different batch */
  REFUSED (df_op_concat (cmd, big, x, other, &error));
  /* upsample into the wrong shape; permute with a repeated axis */
  REFUSED (df_op_upsample_nearest2x (cmd, x, x, &error));
  REFUSED (df_op_permute (cmd, x, x, (int[]){ 0, 1, 1, 3 }, &error));
  /* t must be F32, ids must be U32 */
  REFUSED (df_op_timestep_embedding (cmd, emb, t16, TRUE, 0.0f, &error));
  REFUSED (df_op_embedding (cmd, emb, emb, emb, NULL, &error));
  /* ids [1, 3] need pos with ≥ 3 rows of 8 */
  REFUSED (df_op_embedding (cmd, seq, ids, emb, emb, &error));
  REFUSED (df_op_cast (cmd, odd, ids, &error));
#undef REFUSED

  /* nothing was recorded: the (empty) submit succeeds */
  submit (cmd);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops-elementwise/reference/unary", test_unary_reference);
  g_test_add_func ("/ops-elementwise/reference/timestep-embedding",
                   test_timestep_embedding_reference);
#define ADD_BOTH(name, func)                                             \
  g_test_add_data_func ("/ops-elementwise/" name "/f32", F32, func);     \
  g_test_add_data_func ("/ops-elementwise/" name "/f16", F16, func)
  ADD_BOTH ("group-norm", test_group_norm);
  ADD_BOTH ("layer-norm", test_layer_norm);
  ADD_BOTH ("softmax", test_softmax);
  ADD_BOTH ("unary", test_unary);
  ADD_BOTH ("geglu", test_geglu);
  ADD_BOTH ("binary", test_binary);
  ADD_BOTH ("scale", test_scale);
  ADD_BOTH ("concat", test_concat);
  ADD_BOTH ("upsample", test_upsample);
  ADD_BOTH ("permute", test_permute);
  ADD_BOTH ("timestep-embedding", test_timestep_embedding);
  ADD_BOTH ("embedding", test_embedding);
#undef ADD_BOTH
  g_test_add_func ("/ops-elementwise/cast", test_cast);
  g_test_add_func ("/ops-elementwise/invalid", test_invalid);
  ret = g_test_run ();
  df_test_context_free ();
  return ret;
}
