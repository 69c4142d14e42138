#version 450
/* matmul: batched y[b] = alpha · a[b] · op(b[b]) + bias (+ residual[b]),
 * fp32 accumulation.
 * Also serves df_op_linear (transpose_b, nn.Linear weight [N, K]).
 *
 *   a    [batch, M, K]
 *   b    [batch, K, N], or [batch, N, K] when p.transpose_b
 *   bias [N] (read only when p.has_bias)
 *   res  [batch, M, N] (read only when p.has_residual; may be y)
 *   y    [batch, M, N], or channels first (p.rows_per_image, see push.h)
 *
 * Each invocation computes a TM × TN register tile of y: per step of K it
 * loads TM values of a and TN of b and does TM·TN multiply-adds, with no
 * shared memory and no barriers (the fast path on CPU devices such as
 * lavapipe).  Edge tiles clamp their loads to the last row/column and
 * store only what lies inside y, so any M, N, K work.  The grid is
 * x: column tiles, y: row tiles, z: batch (workgroup size 1 along z).
 *
 * DF_VEC4 (b transposed, K and the batch strides multiples of 4): rows of
 * a and b are read as vec4s.  On lavapipe a load that differs between
 * invocations becomes a loop over the SIMD lanes, one iteration per lane
 * for all four components, so vec4 loads cut that overhead by 4
 * (≈ 1.5× on bench-ops' linear cases).
 *
 * DF_SHARED (GPUs): shared-memory tiles instead, see gemm_shared.glsl;
 * TM × TN per invocation with invocation-strided rows and columns, BK
 * (constant 5) of K per slice. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "activation.glsl"

#ifndef DF_VEC4
#define DF_VEC4 0
#endif
#ifndef DF_SHARED
#define DF_SHARED 0
#endif
/* DF_COOP (fp16 only): cooperative-matrix fragments, see gemm_coop.glsl */
/* DF_Y_F32 / DF_A_F32 (fp16 variants): y or a in fp32 storage, for the
 * scores and probabilities of attention as matrix products */
#if DF_F16 && defined(DF_Y_F32) && DF_Y_F32
#define Y_T float
#else
#define Y_T STORE_T
#endif
#if DF_F16 && defined(DF_A_F32) && DF_A_F32
#define A_T float
#define A4_T vec4
#else
#define A_T STORE_T
#define A4_T VEC4_STORE_T
#endif

DF_WORKGROUP_LAYOUT;

/* Register tile: rows (M) and columns (N) of y per invocation. */
layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 4;
/* A_GEGLU (shared-memory and cooperative-matrix kernels): a is a
 * feed-forward's projection [M, 2K], and the product takes GEGLU of it as
 * it stages a: a[m, k] · gelu(a[m, K + k]) (diffusers' GEGLU: hidden,
 * gate), once per element and column tile.  The register kernels would
 * redo the GELU for every few multiply-adds, so df_op_geglu_linear_add
 * runs a GEGLU pass before them instead.  A specialization constant, so
 * other products carry no branch.  (Constant 5 is BK of the shared-memory
 * kernel.) */
layout(constant_id = 6) const bool A_GEGLU = false;

layout(push_constant) uniform Push { DF_PUSH_MATMUL } p;
layout(std430, binding = 0) writeonly buffer Y { Y_T y[]; };
#if DF_VEC4
layout(std430, binding = 1) readonly buffer A { A4_T a[]; };
layout(std430, binding = 2) readonly buffer B { VEC4_STORE_T b[]; };
#else
layout(std430, binding = 1) readonly buffer A { A_T a[]; };
layout(std430, binding = 2) readonly buffer B { STORE_T b[]; };
#endif
layout(std430, binding = 3) readonly buffer Bias { STORE_T bias[]; };
layout(std430, binding = 4) readonly buffer Res { Y_T res[]; };

#include "epilogue.glsl"

/* The index in y of row m, column n of batch element batch. */
uint
y_index (uint batch, uint m, uint n)
{
  if (p.rows_per_image == 0)
    return batch * p.batch_stride_y + m * p.n + n;
  const uint img = m / p.rows_per_image;
  return (img * p.n + n) * p.rows_per_image + (m - img * p.rows_per_image);
}

#if DF_SHARED || DF_COOP

#define GEMM_A_K_FAST 1
/* b [N, K] when transposed (k contiguous), else [K, N] */
#define GEMM_B_K_FAST (p.transpose_b)

uint g_batch;

float
gemm_load_a (uint m, uint k)
{
  if (m >= p.m || k >= p.k)
    return 0.0;
  if (A_GEGLU)
    {
      const uint row = g_batch * p.batch_stride_a + m * 2u * p.k;
      return float (a[row + k]) * df_gelu (vec4 (float (a[row + p.k + k]))).x;
    }
  return float (a[g_batch * p.batch_stride_a + m * p.k + k]);
}

