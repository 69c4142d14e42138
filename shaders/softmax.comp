#version 450
/* softmax: each row of x [rows, n] → y = exp(x − max) / Σ exp(x − max),
 * fp32 arithmetic; y may be x.  One workgroup per row (grid-stride over
 * rows), three passes over the row: maximum, sum, store. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;
/* after the layout: gl_WorkGroupSize is the default (1, 1, 1) before it */
#include "reduce.glsl"

layout(push_constant) uniform Push { DF_PUSH_SOFTMAX } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };

void
main ()
{
  const uint lid = gl_LocalInvocationID.x;
  const uint wg = gl_WorkGroupSize.x;

  for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x)
    {
      const uint base = row * p.n;
      float m = -3.4e38;
      for (uint i = lid; i < p.n; i += wg)
        m = max (m, float (x[base + i]));
      m = df_reduce_max (m);
      float s = 0.0;
      for (uint i = lid; i < p.n; i += wg)
        s += exp (float (x[base + i]) - m);
      const float inv = 1.0 / df_reduce_sum (s);
      for (uint i = lid; i < p.n; i += wg)
        y[base + i] = STORE_T (exp (float (x[base + i]) - m) * inv);
    }
}
