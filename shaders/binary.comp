#version 450
/* binary: y = a (op) b with b broadcast onto a as in NumPy.  The C side
 * collapses the shapes to 4 dimensions a_shape with b's strides b_stride
 * (0 along broadcast dimensions); same_shape takes a vec4 path with b
 * indexed like a.  y may be a. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

/* DfBinary in compute/df.h */
#define DF_BINARY_ADD 0u
#define DF_BINARY_MUL 1u

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_BINARY } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 0) writeonly buffer Y4 { VEC4_STORE_T y4[]; };
layout(std430, binding = 1) readonly buffer A { STORE_T a[]; };
layout(std430, binding = 1) readonly buffer A4 { VEC4_STORE_T a4[]; };
layout(std430, binding = 2) readonly buffer B { STORE_T b[]; };
layout(std430, binding = 2) readonly buffer B4 { VEC4_STORE_T b4[]; };

vec4
apply (vec4 u, vec4 v)
{
  return p.op == DF_BINARY_ADD ? u + v : u * v;
}

void
main ()
{
  if (p.same_shape != 0)
    {
      uint n4 = p.n / 4;
      for (uint i = gl_GlobalInvocationID.x; i < n4; i += DF_GLOBAL_SIZE_X)
        y4[i] = VEC4_STORE_T (apply (vec4 (a4[i]), vec4 (b4[i])));
      for (uint i = n4 * 4 + gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
        y[i] = STORE_T (apply (vec4 (float (a[i])), vec4 (float (b[i]))).x);
      return;
    }
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    {
      uint i3 = i % p.a_shape3, r = i / p.a_shape3;
      uint i2 = r % p.a_shape2;
      r /= p.a_shape2;
      uint i1 = r % p.a_shape1, i0 = r / p.a_shape1;
      uint bi = i0 * p.b_stride0 + i1 * p.b_stride1 + i2 * p.b_stride2 + i3 * p.b_stride3;
      y[i] = STORE_T (apply (vec4 (float (a[i])), vec4 (float (b[bi]))).x);
    }
}
