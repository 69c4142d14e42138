#version 450
/* attention: fused multi-head attention with online softmax, fp32
 * accumulation.  The Lq × Lk score matrix is never stored: each invocation
 * owns R query rows of one head, keeps q and the output accumulators in
 * registers, and makes one pass over the keys, one key at a time, keeping
 * per row the running maximum m and sum l of exp(score − m):
 *
 *   m' = max(m, s_j);  acc = acc · 2^(m − m') + 2^(s_j − m') v_j
 *   l = l · 2^(m − m') + 2^(s_j − m');  out = acc / l
 *
 * with s_j = scale · log2(e) · q·k_j (exp2 in place of exp).
 *
 *   q, out [B, Lq, heads · D]
 *   k, v   [B, Lk, heads · D]
 *
 * D (a multiple of 4, up to 512) is a specialization constant, so rows are
 * read as vec4s.  The grid is x: query rows, y: heads, z: batch; the
 * workgroup size along y and z must be 1.  One key per step: on lavapipe
 * that compiles 4–10× faster than blocks of keys and runs faster too; R
 * rows per invocation share each key's K and V loads (on lavapipe a load
 * uniform across the workgroup is one scalar load, but it still costs as
 * much as several multiply-adds).
 *
 * DF_SHARED (GPUs, flash-attention style): one query row per invocation;
 * the workgroup stages blocks of BKV keys' K and V rows in shared memory
 * between barriers; each invocation then walks the block's keys from
 * shared memory. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

/* Head dimension, and query rows per invocation. */
layout(constant_id = 3) const uint D = 64;
layout(constant_id = 4) const uint R = 1;

const uint D4 = D / 4;
#ifndef DF_SHARED
#define DF_SHARED 0
#endif
/* Loops over the D4 vec4s of a row run as D4 / DC chunks of DC.  Lavapipe
 * (NIR) unrolls loops of up to 32 iterations; a loop over a register array
 * that is not unrolled indexes it dynamically, which is 3× slower for
 * heads of 136–160 (measured with bench-ops), so those run as chunks of 8
 * that unroll at both levels.  Wider rows (the VAE's 512) stay one loop:
 * there the arrays live in scratch memory and unrolling is 10× slower. */
const uint DC = D4 <= 32 || D4 > 40 ? D4 : D4 % 8 == 0 ? 8 : D4 % 4 == 0 ? 4 : 2;
/* Stands in for −∞ for masked keys: 2^(MASKED − m) is 0 for any real m,
 * without the infinities that fast-math compilers may mishandle. */
const float MASKED = -1.0e30;

layout(push_constant) uniform Push { DF_PUSH_ATTENTION } p;
layout(std430, binding = 0) writeonly buffer Out { VEC4_STORE_T out_[]; };
layout(std430, binding = 1) readonly buffer Q { VEC4_STORE_T q[]; };
layout(std430, binding = 2) readonly buffer K { VEC4_STORE_T k[]; };
layout(std430, binding = 3) readonly buffer V { VEC4_STORE_T v[]; };

#if DF_SHARED

/* R: keys per shared-memory block here (2 · R · D floats of it) */
const uint BKV = R;
shared vec4 k_tile[BKV * D4];
shared vec4 v_tile[BKV * D4];

void
main ()
{
  /* no early return: every invocation takes part in the staging and the
   * barriers; rows past Lq compute row Lq − 1 and store nothing */
  const uint i = min (gl_GlobalInvocationID.x, p.lq - 1);
  const uint head = gl_WorkGroupID.y;
  const uint batch = gl_WorkGroupID.z;
  const uint tid = gl_LocalInvocationID.x;

  const uint row = p.heads * D4; /* vec4s per token */
  const uint q_off = (batch * p.lq + i) * row + head * D4;
  const uint kv_base = batch * p.lk * row + head * D4;
  const uint last = (gl_WorkGroupID.x + 1) * gl_WorkGroupSize.x - 1;
  const uint n_keys = p.causal != 0 ? min (p.lk, last + 1) : p.lk;
  const uint own_keys = min (n_keys, p.causal != 0 ? i + 1 : p.lk);

  vec4 qv[D4];
  vec4 acc[D4];
  for (uint d = 0; d < D4; d++)
    {
      qv[d] = vec4 (q[q_off + d]) * p.scale_log2e;
      acc[d] = vec4 (0.0);
    }
  float m = MASKED;
  float l = 0.0;

  for (uint j0 = 0; j0 < n_keys; j0 += BKV)
    {
      for (uint e = tid; e < BKV * D4; e += gl_WorkGroupSize.x)
        {
          const uint j = min (j0 + e / D4, n_keys - 1);
          k_tile[e] = vec4 (k[kv_base + j * row + e % D4]);
          v_tile[e] = vec4 (v[kv_base + j * row + e % D4]);
        }
      barrier ();

      /* one key at a time, rescaling the accumulator only when the
       * running maximum grows (rarely after the first keys); the loop
       * bound is not a constant, so compilers keep it a loop (unrolled
       * blocks compile for minutes on lavapipe) */
      const uint block_keys = min (BKV, n_keys - j0);
      for (uint jj = 0; jj < block_keys; jj++)
        {
          vec4 dot4 = vec4 (0.0);
          for (uint d = 0; d < D4; d++)
            dot4 = fma (qv[d], k_tile[jj * D4 + d], dot4);
          const float s = j0 + jj < own_keys ? dot4.x + dot4.y + dot4.z + dot4.w : MASKED;
          if (s > m)
            {
              const float corr = exp2 (m - s);
              l *= corr;
              for (uint d = 0; d < D4; d++)
                acc[d] *= corr;
              m = s;
            }
          const float pj = exp2 (s - m);
          l += pj;
          for (uint d = 0; d < D4; d++)
            acc[d] = fma (vec4 (pj), v_tile[jj * D4 + d], acc[d]);
        }
      barrier ();
    }

  if (gl_GlobalInvocationID.x < p.lq)
    {
      const float inv_l = 1.0 / l;
      for (uint d = 0; d < D4; d++)
        out_[q_off + d] = VEC4_STORE_T (acc[d] * inv_l);
    }
}

