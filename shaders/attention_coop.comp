#version 450
/* attention_coop: multi-head attention (not causal) on cooperative
 * matrices for fp16 tensors, with the scores kept in shared memory, never
 * in device memory:
 *
 *   q, out [B, Lq, heads · D]
 *   k, v   [B, Lk, heads · D]
 *
 * A workgroup is two subgroups and takes 32 query rows of one head
 * (16 per subgroup); the grid is x: row blocks, y: heads, z: batch.  The
 * head is padded with zeros to DP, a multiple of 16 (D ≤ 160).  Keys come
 * in blocks of 32, their K and V rows staged in shared memory as fp16.
 * Two passes over the keys, so that no accumulator ever needs rescaling
 * (cooperative-matrix fragments have no per-row access):
 *
 *   1. S = Q Kᵀ per block (fragments), into shared memory in fp32; per
 *      query row the running maximum m and sum l of exp(scale·s − m);
 *   2. S again; P = exp(scale·s − m) / l, the final probabilities, as
 *      fp16 in shared memory; O += P V in accumulator fragments.
 *
 * That is 1.5× the multiply-adds of one pass, all on the matrix units,
 * and no Lq × Lk scores in device memory (the matrix-product attention
 * writes, normalises and reads them: for SD's 64 × 64 latent, 2 GiB per
 * layer and batch of two).
 *
 * DF_COOP_EMULATE: the same staging, blocks, passes and barriers with the
 * products done by plain loops over shared memory (the output rows in
 * shared memory too), in a workgroup of two groups of EMU_LANES
 * invocations, so lavapipe tests everything but the matrix instructions.
 * Loops run 8 elements per iteration: lavapipe stops every loop of an
 * invocation after 65535 iterations in all.
 *
 * Shared memory: 3 · 32 · (DP + 8) fp16 of Q, K, V (13.5 KiB for D = 64,
 * 31.5 KiB for 160); 4 KiB of scores; 2.5 KiB of probabilities; 32 · DP
 * fp32 of output when emulated (8 KiB for 64).  The C side uses the kernel
 * only where that fits the device. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "coop.glsl"

DF_WORKGROUP_LAYOUT;

/* head dimension (a multiple of 8, at most DMAX) */
layout(constant_id = 3) const uint D = 64;

layout(push_constant) uniform Push { DF_PUSH_ATTENTION } p;
layout(std430, binding = 0) writeonly buffer Out { float16_t out_[]; };
layout(std430, binding = 1) readonly buffer Q { float16_t q[]; };
layout(std430, binding = 2) readonly buffer K { float16_t k[]; };
layout(std430, binding = 3) readonly buffer V { float16_t v[]; };

const uint F = DF_COOP_FRAG;
const uint BR = 32;                /* query rows per workgroup */
const uint SR = 16;                /* query rows per subgroup */
const uint BC = 32;                /* keys per block */
const uint DP = (D + 15) / 16 * 16; /* padded head dimension */
const uint QS = DP + 8;            /* row strides in shared memory, padded */
const uint PS = BC + 8;
const uint DMAX = 160;

shared float16_t q_tile[BR * QS]; /* [row][d] */
shared float16_t k_tile[BC * QS]; /* [key][d] */
shared float16_t v_tile[BC * QS]; /* [key][d] */
shared float s_tile[BR * BC];     /* [row][key], scale · log2(e) · q·k */
shared float16_t p_tile[BR * PS]; /* [row][key] */
shared float row_max[BR];
shared float row_sum[BR];
#if DF_COOP_EMULATE
const uint EMU_LANES = 8;
shared float o_tile[BR * DP]; /* [row][d] */
#endif

/* Stages rows [first, first + n) of a [B, L, heads · D] tensor's head into
 * a [n][QS] tile, zero past L and past D. */
#define STAGE(tile, src, length, first, n)                                     \
  for (uint e0 = tid; e0 < (n) * DP; e0 += 8 * wg_n)                           \
    [[unroll]] for (uint u = 0; u < 8; u++)                                    \
      {                                                                        \
        const uint e = e0 + u * wg_n;                                          \
        const uint r = e / DP, c = e % DP;                                     \
        if (e < (n) * DP)                                                      \
          tile[r * QS + c] = (first) + r < (length) && c < D                   \
                                 ? src[((batch * (length) + (first) + r) * p.heads + head) * D + c] \
                                 : float16_t (0.0);                            \
      }

