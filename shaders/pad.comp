#version 450
/* pad2d: y [planes, Ho, Wo] holds x [planes, H, W] at row p.top, column
 * p.left and zeros elsewhere (p.top, p.left ≥ 0). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_PAD2D } p;
layout(std430, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 1) writeonly buffer Y { STORE_T y[]; };

void
main ()
{
  uint n = p.planes * p.ho * p.wo;
  for (uint i = gl_GlobalInvocationID.x; i < n; i += DF_GLOBAL_SIZE_X)
    {
      uint col = i % p.wo;
      uint row = (i / p.wo) % p.ho;
      uint plane = i / (p.wo * p.ho);
      int r = int (row) - int (p.top);
      int c = int (col) - int (p.left);
      float v = 0.0;
      if (r >= 0 && r < int (p.h) && c >= 0 && c < int (p.w))
        v = float (x[(plane * p.h + uint (r)) * p.w + uint (c)]);
      y[i] = STORE_T (v);
    }
}
