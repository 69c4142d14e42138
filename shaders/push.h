/* Push-constant blocks shared by the shaders and the C code.
 *
 * Each block is a macro listing its fields.  A shader declares
 *   layout(push_constant) uniform Push { DF_PUSH_FILL } p;
 * and compute/ declares
 *   DF_PUSH_STRUCT (DfPushFill, DF_PUSH_FILL);
 * so both sides are expanded from the same text.  Only 32-bit scalars are
 * used, so std430 and C layouts are identical; the C side static-asserts
 * the size against the 128-byte guaranteed limit.
 *
 * Add a block per op family, keep them sorted by op.  */
#ifndef DF_PUSH_H
#define DF_PUSH_H

#ifdef VULKAN
#define DF_U32 uint
#define DF_I32 int
#define DF_F32 float
#else
#include <stdint.h>
#include <assert.h>
#define DF_U32 uint32_t
#define DF_I32 int32_t
#define DF_F32 float
#define DF_PUSH_STRUCT(Name, FIELDS) \
  typedef struct { FIELDS } Name;    \
  static_assert (sizeof (Name) <= 128, #Name " exceeds the push-constant limit")
#endif

/* fill: y[i] = value, i < n */
#define DF_PUSH_FILL \
  DF_U32 n;          \
  DF_F32 value;

/* --- linear algebra: linear, matmul, conv2d, attention --- */

/* --- normalisation and element-wise ops --- */

#endif /* DF_PUSH_H */
