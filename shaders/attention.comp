#version 450
/* attention: fused multi-head attention with online softmax, fp32
 * accumulation.  The Lq × Lk score matrix is never stored: each invocation
 * owns one query row of one head, keeps q and the output accumulator in
 * registers, and makes one pass over the keys in blocks of KB, keeping the
 * running maximum m and sum l of exp(score − m):
 *
 *   m' = max(m, max_j s_j);  acc = acc · 2^(m − m') + Σ_j 2^(s_j − m') v_j
 *   l = l · 2^(m − m') + Σ_j 2^(s_j − m');  out = acc / l
 *
 * with s_j = scale · log2(e) · q·k_j (exp2 in place of exp).
 *
 *   q, out [B, Lq, heads · D]
 *   k, v   [B, Lk, heads · D]
 *
 * D (a multiple of 4, here ≤ 256) is a specialization constant, so rows are
 * read as vec4s.  The grid is x: query rows, y: heads, z: batch; the
 * workgroup size along y and z must be 1. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

/* Head dimension, and keys per online-softmax step. */
layout(constant_id = 3) const uint D = 64;
layout(constant_id = 4) const uint KB = 8;

const uint D4 = D / 4;
/* Stands in for −∞ for masked keys: 2^(MASKED − m) is 0 for any real m,
 * without the infinities that fast-math compilers may mishandle. */
const float MASKED = -1.0e30;

layout(push_constant) uniform Push { DF_PUSH_ATTENTION } p;
layout(std430, binding = 0) writeonly buffer Out { VEC4_STORE_T out_[]; };
layout(std430, binding = 1) readonly buffer Q { VEC4_STORE_T q[]; };
layout(std430, binding = 2) readonly buffer K { VEC4_STORE_T k[]; };
layout(std430, binding = 3) readonly buffer V { VEC4_STORE_T v[]; };

void
main ()
{
  /* head, batch and the key loop are uniform across the workgroup (no early
   * return either), so K and V loads are the same for every invocation:
   * one load per workgroup on CPU devices, broadcasts on GPUs */
  const uint i = min (gl_GlobalInvocationID.x, p.lq - 1);
  const uint head = gl_WorkGroupID.y;
  const uint batch = gl_WorkGroupID.z;

  const uint row = p.heads * D4; /* vec4s per token */
  const uint q_off = (batch * p.lq + i) * row + head * D4;
  const uint kv_base = batch * p.lk * row + head * D4;
  /* causal: the workgroup's last query sees keys 0..last; each invocation
   * masks the keys after its own query */
  const uint last = (gl_WorkGroupID.x + 1) * gl_WorkGroupSize.x - 1;
  const uint n_keys = p.causal != 0 ? min (p.lk, last + 1) : p.lk;
  const uint own_keys = p.causal != 0 ? i + 1 : p.lk;

  vec4 qv[D4];
  vec4 acc[D4];
  for (uint d = 0; d < D4; d++)
    {
      qv[d] = vec4 (q[q_off + d]) * p.scale_log2e;
      acc[d] = vec4 (0.0);
    }
  float m = MASKED;
  float l = 0.0;

  for (uint j0 = 0; j0 < n_keys; j0 += KB)
    {
      float s[KB];
      float m_new = m;
      for (uint jj = 0; jj < KB; jj++)
        {
          const uint j = min (j0 + jj, n_keys - 1);
          const uint k_off = kv_base + j * row;
          float dot_qk = 0.0;
          for (uint d = 0; d < D4; d++)
            dot_qk += dot (qv[d], vec4 (k[k_off + d]));
          s[jj] = j0 + jj < min (n_keys, own_keys) ? dot_qk : MASKED;
          m_new = max (m_new, s[jj]);
        }

      const float corr = exp2 (m - m_new);
      l *= corr;
      for (uint d = 0; d < D4; d++)
        acc[d] *= corr;
      for (uint jj = 0; jj < KB; jj++)
        {
          const uint j = min (j0 + jj, n_keys - 1);
          const uint v_off = kv_base + j * row;
          const float pj = exp2 (s[jj] - m_new);
          l += pj;
          for (uint d = 0; d < D4; d++)
            acc[d] = fma (vec4 (pj), vec4 (v[v_off + d]), acc[d]);
        }
      m = m_new;
    }

  if (gl_GlobalInvocationID.x < p.lq)
    {
      const float inv_l = 1.0 / l;
      for (uint d = 0; d < D4; d++)
        out_[q_off + d] = VEC4_STORE_T (acc[d] * inv_l);
    }
}
