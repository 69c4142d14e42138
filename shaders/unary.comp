#version 450
/* unary: y = op(x) for SiLU, GELU (erf) and quick-GELU, element-wise over
 * n elements; vec4 loads for the bulk, scalar for the last n % 4. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "activation.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_UNARY } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { VEC4_STORE_T y4[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 1) readonly buffer X4 { VEC4_STORE_T x4[]; };

void
main ()
{
  uint n4 = p.n / 4;
  for (uint i = gl_GlobalInvocationID.x; i < n4; i += DF_GLOBAL_SIZE_X)
    y4[i] = VEC4_STORE_T (df_unary (p.op, vec4 (x4[i])));
  for (uint i = n4 * 4 + gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    y[i] = STORE_T (df_unary (p.op, vec4 (float (x[i]))).x);
}
