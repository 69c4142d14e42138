/* df-ref-linalg.c — CPU references for linear, matmul, conv2d and
 * attention: plain loops with double accumulation, defining what the
 * shaders must compute. */
#include <math.h>

#include "df-ref.h"

/* y [m, n] = x [m, k] · w [n, k]ᵀ + bias [n] */
void
df_ref_linear (float *y, const float *x, const float *w, const float *bias, int64_t m,
               int64_t n, int64_t k)
{
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++)
      {
        double acc = bias != NULL ? bias[j] : 0.0;
        for (int64_t l = 0; l < k; l++)
          acc += (double) x[i * k + l] * w[j * k + l];
        y[i * n + j] = (float) acc;
      }
}

/* y [batch, m, n] = alpha · a [batch, m, k] · b [batch, k, n]
 * (b [batch, n, k] transposed when transpose_b) */
void
df_ref_matmul (float *y, const float *a, const float *b, int64_t batch, int64_t m, int64_t n,
               int64_t k, gboolean transpose_b, float alpha)
{
  for (int64_t bi = 0; bi < batch; bi++)
    {
      const float *ab = a + bi * m * k;
      const float *bb = b + bi * k * n;
      float *yb = y + bi * m * n;

      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
          {
            double acc = 0.0;
            for (int64_t l = 0; l < k; l++)
              acc += (double) ab[i * k + l] * (transpose_b ? bb[j * k + l] : bb[l * n + j]);
            yb[i * n + j] = (float) (alpha * acc);
          }
    }
}

/* y [n, o, ho, wo] = conv(x [n, c, h, wd], w [o, c, k, k]) + bias [o] */
void
df_ref_conv2d (float *y, const float *x, const float *w, const float *bias, int64_t n,
               int64_t c, int64_t h, int64_t wd, int64_t o, int64_t k, int stride, int padding)
{
  int64_t ho = (h + 2 * padding - k) / stride + 1;
  int64_t wo = (wd + 2 * padding - k) / stride + 1;

  for (int64_t ni = 0; ni < n; ni++)
    for (int64_t oi = 0; oi < o; oi++)
      for (int64_t oy = 0; oy < ho; oy++)
        for (int64_t ox = 0; ox < wo; ox++)
          {
            double acc = bias != NULL ? bias[oi] : 0.0;
            for (int64_t ci = 0; ci < c; ci++)
              for (int64_t ky = 0; ky < k; ky++)
                for (int64_t kx = 0; kx < k; kx++)
                  {
                    int64_t iy = oy * stride - padding + ky;
                    int64_t ix = ox * stride - padding + kx;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                      continue;
                    acc += (double) w[((oi * c + ci) * k + ky) * k + kx]
                           * x[((ni * c + ci) * h + iy) * wd + ix];
                  }
            y[((ni * o + oi) * ho + oy) * wo + ox] = (float) acc;
          }
}

/* out [batch, lq, heads·d] = softmax(scale · q kᵀ) v per head, with
 * q [batch, lq, heads·d] and k, v [batch, lk, heads·d]; causal masks key
 * j > query i.  One row of scores at a time. */
void
df_ref_attention (float *out, const float *q, const float *k, const float *v, int64_t batch,
                  int64_t lq, int64_t lk, int heads, int64_t d, float scale, gboolean causal)
{
  int64_t row = heads * d;
  g_autofree double *s = g_new (double, MAX (lk, 1));
  g_autofree double *acc = g_new (double, MAX (d, 1));

  for (int64_t b = 0; b < batch; b++)
    for (int h = 0; h < heads; h++)
      for (int64_t i = 0; i < lq; i++)
        {
          const float *qi = q + (b * lq + i) * row + h * d;
          int64_t n_keys = causal ? MIN (lk, i + 1) : lk;
          double max = -INFINITY, sum = 0.0;

          for (int64_t j = 0; j < n_keys; j++)
            {
              const float *kj = k + (b * lk + j) * row + h * d;
              double dot = 0.0;
              for (int64_t e = 0; e < d; e++)
                dot += (double) qi[e] * kj[e];
              s[j] = scale * dot;
              max = MAX (max, s[j]);
            }
          for (int64_t e = 0; e < d; e++)
            acc[e] = 0.0;
          for (int64_t j = 0; j < n_keys; j++)
            {
              const float *vj = v + (b * lk + j) * row + h * d;
              double pj = exp (s[j] - max);
              sum += pj;
              for (int64_t e = 0; e < d; e++)
                acc[e] += pj * vj[e];
            }
          for (int64_t e = 0; e < d; e++)
            out[(b * lq + i) * row + h * d + e] = (float) (acc[e] / sum);
        }
}
