#version 450
/* embedding: y [rows = B·L, c] = tok[ids[row]] + pos[row % len] (pos only
 * when has_pos).  ids live on the device and cannot be checked on the
 * host: an id ≥ vocab is clamped to vocab − 1 so it never reads outside
 * tok. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_EMBEDDING } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) readonly buffer Tok { STORE_T tok[]; };
layout(std430, binding = 3) readonly buffer Pos { STORE_T pos[]; };

void
main ()
{
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    {
      uint row = i / p.c, j = i % p.c;
      uint id = min (ids[row], p.vocab - 1);
      float v = float (tok[id * p.c + j]);
      if (p.has_pos != 0)
        v += float (pos[(row % p.len) * p.c + j]);
      y[i] = STORE_T (v);
    }
}
