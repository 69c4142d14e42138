/* Push-constant blocks shared by the shaders and the C code.
 *
 * Each block is a macro listing its fields.  A shader declares
 *   layout(push_constant) uniform Push { DF_PUSH_FILL } p;
 * and compute/ declares
 *   DF_PUSH_STRUCT (DfPushFill, DF_PUSH_FILL);
 * so both sides are expanded from the same text.  Only 32-bit scalars are
 * used, so std430 and C layouts are identical; the C side static-asserts
 * the size against the 128-byte guaranteed limit.
 *
 * Add a block per op family, keep them sorted by op.  */
#ifndef DF_PUSH_H
#define DF_PUSH_H

#ifdef VULKAN
#define DF_U32 uint
#define DF_I32 int
#define DF_F32 float
#else
#include <stdint.h>
#include <assert.h>
#define DF_U32 uint32_t
#define DF_I32 int32_t
#define DF_F32 float
#define DF_PUSH_STRUCT(Name, FIELDS) \
  typedef struct { FIELDS } Name;    \
  static_assert (sizeof (Name) <= 128, #Name " exceeds the push-constant limit")
#endif

/* fill: y[i] = value, i < n */
#define DF_PUSH_FILL \
  DF_U32 n;          \
  DF_F32 value;

/* --- linear algebra: linear, matmul, conv2d, attention --- */

/* matmul (and linear): y[b] = alpha · a[b] · op(b[b]) + bias, with a
 * [M, K], b [K, N] (or [N, K] when transpose_b), y [M, N] per batch
 * element b; the batch strides are in elements.  has_bias adds bias[n];
 * has_residual adds the residual tensor at the index of y (it may be y)
 * divided by residual_div (1, or the pixels of an image for a residual of
 * one value per image and channel).  rows_per_image ≠ 0 (batch 1 only)
 * stores y channels first: row m is pixel m % rows_per_image of image
 * m / rows_per_image, y [images, N, rows_per_image]. */
#define DF_PUSH_MATMUL     \
  DF_U32 m;                \
  DF_U32 n;                \
  DF_U32 k;                \
  DF_U32 batch_stride_a;   \
  DF_U32 batch_stride_b;   \
  DF_U32 batch_stride_y;   \
  DF_U32 transpose_b;      \
  DF_U32 has_bias;         \
  DF_U32 has_residual;     \
  DF_U32 residual_div;     \
  DF_U32 rows_per_image;   \
  DF_F32 alpha;

/* conv2d: x [N, c, h, w], weight [o, c, ksize, ksize], y [N, o, ho, wo];
 * input pixel = output pixel · stride − padding + kernel offset;
 * has_residual adds the residual tensor at the index of y (it may be y)
 * divided by residual_div (see DF_PUSH_MATMUL). */
#define DF_PUSH_CONV2D \
  DF_U32 c;            \
  DF_U32 h;            \
  DF_U32 w;            \
  DF_U32 o;            \
  DF_U32 ho;           \
  DF_U32 wo;           \
  DF_U32 ksize;        \
  DF_U32 stride;       \
  DF_I32 padding;      \
  DF_U32 has_bias;     \
  DF_U32 has_residual; \
  DF_U32 residual_div;

/* attention: q, out [B, lq, heads·D]; k, v [B, lk, heads·D] (D is a
 * specialization constant); scale_log2e = softmax scale · log2(e);
 * causal masks key j > query i. */
#define DF_PUSH_ATTENTION \
  DF_U32 lq;              \
  DF_U32 lk;              \
  DF_U32 heads;           \
  DF_U32 causal;          \
  DF_F32 scale_log2e;

/* --- normalisation and element-wise ops --- */

/* cast: y[i] = x[i] converted, i < n */
#define DF_PUSH_CAST \
  DF_U32 n;

/* concat along dim 1: y [outer, ca + cb, inner] from a [outer, ca, inner]
 * and b [outer, cb, inner]; a_inner = ca·inner, b_inner = cb·inner */
#define DF_PUSH_CONCAT \
  DF_U32 n;            \
  DF_U32 a_inner;      \
  DF_U32 b_inner;

/* binary: y = a (op) b, b broadcast; a_shape is a's shape collapsed to 4
 * dimensions, b_stride the stride of b along each (0 where broadcast).
 * same_shape: b has a's shape, index b like a (vec4 path). */
#define DF_PUSH_BINARY \
  DF_U32 n;            \
  DF_U32 op;           \
  DF_U32 same_shape;   \
  DF_U32 a_shape1;     \
  DF_U32 a_shape2;     \
  DF_U32 a_shape3;     \
  DF_U32 b_stride0;    \
  DF_U32 b_stride1;    \
  DF_U32 b_stride2;    \
  DF_U32 b_stride3;

/* embedding: y [rows = B·L, c] = tok[min(ids[row], vocab − 1)] + pos[row % len] */
#define DF_PUSH_EMBEDDING \
  DF_U32 n;               \
  DF_U32 c;               \
  DF_U32 len;             \
  DF_U32 vocab;           \
  DF_U32 has_pos;

/* geglu: x [rows, 2·half] → y [rows, half], n = rows·half */
#define DF_PUSH_GEGLU \
  DF_U32 n;           \
  DF_U32 half_n;

/* group norm: x [N, C, spatial] as count = N·groups groups of group_size =
 * channels_per_group·spatial contiguous elements; element e of group g has
 * channel (g % groups)·channels_per_group + e / spatial.  vec4_ok: spatial
 * is a multiple of 4.  channels_last: y is [N, spatial, C] */
#define DF_PUSH_GROUP_NORM    \
  DF_U32 count;               \
  DF_U32 group_size;          \
  DF_U32 spatial;             \
  DF_U32 channels_per_group;  \
  DF_U32 groups;              \
  DF_U32 silu;                \
  DF_U32 vec4_ok;             \
  DF_U32 channels_last;       \
  DF_F32 eps;

/* layer norm: rows of c elements; vec4_ok: c is a multiple of 4 */
#define DF_PUSH_LAYER_NORM \
  DF_U32 rows;             \
  DF_U32 c;                \
  DF_U32 vec4_ok;          \
  DF_F32 eps;

/* softmax: rows of n elements */
#define DF_PUSH_SOFTMAX \
  DF_U32 rows;          \
  DF_U32 n;

/* permute: y (shape y_shape, 4-D) from x; x_stride[d] is x's stride along
 * the x dimension that becomes y's dimension d */
#define DF_PUSH_PERMUTE \
  DF_U32 n;             \
  DF_U32 y_shape1;      \
  DF_U32 y_shape2;      \
  DF_U32 y_shape3;      \
  DF_U32 x_stride0;     \
  DF_U32 x_stride1;     \
  DF_U32 x_stride2;     \
  DF_U32 x_stride3;

/* scale: y = x · s + t, i < n */
#define DF_PUSH_SCALE \
  DF_U32 n;           \
  DF_F32 s;           \
  DF_F32 t;

/* timestep embedding: t [batch] → y [batch, dim], half = dim / 2 */
#define DF_PUSH_TIMESTEP_EMBEDDING \
  DF_U32 n;                        \
  DF_U32 dim;                      \
  DF_U32 half_dim;                 \
  DF_U32 flip;                     \
  DF_F32 freq_shift;

/* unary: y = op(x), i < n */
#define DF_PUSH_UNARY \
  DF_U32 n;           \
  DF_U32 op;

/* upsample nearest 2×: x [planes, h, w] → y [planes, 2h, 2w], n = numel (y) */
#define DF_PUSH_UPSAMPLE \
  DF_U32 n;              \
  DF_U32 h;              \
  DF_U32 w;

/* --- networks: layout helpers --- */

/* pad2d: x [planes, h, w] placed at (top, left) in y [planes, ho, wo], zeros
 * around it */
#define DF_PUSH_PAD2D \
  DF_U32 planes;      \
  DF_U32 h;           \
  DF_U32 w;           \
  DF_U32 ho;          \
  DF_U32 wo;          \
  DF_U32 top;         \
  DF_U32 left;

#endif /* DF_PUSH_H */
