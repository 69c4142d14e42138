#version 450
/* group_norm: x [N, C, spatial] → y, normalised over each of the N·groups
 * groups of channels_per_group·spatial contiguous elements, then the
 * per-channel affine gamma, beta [C] and optionally SiLU (fused, as the
 * UNet and VAE follow almost every GroupNorm with it).
 *
 * One workgroup per group (grid-stride over groups); statistics in fp32,
 * two passes (mean, then the mean squared deviation) so a large mean does
 * not cancel the variance; a third pass writes, into y [N, C, spatial] or,
 * with p.channels_last, y [N, spatial, C] (the transformers' token layout,
 * so no permute follows).  The group is re-read from
 * memory each pass: a 64×64×10-element group is 160 KiB in fp32, small
 * enough for the caches of a GPU. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "activation.glsl"

DF_WORKGROUP_LAYOUT;
/* after the layout: gl_WorkGroupSize is the default (1, 1, 1) before it */
#include "reduce.glsl"

layout(push_constant) uniform Push { DF_PUSH_GROUP_NORM } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { VEC4_STORE_T y4[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 1) readonly buffer X4 { VEC4_STORE_T x4[]; };
layout(std430, binding = 2) readonly buffer Gamma { STORE_T gamma[]; };
layout(std430, binding = 3) readonly buffer Beta { STORE_T beta[]; };

void
main ()
{
  uint lid = gl_LocalInvocationID.x;
  uint wg = gl_WorkGroupSize.x;

  for (uint g = gl_WorkGroupID.x; g < p.count; g += gl_NumWorkGroups.x)
    {
      uint base = g * p.group_size;
      uint c0 = (g % p.groups) * p.channels_per_group;
      float inv_n = 1.0 / float (p.group_size);

      float s = 0.0;
      if (p.vec4_ok != 0)
        {
          for (uint i = lid; i < p.group_size / 4; i += wg)
            {
              vec4 v = vec4 (x4[base / 4 + i]);
              s += (v.x + v.y) + (v.z + v.w);
            }
        }
      else
        {
          for (uint i = lid; i < p.group_size; i += wg)
            s += float (x[base + i]);
        }
      float mean = df_reduce_sum (s) * inv_n;

      float m2 = 0.0;
      if (p.vec4_ok != 0)
        {
          for (uint i = lid; i < p.group_size / 4; i += wg)
            {
              vec4 d = vec4 (x4[base / 4 + i]) - mean;
              m2 += dot (d, d);
            }
        }
      else
        {
          for (uint i = lid; i < p.group_size; i += wg)
            {
              float d = float (x[base + i]) - mean;
              m2 += d * d;
            }
        }
      float rstd = inversesqrt (df_reduce_sum (m2) * inv_n + p.eps);

      /* y = (x − mean)·rstd·gamma + beta = x·a + b per channel */
      if (p.channels_last != 0)
        {
          /* y [N, spatial, C]: walk the group pixel by pixel so that each
           * pixel's channels_per_group outputs are written side by side */
          const uint img = g / p.groups;
          const uint c_all = p.groups * p.channels_per_group;
          for (uint i = lid; i < p.group_size; i += wg)
            {
              uint s_i = i / p.channels_per_group;
              uint cl = i - s_i * p.channels_per_group;
              uint c = c0 + cl;
              float a = rstd * float (gamma[c]);
              float v = float (x[base + cl * p.spatial + s_i]) * a + (float (beta[c]) - mean * a);
              if (p.silu != 0)
                v = df_silu (vec4 (v)).x;
              y[(img * p.spatial + s_i) * c_all + c] = STORE_T (v);
            }
        }
      else if (p.vec4_ok != 0)
        {
          /* spatial % 4 == 0: a vec4 never straddles two channels */
          for (uint i = lid; i < p.group_size / 4; i += wg)
            {
              uint c = c0 + (i * 4) / p.spatial;
              float a = rstd * float (gamma[c]);
              float b = float (beta[c]) - mean * a;
              vec4 v = vec4 (x4[base / 4 + i]) * a + b;
              if (p.silu != 0)
                v = df_silu (v);
              y4[base / 4 + i] = VEC4_STORE_T (v);
            }
        }
      else
        {
          for (uint i = lid; i < p.group_size; i += wg)
            {
              uint c = c0 + i / p.spatial;
              float a = rstd * float (gamma[c]);
              float v = float (x[base + i]) * a + (float (beta[c]) - mean * a);
              if (p.silu != 0)
                v = df_silu (vec4 (v)).x;
              y[base + i] = STORE_T (v);
            }
        }
    }
}
