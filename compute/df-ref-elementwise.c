/* df-ref-elementwise.c — CPU references for the normalisation and
 * element-wise ops: plain loops, statistics in double, defining what the
 * shaders must compute. */
#include <math.h>
#include <string.h>

#include "df-ref.h"

static float
silu (float x)
{
  return x / (1.0f + expf (-x));
}

/* x [n, c, spatial]; gamma, beta [c] */
void
df_ref_group_norm (float *y, const float *x, const float *gamma, const float *beta, int64_t n,
                   int64_t c, int64_t spatial, int groups, float eps, gboolean silu_after)
{
  int64_t cpg = c / groups;
  int64_t size = cpg * spatial;

  for (int64_t g = 0; g < n * groups; g++)
    {
      const float *xg = x + g * size;
      float *yg = y + g * size;
      int64_t c0 = (g % groups) * cpg;
      double mean = 0, var = 0;

      for (int64_t i = 0; i < size; i++)
        mean += xg[i];
      mean /= (double) size;
      for (int64_t i = 0; i < size; i++)
        var += (xg[i] - mean) * (xg[i] - mean);
      var /= (double) size;
      double rstd = 1.0 / sqrt (var + eps);
      for (int64_t i = 0; i < size; i++)
        {
          int64_t ch = c0 + i / spatial;
          float v = (float) ((xg[i] - mean) * rstd * gamma[ch] + beta[ch]);
          yg[i] = silu_after ? silu (v) : v;
        }
    }
}

/* x [rows, c]; gamma, beta [c] */
void
df_ref_layer_norm (float *y, const float *x, const float *gamma, const float *beta,
                   int64_t rows, int64_t c, float eps)
{
  for (int64_t r = 0; r < rows; r++)
    {
      const float *xr = x + r * c;
      double mean = 0, var = 0;

      for (int64_t i = 0; i < c; i++)
        mean += xr[i];
      mean /= (double) c;
      for (int64_t i = 0; i < c; i++)
        var += (xr[i] - mean) * (xr[i] - mean);
      var /= (double) c;
      double rstd = 1.0 / sqrt (var + eps);
      for (int64_t i = 0; i < c; i++)
        y[r * c + i] = (float) ((xr[i] - mean) * rstd * gamma[i] + beta[i]);
    }
}

static float
gelu (float x)
{
  return (float) (0.5 * x * (1.0 + erf (x * M_SQRT1_2)));
}

void
df_ref_unary (float *y, const float *x, int64_t n, DfUnary op)
{
  for (int64_t i = 0; i < n; i++)
    switch (op)
      {
      case DF_UNARY_SILU:
        y[i] = silu (x[i]);
        break;
      case DF_UNARY_GELU:
        y[i] = gelu (x[i]);
        break;
      case DF_UNARY_QUICK_GELU:
        y[i] = x[i] / (1.0f + expf (-1.702f * x[i]));
        break;
      }
}

/* x [rows, 2n] → y [rows, n] = x[:, :n] · gelu(x[:, n:]) */
void
df_ref_softmax (float *y, const float *x, int64_t rows, int64_t n)
{
  for (int64_t r = 0; r < rows; r++)
    {
      const float *xr = x + r * n;
      float *yr = y + r * n;
      double m = xr[0], s = 0;

      for (int64_t i = 1; i < n; i++)
        m = MAX (m, xr[i]);
      for (int64_t i = 0; i < n; i++)
        s += exp (xr[i] - m);
      for (int64_t i = 0; i < n; i++)
        yr[i] = (float) (exp (xr[i] - m) / s);
    }
}

void
df_ref_geglu (float *y, const float *x, int64_t rows, int64_t n)
{
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < n; j++)
      y[r * n + j] = x[r * 2 * n + j] * gelu (x[r * 2 * n + n + j]);
}

