#version 450
/* layer_norm: x [rows, c] → y, each row normalised over its c elements
 * and scaled by gamma, beta [c].  One workgroup per row (grid-stride over
 * rows); fp32 statistics in two passes as in group_norm.comp. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;
/* after the layout: gl_WorkGroupSize is the default (1, 1, 1) before it */
#include "reduce.glsl"

layout(push_constant) uniform Push { DF_PUSH_LAYER_NORM } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { VEC4_STORE_T y4[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 1) readonly buffer X4 { VEC4_STORE_T x4[]; };
layout(std430, binding = 2) readonly buffer Gamma { STORE_T gamma[]; };
layout(std430, binding = 2) readonly buffer Gamma4 { VEC4_STORE_T gamma4[]; };
layout(std430, binding = 3) readonly buffer Beta { STORE_T beta[]; };
layout(std430, binding = 3) readonly buffer Beta4 { VEC4_STORE_T beta4[]; };

void
main ()
{
  uint lid = gl_LocalInvocationID.x;
  uint wg = gl_WorkGroupSize.x;
  float inv_c = 1.0 / float (p.c);

  for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x)
    {
      uint base = row * p.c;

      if (p.vec4_ok != 0)
        {
          uint c4 = p.c / 4, base4 = base / 4;
          float s = 0.0;
          for (uint i = lid; i < c4; i += wg)
            {
              vec4 v = vec4 (x4[base4 + i]);
              s += (v.x + v.y) + (v.z + v.w);
            }
          float mean = df_reduce_sum (s) * inv_c;
          float m2 = 0.0;
          for (uint i = lid; i < c4; i += wg)
            {
              vec4 d = vec4 (x4[base4 + i]) - mean;
              m2 += dot (d, d);
            }
          float rstd = inversesqrt (df_reduce_sum (m2) * inv_c + p.eps);
          for (uint i = lid; i < c4; i += wg)
            {
              vec4 v = (vec4 (x4[base4 + i]) - mean) * rstd;
              y4[base4 + i] = VEC4_STORE_T (v * vec4 (gamma4[i]) + vec4 (beta4[i]));
            }
        }
      else
        {
          float s = 0.0;
          for (uint i = lid; i < p.c; i += wg)
            s += float (x[base + i]);
          float mean = df_reduce_sum (s) * inv_c;
          float m2 = 0.0;
          for (uint i = lid; i < p.c; i += wg)
            {
              float d = float (x[base + i]) - mean;
              m2 += d * d;
            }
          float rstd = inversesqrt (df_reduce_sum (m2) * inv_c + p.eps);
          for (uint i = lid; i < p.c; i += wg)
            {
              float v = (float (x[base + i]) - mean) * rstd;
              y[base + i] = STORE_T (v * float (gamma[i]) + float (beta[i]));
            }
        }
    }
}