float
gemm_load_b (uint k, uint n)
{
  if (k >= p.k || n >= p.n)
    return 0.0;
  const uint base = g_batch * p.batch_stride_b;
  return float (b[base + (p.transpose_b != 0 ? n * p.k + k : k * p.n + n)]);
}

#endif

#if DF_COOP

void
gemm_store (uint m, uint n, float v)
{
  if (m < p.m && n < p.n)
    store_y (y_index (g_batch, m, n),
             p.alpha * v + (p.has_bias != 0 ? float (bias[n]) : 0.0));
}

#include "gemm_coop.glsl"

void
main ()
{
  g_batch = gl_WorkGroupID.z;
  gemm_coop (gl_WorkGroupID.y * GEMM_BM, gl_WorkGroupID.x * GEMM_BN, p.k);
}

#elif DF_SHARED

layout(constant_id = 5) const uint BK = 16;
#define WG_X gl_WorkGroupSize.x
#define WG_Y gl_WorkGroupSize.y

#include "gemm_shared.glsl"

void
main ()
{
  g_batch = gl_WorkGroupID.z;
  const uint m0 = gl_WorkGroupID.y * BM;
  const uint n0 = gl_WorkGroupID.x * BN;

  gemm_tile (m0, n0, p.k);

  for (uint i = 0; i < TM; i++)
    {
      const uint m = m0 + gl_LocalInvocationID.y + WG_Y * i;
      for (uint j = 0; j < TN; j++)
        {
          const uint n = n0 + gl_LocalInvocationID.x + WG_X * j;
          if (m < p.m && n < p.n)
            store_y (y_index (g_batch, m, n),
                     p.alpha * gemm_acc[i][j] + (p.has_bias != 0 ? float (bias[n]) : 0.0));
        }
    }
}

#else

void
main ()
{
  /* With a workgroup one invocation high, the rows (and batch) are uniform
   * across the workgroup, so the loads of a are too: one load for all
   * invocations on CPU devices.  There is no early return for the same
   * reason; out-of-range invocations clamp their loads and store nothing. */
  const uint n0 = gl_GlobalInvocationID.x * TN;
  const uint m0 = (gl_WorkGroupSize.y == 1 ? gl_WorkGroupID.y : gl_GlobalInvocationID.y) * TM;
  const uint batch = gl_WorkGroupID.z;

  float acc[TM][TN];
  for (uint i = 0; i < TM; i++)
    for (uint j = 0; j < TN; j++)
      acc[i][j] = 0.0;

#if DF_VEC4
  /* b transposed, K % 4 == 0: rows of a and b in vec4s */
  const uint k4 = p.k / 4;
  uint a_row[TM];
  for (uint i = 0; i < TM; i++)
    a_row[i] = (batch * p.batch_stride_a + min (m0 + i, p.m - 1) * p.k) / 4;
  uint b_col[TN];
  for (uint j = 0; j < TN; j++)
    b_col[j] = (batch * p.batch_stride_b + min (n0 + j, p.n - 1) * p.k) / 4;
  for (uint kk = 0; kk < k4; kk++)
    {
      vec4 av[TM];
      vec4 bv[TN];
      for (uint i = 0; i < TM; i++)
        av[i] = vec4 (a[a_row[i] + kk]);
      for (uint j = 0; j < TN; j++)
        bv[j] = vec4 (b[b_col[j] + kk]);
      for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
          acc[i][j] = fma (av[i].w, bv[j].w, fma (av[i].z, bv[j].z,
                        fma (av[i].y, bv[j].y, fma (av[i].x, bv[j].x, acc[i][j]))));
    }
#else
  const uint b_step_k = p.transpose_b != 0 ? 1u : p.n;
  const uint b_step_n = p.transpose_b != 0 ? p.k : 1u;
  uint a_row[TM];
  for (uint i = 0; i < TM; i++)
    a_row[i] = batch * p.batch_stride_a + min (m0 + i, p.m - 1) * p.k;
  uint b_col[TN];
  for (uint j = 0; j < TN; j++)
    b_col[j] = batch * p.batch_stride_b + min (n0 + j, p.n - 1) * b_step_n;
  for (uint kk = 0; kk < p.k; kk++)
    {
      float av[TM];
      float bv[TN];
      for (uint i = 0; i < TM; i++)
        av[i] = float (a[a_row[i] + kk]);
      for (uint j = 0; j < TN; j++)
        bv[j] = float (b[b_col[j] + kk * b_step_k]);
      for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
          acc[i][j] = fma (av[i], bv[j], acc[i][j]);
    }
#endif

  for (uint j = 0; j < TN; j++)
    {
      const uint n = n0 + j;
      if (n >= p.n)
        break;
      const float add = p.has_bias != 0 ? float (bias[n]) : 0.0;
      for (uint i = 0; i < TM; i++)
        {
          const uint m = m0 + i;
          if (m < p.m)
            store_y (y_index (batch, m, n), p.alpha * acc[i][j] + add);
        }
    }
}

#endif
