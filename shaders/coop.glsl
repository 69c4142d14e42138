/* coop.glsl — the cooperative-matrix fragment types and instructions of
 * VK_KHR_cooperative_matrix (DF_COOP_KHR) and VK_NV_cooperative_matrix,
 * behind one set of names, for gemm_coop.glsl and attention_coop.comp:
 *
 *   COOP_A_T, COOP_B_T   fp16 operand fragments, F × F
 *   COOP_ACC_T           fp32 accumulator fragment, F × F
 *   COOP_LOAD            a fragment from a row-major array (element
 *                        offset, row stride in elements)
 *   COOP_LOAD_COLUMNS    the same from a column-major array
 *   COOP_STORE           a fragment to a row-major array
 *   COOP_MUL_ADD (a, b, c) = a · b + c
 *
 * F is DF_COOP_FRAG: 16, or 8 for KHR devices that offer only 8 × 8 × 8
 * (lavapipe).  The extensions are enabled by common.glsl (DF_COOP). */
#ifndef DF_COOP_GLSL
#define DF_COOP_GLSL

#ifndef DF_COOP_FRAG
#define DF_COOP_FRAG 16
#endif
#if !DF_COOP_KHR && !DF_COOP_EMULATE && DF_COOP_FRAG != 16
#error "the NV kernels use 16 x 16 fragments"
#endif

#if !DF_COOP_EMULATE
#if DF_COOP_KHR
#define COOP_ACC_T \
  coopmat<float, gl_ScopeSubgroup, DF_COOP_FRAG, DF_COOP_FRAG, gl_MatrixUseAccumulator>
#define COOP_A_T coopmat<float16_t, gl_ScopeSubgroup, DF_COOP_FRAG, DF_COOP_FRAG, gl_MatrixUseA>
#define COOP_B_T coopmat<float16_t, gl_ScopeSubgroup, DF_COOP_FRAG, DF_COOP_FRAG, gl_MatrixUseB>
#define COOP_LOAD(frag, array, offset, stride) \
  coopMatLoad (frag, array, offset, stride, gl_CooperativeMatrixLayoutRowMajor)
#define COOP_LOAD_COLUMNS(frag, array, offset, stride) \
  coopMatLoad (frag, array, offset, stride, gl_CooperativeMatrixLayoutColumnMajor)
#define COOP_STORE(frag, array, offset, stride) \
  coopMatStore (frag, array, offset, stride, gl_CooperativeMatrixLayoutRowMajor)
#define COOP_MUL_ADD coopMatMulAdd
#else
#define COOP_ACC_T fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>
#define COOP_A_T fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define COOP_B_T fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define COOP_LOAD(frag, array, offset, stride) coopMatLoadNV (frag, array, offset, stride, false)
#define COOP_LOAD_COLUMNS(frag, array, offset, stride) \
  coopMatLoadNV (frag, array, offset, stride, true)
#define COOP_STORE(frag, array, offset, stride) coopMatStoreNV (frag, array, offset, stride, false)
#define COOP_MUL_ADD coopMatMulAddNV
#endif
#endif

#endif /* DF_COOP_GLSL */
