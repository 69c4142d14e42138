#version 450
/* fill: y[i] = p.value for every element.  Used to clear tensors and by the
 * context self-test. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_FILL } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };

void
main ()
{
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    y[i] = STORE_T (p.value);
}
