/* Shared by every compute shader.
 *
 * DF_F16 selects the storage type of the tensors: fp16 storage with fp32
 * arithmetic (1), or fp32 (0).  Arithmetic and accumulation are always
 * fp32: values are converted on load and store.
 *
 * Workgroup sizes are specialization constants 0, 1, 2 so the C side can
 * pick them per device class; the defaults below are used otherwise. */
#ifndef DF_COMMON_GLSL
#define DF_COMMON_GLSL

#extension GL_EXT_shader_16bit_storage : require

/* cooperative-matrix kernels (gemm_coop.glsl): fp16 shared memory, and
 * the matrix instructions unless emulated */
#ifndef DF_COOP
#define DF_COOP 0
#endif
#ifndef DF_COOP_EMULATE
#define DF_COOP_EMULATE 0
#endif
/* the matrix instructions of VK_KHR_cooperative_matrix instead of
 * VK_NV_cooperative_matrix (needs glslang 13 or later) */
#ifndef DF_COOP_KHR
#define DF_COOP_KHR 0
#endif
#if DF_COOP
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#if !DF_COOP_EMULATE
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_memory_scope_semantics : require
#if DF_COOP_KHR
#extension GL_KHR_cooperative_matrix : require
#else
#extension GL_NV_cooperative_matrix : require
#endif
#endif
#endif

#include "push.h"

#ifndef DF_F16
#define DF_F16 0
#endif

#if DF_F16
#define STORE_T float16_t
#define VEC4_STORE_T f16vec4
#else
#define STORE_T float
#define VEC4_STORE_T vec4
#endif

#define DF_WORKGROUP_LAYOUT \
  layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in

/* Number of invocations in the whole dispatch along x, for grid-stride
 * loops over flat element indices. */
#define DF_GLOBAL_SIZE_X (gl_NumWorkGroups.x * gl_WorkGroupSize.x)

#endif /* DF_COMMON_GLSL */