#else

void
main ()
{
  /* head, batch and the key loop are uniform across the workgroup (no early
   * return either), so K and V loads are the same for every invocation:
   * one load per workgroup on CPU devices, broadcasts on GPUs.  Each key's
   * K and V rows then serve the R query rows of every invocation. */
  const uint row0 = gl_GlobalInvocationID.x * R;
  const uint head = gl_WorkGroupID.y;
  const uint batch = gl_WorkGroupID.z;

  const uint row = p.heads * D4; /* vec4s per token */
  const uint kv_base = batch * p.lk * row + head * D4;
  /* causal: the workgroup's last query sees keys 0..last; each row masks
   * the keys after its own query */
  const uint last = (gl_WorkGroupID.x + 1) * gl_WorkGroupSize.x * R - 1;
  const uint n_keys = p.causal != 0 ? min (p.lk, last + 1) : p.lk;

  uint q_off[R];
  uint own_keys[R];
  vec4 qv[R][D4];
  vec4 acc[R][D4];
  float m[R];
  float l[R];
  for (uint r = 0; r < R; r++)
    {
      const uint i = min (row0 + r, p.lq - 1);
      q_off[r] = (batch * p.lq + i) * row + head * D4;
      own_keys[r] = p.causal != 0 ? i + 1 : p.lk;
      for (uint d0 = 0; d0 < D4; d0 += DC)
        for (uint dd = 0; dd < DC; dd++)
          {
            const uint d = d0 + dd;
            qv[r][d] = vec4 (q[q_off[r] + d]) * p.scale_log2e;
            acc[r][d] = vec4 (0.0);
          }
      m[r] = MASKED;
      l[r] = 0.0;
    }

  for (uint j = 0; j < n_keys; j++)
    {
      const uint kv_off = kv_base + j * row;
      vec4 kv[D4];
      for (uint d0 = 0; d0 < D4; d0 += DC)
        for (uint dd = 0; dd < DC; dd++)
          {
            const uint d = d0 + dd;
            kv[d] = vec4 (k[kv_off + d]);
          }
      float pr[R];
      for (uint r = 0; r < R; r++)
        {
          vec4 dot4 = vec4 (0.0);
          for (uint d0 = 0; d0 < D4; d0 += DC)
            for (uint dd = 0; dd < DC; dd++)
              {
                const uint d = d0 + dd;
                dot4 = fma (qv[r][d], kv[d], dot4);
              }
          const float s = j < own_keys[r] ? dot4.x + dot4.y + dot4.z + dot4.w : MASKED;
          const float m_new = max (m[r], s);
          const float corr = exp2 (m[r] - m_new);
          pr[r] = exp2 (s - m_new);
          l[r] = fma (l[r], corr, pr[r]);
          m[r] = m_new;
          for (uint d0 = 0; d0 < D4; d0 += DC)
            for (uint dd = 0; dd < DC; dd++)
              {
                const uint d = d0 + dd;
                acc[r][d] *= corr;
              }
        }
      for (uint d0 = 0; d0 < D4; d0 += DC)
        for (uint dd = 0; dd < DC; dd++)
          {
            const uint d = d0 + dd;
            kv[d] = vec4 (v[kv_off + d]);
          }
      for (uint r = 0; r < R; r++)
        for (uint d0 = 0; d0 < D4; d0 += DC)
          for (uint dd = 0; dd < DC; dd++)
            {
              const uint d = d0 + dd;
              acc[r][d] = fma (vec4 (pr[r]), kv[d], acc[r][d]);
            }
    }

  for (uint r = 0; r < R; r++)
    if (row0 + r < p.lq)
      {
        const float inv_l = 1.0 / l[r];
        for (uint d0 = 0; d0 < D4; d0 += DC)
          for (uint dd = 0; dd < DC; dd++)
            {
              const uint d = d0 + dd;
              out_[q_off[r] + d] = VEC4_STORE_T (acc[r][d] * inv_l);
            }
      }
}

#endif
