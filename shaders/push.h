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
 * element b; the batch strides are in elements.  has_bias adds bias[n]. */
#define DF_PUSH_MATMUL     \
  DF_U32 m;                \
  DF_U32 n;                \
  DF_U32 k;                \
  DF_U32 batch_stride_a;   \
  DF_U32 batch_stride_b;   \
  DF_U32 batch_stride_y;   \
  DF_U32 transpose_b;      \
  DF_U32 has_bias;         \
  DF_F32 alpha;

/* conv2d: x [N, c, h, w], weight [o, c, ksize, ksize], y [N, o, ho, wo];
 * input pixel = output pixel · stride − padding + kernel offset. */
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
  DF_U32 has_bias;

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

#endif /* DF_PUSH_H */
