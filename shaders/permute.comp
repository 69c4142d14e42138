#version 450
/* permute: y = x.permute(perm) for up to 4 dimensions.  Walks y in order
 * (coalesced writes); x_stride[d] is x's stride along the dimension that
 * becomes y's dimension d. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_PERMUTE } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };

void
main ()
{
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    {
      uint i3 = i % p.y_shape3, r = i / p.y_shape3;
      uint i2 = r % p.y_shape2;
      r /= p.y_shape2;
      uint i1 = r % p.y_shape1, i0 = r / p.y_shape1;
      y[i] = x[i0 * p.x_stride0 + i1 * p.x_stride1 + i2 * p.x_stride2 + i3 * p.x_stride3];
    }
}