void
df_ref_binary (float *y, const float *a, const float *b, const int64_t a_shape[4],
               const int64_t b_shape[4], DfBinary op)
{
  int64_t i = 0;

  for (int64_t i0 = 0; i0 < a_shape[0]; i0++)
    for (int64_t i1 = 0; i1 < a_shape[1]; i1++)
      for (int64_t i2 = 0; i2 < a_shape[2]; i2++)
        for (int64_t i3 = 0; i3 < a_shape[3]; i3++, i++)
          {
            /* a dimension of b that is 1 always indexes 0 */
            int64_t j0 = b_shape[0] == 1 ? 0 : i0, j1 = b_shape[1] == 1 ? 0 : i1;
            int64_t j2 = b_shape[2] == 1 ? 0 : i2, j3 = b_shape[3] == 1 ? 0 : i3;
            float bv = b[((j0 * b_shape[1] + j1) * b_shape[2] + j2) * b_shape[3] + j3];
            y[i] = op == DF_BINARY_ADD ? a[i] + bv : a[i] * bv;
          }
}

void
df_ref_scale (float *y, const float *x, int64_t n, float s, float t)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] * s + t;
}

/* a [n, ca, inner], b [n, cb, inner] → y [n, ca + cb, inner] */
void
df_ref_concat (float *y, const float *a, const float *b, int64_t n, int64_t ca, int64_t cb,
               int64_t inner)
{
  for (int64_t o = 0; o < n; o++)
    {
      float *yo = y + o * (ca + cb) * inner;
      memcpy (yo, a + o * ca * inner, (size_t) (ca * inner) * sizeof (float));
      memcpy (yo + ca * inner, b + o * cb * inner, (size_t) (cb * inner) * sizeof (float));
    }
}

/* x [planes, h, w] → y [planes, 2h, 2w] */
void
df_ref_upsample_nearest2x (float *y, const float *x, int64_t planes, int64_t h, int64_t w)
{
  for (int64_t p = 0; p < planes; p++)
    for (int64_t oy = 0; oy < 2 * h; oy++)
      for (int64_t ox = 0; ox < 2 * w; ox++)
        y[(p * 2 * h + oy) * 2 * w + ox] = x[(p * h + oy / 2) * w + ox / 2];
}

void
df_ref_permute (float *y, const float *x, const int64_t shape[4], const int perm[4])
{
  int64_t stride[4], yshape[4], idx[4];
  int64_t i = 0;

  stride[3] = 1;
  for (int d = 2; d >= 0; d--)
    stride[d] = stride[d + 1] * shape[d + 1];
  for (int d = 0; d < 4; d++)
    yshape[d] = shape[perm[d]];
  for (idx[0] = 0; idx[0] < yshape[0]; idx[0]++)
    for (idx[1] = 0; idx[1] < yshape[1]; idx[1]++)
      for (idx[2] = 0; idx[2] < yshape[2]; idx[2]++)
        for (idx[3] = 0; idx[3] < yshape[3]; idx[3]++)
          {
            int64_t src = 0;
            for (int d = 0; d < 4; d++)
              src += idx[d] * stride[perm[d]];
            y[i++] = x[src];
          }
}

/* As diffusers' get_timestep_embedding, operation by operation in fp32 as
 * PyTorch evaluates it: exponent = −ln(10000)·k, / (half − shift), exp,
 * · t, then sin and cos. */
void
df_ref_timestep_embedding (float *y, const float *t, int64_t batch, int64_t dim,
                           gboolean flip_sin_to_cos, float freq_shift)
{
  int64_t half = dim / 2;
  const float neg_ln_max_period = (float) -log (10000.0);

  for (int64_t b = 0; b < batch; b++)
    {
      float *yb = y + b * dim;
      for (int64_t k = 0; k < half; k++)
        {
          float exponent = neg_ln_max_period * (float) k;
          exponent = exponent / ((float) half - freq_shift);
          float arg = t[b] * expf (exponent);
          float s = sinf (arg), c = cosf (arg);
          yb[k] = flip_sin_to_cos ? c : s;
          yb[half + k] = flip_sin_to_cos ? s : c;
        }
      if (dim % 2 == 1)
        yb[dim - 1] = 0.0f;
    }
}

/* ids [batch, len]; tok [vocab, c]; pos [≥ len, c] or NULL → y [batch, len, c] */
void
df_ref_embedding (float *y, const uint32_t *ids, const float *tok, const float *pos,
                  int64_t batch, int64_t len, int64_t vocab, int64_t c)
{
  for (int64_t r = 0; r < batch * len; r++)
    {
      int64_t id = MIN ((int64_t) ids[r], vocab - 1);
      for (int64_t j = 0; j < c; j++)
        y[r * c + j] = tok[id * c + j] + (pos != NULL ? pos[(r % len) * c + j] : 0.0f);
    }
}
