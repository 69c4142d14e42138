#version 450
/* geglu: x [rows, 2·half] → y [rows, half] = hidden · gelu(gate) with
 * hidden = x[row, :half] and gate = x[row, half:], as diffusers' GEGLU
 * splits its projection.  vec4 when half is a multiple of 4. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "activation.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_GEGLU } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { VEC4_STORE_T y4[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 1) readonly buffer X4 { VEC4_STORE_T x4[]; };

void
main ()
{
  if (p.half_n % 4 == 0)
    {
      uint h4 = p.half_n / 4;
      for (uint i = gl_GlobalInvocationID.x; i < p.n / 4; i += DF_GLOBAL_SIZE_X)
        {
          uint row = i / h4, j = i % h4;
          vec4 hidden = vec4 (x4[row * 2 * h4 + j]);
          vec4 gate = vec4 (x4[row * 2 * h4 + h4 + j]);
          y4[i] = VEC4_STORE_T (hidden * df_gelu (gate));
        }
      return;
    }
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    {
      uint row = i / p.half_n, j = i % p.half_n;
      float hidden = float (x[row * 2 * p.half_n + j]);
      float gate = float (x[row * 2 * p.half_n + p.half_n + j]);
      y[i] = STORE_T (hidden * df_gelu (vec4 (gate)).x);
    }
}
