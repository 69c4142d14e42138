/* df-ref.h — CPU reference implementations of the ops, in plain C.
 *
 * Straightforward loops over fp32 arrays with the layouts documented for
 * the df_op_*() functions in df.h.  They define what each shader must
 * compute; tests compare the two.  Accumulation in double where it costs
 * nothing in clarity. */
#pragma once

#include "df.h"

G_BEGIN_DECLS

void df_ref_fill (float *y, int64_t n, float value);

/* --- compute/df-ref-linalg.c --- */
void df_ref_linear (float *y, const float *x, const float *w, const float *bias, int64_t m,
                    int64_t n, int64_t k);
void df_ref_matmul (float *y, const float *a, const float *b, int64_t batch, int64_t m,
                    int64_t n, int64_t k, gboolean transpose_b, float alpha);
void df_ref_conv2d (float *y, const float *x, const float *w, const float *bias, int64_t n,
                    int64_t c, int64_t h, int64_t wd, int64_t o, int64_t k, int stride,
                    int padding);
void df_ref_attention (float *out, const float *q, const float *k, const float *v,
                       int64_t batch, int64_t lq, int64_t lk, int heads, int64_t d, float scale,
                       gboolean causal);

/* --- compute/df-ref-elementwise.c --- */
void df_ref_group_norm (float *y, const float *x, const float *gamma, const float *beta,
                        int64_t n, int64_t c, int64_t spatial, int groups, float eps,
                        gboolean silu);
void df_ref_layer_norm (float *y, const float *x, const float *gamma, const float *beta,
                        int64_t rows, int64_t c, float eps);
void df_ref_unary (float *y, const float *x, int64_t n, DfUnary op);
void df_ref_softmax (float *y, const float *x, int64_t rows, int64_t n);
void df_ref_geglu (float *y, const float *x, int64_t rows, int64_t n);
/* a_shape and b_shape aligned to 4 dimensions (leading 1s). */
void df_ref_binary (float *y, const float *a, const float *b, const int64_t a_shape[4],
                    const int64_t b_shape[4], DfBinary op);
void df_ref_scale (float *y, const float *x, int64_t n, float s, float t);
void df_ref_concat (float *y, const float *a, const float *b, int64_t n, int64_t ca, int64_t cb,
                    int64_t inner);
void df_ref_upsample_nearest2x (float *y, const float *x, int64_t planes, int64_t h, int64_t w);
/* shape aligned to 4 dimensions (leading 1s), perm over those 4. */
void df_ref_permute (float *y, const float *x, const int64_t shape[4], const int perm[4]);
void df_ref_timestep_embedding (float *y, const float *t, int64_t batch, int64_t dim,
                                gboolean flip_sin_to_cos, float freq_shift);
/* ids ≥ vocab are clamped to vocab − 1, as the shader does. */
void df_ref_embedding (float *y, const uint32_t *ids, const float *tok, const float *pos,
                       int64_t batch, int64_t len, int64_t vocab, int64_t c);

void df_ref_pad2d (float *y, const float *x, int64_t planes, int64_t h, int64_t w, int64_t ho,
                  int64_t wo, int64_t top, int64_t left);

G_END_DECLS
