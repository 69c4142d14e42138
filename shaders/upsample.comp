#version 450
/* upsample: nearest-neighbour 2×, x [planes, h, w] → y [planes, 2h, 2w],
 * one output element per iteration. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_UPSAMPLE } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };

void
main ()
{
  uint w2 = 2 * p.w, h2 = 2 * p.h;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    {
      uint ox = i % w2, r = i / w2;
      uint oy = r % h2, plane = r / h2;
      y[i] = x[(plane * p.h + oy / 2) * p.w + ox / 2];
    }
}
