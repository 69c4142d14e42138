/* Compiled by meson.build to learn whether glslang can write
 * VK_KHR_cooperative_matrix kernels (glslang 13 and later); not part of
 * the engine. */
#version 450
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_cooperative_matrix : require

layout(local_size_x = 32) in;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
shared float16_t s[256];

void
main ()
{
  coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> a;
  coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> b;
  coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> c =
      coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> (0.0);
  coopMatLoad (a, s, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
  coopMatLoad (b, s, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
  c = coopMatMulAdd (a, b, c);
  coopMatStore (c, y, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
}