void
main ()
{
  const uint tid = gl_LocalInvocationID.x;
  const uint wg_n = gl_WorkGroupSize.x;
  const uint head = gl_WorkGroupID.y;
  const uint batch = gl_WorkGroupID.z;
  const uint q0 = gl_WorkGroupID.x * BR;
#if DF_COOP_EMULATE
  const uint group = tid / EMU_LANES;
  const uint lane = tid % EMU_LANES;
  const uint lanes = EMU_LANES;
#else
  const uint group = gl_SubgroupID;
  const uint lane = gl_SubgroupInvocationID;
  const uint lanes = gl_SubgroupSize;
#endif
  const uint r0 = group * SR; /* the subgroup's first row in the tile */

  STAGE (q_tile, q, p.lq, q0, BR);
  for (uint r = tid; r < BR; r += wg_n)
    {
      row_max[r] = -1.0e30;
      row_sum[r] = 0.0;
    }
#if DF_COOP_EMULATE
  for (uint e0 = tid; e0 < BR * DP; e0 += 8 * wg_n)
    [[unroll]] for (uint u = 0; u < 8; u++)
      o_tile[e0 + u * wg_n] = 0.0;
#else
  COOP_ACC_T acc[SR / F][DMAX / F];
  for (uint i = 0; i < SR / F; i++)
    for (uint j = 0; j < DP / F; j++)
      acc[i][j] = COOP_ACC_T (0.0);
#endif

  for (uint pass = 0; pass < 2; pass++)
    for (uint k0 = 0; k0 < p.lk; k0 += BC)
      {
        const uint n_keys = min (BC, p.lk - k0);

        barrier (); /* the previous block is done with the tiles */
        STAGE (k_tile, k, p.lk, k0, BC);
        if (pass == 1)
          STAGE (v_tile, v, p.lk, k0, BC);
        barrier ();

        /* S = Q Kᵀ for the subgroup's rows */
#if DF_COOP_EMULATE
        for (uint e0 = lane; e0 < SR * BC; e0 += 8 * lanes)
          [[unroll]] for (uint u = 0; u < 8; u++)
            {
              const uint e = e0 + u * lanes;
              const uint r = r0 + e / BC, c = e % BC;
              float s = 0.0;
              [[unroll]] for (uint d = 0; d < DP; d++)
                s = fma (float (q_tile[r * QS + d]), float (k_tile[c * QS + d]), s);
              s_tile[r * BC + c] = s;
            }
#else
        for (uint i = 0; i < SR / F; i++)
          for (uint j = 0; j < BC / F; j++)
            {
              COOP_ACC_T s = COOP_ACC_T (0.0);
              for (uint dk = 0; dk < DP / F; dk++)
                {
                  COOP_A_T a;
                  COOP_B_T b;
                  COOP_LOAD (a, q_tile, (r0 + F * i) * QS + F * dk, QS);
                  /* Kᵀ: element (d, key) at key · QS + d */
                  COOP_LOAD_COLUMNS (b, k_tile, (F * j) * QS + F * dk, QS);
                  s = COOP_MUL_ADD (a, b, s);
                }
              COOP_STORE (s, s_tile, (r0 + F * i) * BC + F * j, BC);
            }
#endif
        barrier ();

        if (pass == 0)
          {
            /* running maximum and sum per row, in the exp2 domain */
            for (uint r = tid; r < BR; r += wg_n)
              {
                float m = row_max[r];
                [[unroll]] for (uint c = 0; c < BC; c++)
                  if (c < n_keys)
                    m = max (m, p.scale_log2e * s_tile[r * BC + c]);
                float l = row_sum[r] * exp2 (row_max[r] - m);
                [[unroll]] for (uint c = 0; c < BC; c++)
                  if (c < n_keys)
                    l += exp2 (p.scale_log2e * s_tile[r * BC + c] - m);
                row_max[r] = m;
                row_sum[r] = l;
              }
            continue;
          }

        /* the block's probabilities; keys past Lk get 0 */
        for (uint e0 = tid; e0 < BR * BC; e0 += 8 * wg_n)
          [[unroll]] for (uint u = 0; u < 8; u++)
            {
              const uint e = e0 + u * wg_n;
              const uint r = e / BC, c = e % BC;
              const float pr = c < n_keys && e < BR * BC
                                   ? exp2 (p.scale_log2e * s_tile[e] - row_max[r]) / row_sum[r]
                                   : 0.0;
              p_tile[r * PS + c] = float16_t (pr);
            }
        barrier ();

        /* O += P V */
#if DF_COOP_EMULATE
        for (uint e0 = lane; e0 < SR * DP; e0 += 8 * lanes)
          [[unroll]] for (uint u = 0; u < 8; u++)
            {
              const uint e = e0 + u * lanes;
              const uint r = r0 + e / DP, d = e % DP;
              float o = o_tile[r * DP + d];
              [[unroll]] for (uint c = 0; c < BC; c++)
                o = fma (float (p_tile[r * PS + c]), float (v_tile[c * QS + d]), o);
              o_tile[r * DP + d] = o;
            }
#else
        for (uint i = 0; i < SR / F; i++)
          for (uint kk = 0; kk < BC / F; kk++)
            {
              COOP_A_T a;
              COOP_LOAD (a, p_tile, (r0 + F * i) * PS + F * kk, PS);
              for (uint j = 0; j < DP / F; j++)
                {
                  COOP_B_T b;
                  COOP_LOAD (b, v_tile, (F * kk) * QS + F * j, QS);
                  acc[i][j] = COOP_MUL_ADD (a, b, acc[i][j]);
                }
            }
#endif
      }

  /* the subgroup's rows of O, through its rows of the score tile */
  barrier ();
#if DF_COOP_EMULATE
  for (uint e0 = lane; e0 < SR * D; e0 += 8 * lanes)
    [[unroll]] for (uint u = 0; u < 8; u++)
      {
        const uint e = e0 + u * lanes;
        const uint r = e / D, d = e % D;
        if (e < SR * D && q0 + r0 + r < p.lq)
          out_[((batch * p.lq + q0 + r0 + r) * p.heads + head) * D + d] =
              float16_t (o_tile[(r0 + r) * DP + d]);
      }
#else
  for (uint i = 0; i < SR / F; i++)
    for (uint j = 0; j < DP / F; j++)
      {
        COOP_STORE (acc[i][j], s_tile, r0 * BC, F);
        subgroupBarrier ();
        for (uint e = lane; e < F * F; e += lanes)
          {
            const uint r = r0 + F * i + e / F, d = F * j + e % F;
            if (d < D && q0 + r < p.lq)
              out_[((batch * p.lq + q0 + r) * p.heads + head) * D + d] =
                  float16_t (s_tile[r0 * BC + e]);
          }
        subgroupBarrier ();
      }
#endif
}
