#version 450
/* concat: y [outer, ca + cb, inner] = a [outer, ca, inner] followed by
 * b [outer, cb, inner] along dimension 1. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_CONCAT } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer A { STORE_T a[]; };
layout(std430, binding = 2) readonly buffer B { STORE_T b[]; };

void
main ()
{
  uint row = p.a_inner + p.b_inner;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    {
      uint o = i / row, r = i % row;
      /* if/else, not ?:, which would be fp16 arithmetic (OpSelect) */
      if (r < p.a_inner)
        y[i] = a[o * p.a_inner + r];
      else
        y[i] = b[o * p.b_inner + (r - p.a_inner)];
    }
}
