#version 450
/* cast: y[i] = x[i] converted between storage types.  DF_F16 selects y's
 * storage and DF_SRC_F16 x's (the same unless meson's shader_extra says
 * otherwise, which makes a plain copy). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#ifndef DF_SRC_F16
#define DF_SRC_F16 DF_F16
#endif
#if DF_SRC_F16
#define SRC_T float16_t
#define VEC4_SRC_T f16vec4
#else
#define SRC_T float
#define VEC4_SRC_T vec4
#endif

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_CAST } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { VEC4_STORE_T y4[]; };
layout(std430, binding = 1) readonly buffer X { SRC_T x[]; };
layout(std430, binding = 1) readonly buffer X4 { VEC4_SRC_T x4[]; };

void
main ()
{
  uint n4 = p.n / 4;
  for (uint i = gl_GlobalInvocationID.x; i < n4; i += DF_GLOBAL_SIZE_X)
    y4[i] = VEC4_STORE_T (vec4 (x4[i]));
  for (uint i = n4 * 4 + gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    y[i] = STORE_T (float (x[i]));
}
