/* df-private.h — engine internals shared by compute/ sources.  Not part of
 * the public API (df.h); tests may include it. */
#pragma once

#include <vulkan/vulkan.h>

#include "df.h"
#include "df-shader-table.h"
#include "push.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

const char *df_vk_result_name (VkResult r);
gboolean df_vk_check_impl (VkResult r, const char *where, GError **error);
/* Turns a VkResult into a GError that names the call site. */
#define df_vk_check(r, error) df_vk_check_impl ((r), G_STRLOC, (error))

/* ------------------------------------------------------------------------
 * Shaders: one id per compiled variant, named <op>_<f32|f16>.
 * ------------------------------------------------------------------------ */

typedef enum
{
#define DF_SHADER_ENUM(name) DF_SHADER_##name,
  DF_SHADER_LIST (DF_SHADER_ENUM)
#undef DF_SHADER_ENUM
  DF_SHADER_COUNT
} DfShaderId;

typedef struct
{
  const char *name;
  const uint32_t *code;
  size_t size; /* bytes */
} DfShaderCode;

const DfShaderCode *df_shader_get (DfShaderId id);

/* The f32 or f16 variant of an op family, by the tensor dtype. */
#define DF_SHADER_FOR(op, dtype) \
  ((dtype) == DF_DTYPE_F16 ? DF_SHADER_##op##_f16 : DF_SHADER_##op##_f32)

/* ------------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------------ */

typedef struct _DfBlock DfBlock;
typedef struct _DfPins DfPins;

/* One sub-allocation of a device memory block. */
struct _DfAlloc
{
  DfBlock *block;
  VkBuffer buffer;       /* the block's buffer */
  VkDeviceSize offset;   /* within the buffer */
  VkDeviceSize size;     /* bytes requested */
  VkDeviceSize reserved; /* bytes taken from the block (aligned) */
  void *mapped;          /* host pointer when the block is host-visible */
  DfPins *pins;          /* made while a kept recording was recorded: its
                            range goes to that recording when freed */
};

gboolean df_memory_init (DfContext *ctx, GError **error);
DfAlloc *df_alloc_new (DfContext *ctx, VkDeviceSize size, GError **error);
void df_alloc_free (DfContext *ctx, DfAlloc *alloc);
void df_memory_cleanup (DfContext *ctx);

/* What a replayable recording keeps of the memory (df-memory.c): the
 * ranges freed while it was recorded, and the tensors made while it was
 * recorded that are still alive when it ends. */
DfPins *df_pins_new (void);
/* Gives everything pinned back (df_memory_unpin) and frees @pins. */
void df_pins_free (DfContext *ctx, DfPins *pins);
/* While @pins is set, df_alloc_free() logs every range it gives back and
 * df_alloc_new() notes every allocation in it; NULL stops.  One per
 * context at a time. */
void df_memory_log (DfContext *ctx, DfPins *pins);
/* Ends the log: claims what of the logged ranges is still free as in use
 * (counted in the allocated bytes), and marks the allocations made during
 * the log and still alive, so that their ranges join the pins when they
 * are freed.  Returns the bytes pinned so far. */
VkDeviceSize df_memory_pin (DfContext *ctx, DfPins *pins);
/* Gives the pinned ranges back to their blocks and forgets the log. */
void df_memory_unpin (DfContext *ctx, DfPins *pins);
/* Bytes pinned, including ranges of marked allocations freed since. */
VkDeviceSize df_pins_get_bytes (DfPins *pins);

/* ------------------------------------------------------------------------
 * The context
 * ------------------------------------------------------------------------ */

#define DF_MAX_BINDINGS 8
#define DF_MAX_SPEC 8

typedef struct
{
  VkPipelineLayout layout;
  VkPipeline pipeline;
  VkDescriptorSetLayout set_layout;
  int n_bindings;
  uint32_t push_size;
} DfPipeline;

struct _DfContext
{
  DfDeviceInfo info;
  VkInstance instance;
  VkPhysicalDevice physical;
  VkDevice device;
  uint32_t queue_family;
  VkQueue queue;
  VkCommandPool pool;
  VkPipelineCache pipeline_cache;
  char *pipeline_cache_path;
  PFN_vkCmdPushDescriptorSetKHR push_descriptor_set;

  /* memory */
  GPtrArray *blocks; /* DfBlock */
  uint32_t memory_type_device; /* device-local, preferably host-visible too */
  gboolean device_memory_mappable;
  uint32_t memory_type_staging; /* host-visible, coherent */
  uint64_t allocated;
  uint64_t peak_allocated;
  DfBlock *staging;  /* host-visible buffer for uploads and readbacks */
  VkDeviceSize staging_size;
  GMutex lock;       /* guards the allocator */
  DfPins *logging;   /* the open replayable recording's, or NULL */

  /* pipelines, keyed by shader id and specialization values */
  GHashTable *pipelines; /* DfPipelineKey* → DfPipeline* */
};

/* Submits a one-off command buffer that copies between buffers, and waits. */
gboolean df_context_copy_buffer (DfContext *ctx, VkBuffer src, VkDeviceSize src_offset,
                                 VkBuffer dst, VkDeviceSize dst_offset, VkDeviceSize size,
                                 GError **error);

/* ------------------------------------------------------------------------
 * Recording dispatches (df-cmd.c)
 * ------------------------------------------------------------------------ */

/* A dispatch: the shader, its specialization constants (constant_id 0, 1,
 * 2 are the workgroup size; more are shader-specific), bindings in binding
 * order with a mask of those the shader writes, the push constants and
 * the number of workgroups.  full_subgroups creates the pipeline with
 * VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT (the
 * VK_KHR_cooperative_matrix kernels). */
typedef struct
{
  DfShaderId shader;
  uint32_t spec[DF_MAX_SPEC];
  int n_spec;
  const DfTensor *bindings[DF_MAX_BINDINGS];
  int n_bindings;
  uint32_t write_mask; /* bit i set: binding i is written */
  const void *push;
  uint32_t push_size;
  uint32_t groups[3];
  gboolean full_subgroups;
} DfDispatch;

gboolean df_cmd_dispatch (DfCmd *cmd, const DfDispatch *d, GError **error);
DfContext *df_cmd_get_context (DfCmd *cmd);

/* Workgroup counts for a 1-D grid-stride loop over n elements with
 * workgroup size wg: at most the device limit, at least 1. */
uint32_t df_groups_1d (DfContext *ctx, int64_t n, uint32_t wg);
/* ceil(a / b) */
static inline uint32_t
df_div_up (int64_t a, int64_t b)
{
  return (uint32_t) ((a + b - 1) / b);
}

/* ------------------------------------------------------------------------
 * Shape checks shared by the ops (df-ops.c).  Each sets
 * DF_ERROR_INVALID_ARGUMENT naming the op and returns FALSE on mismatch.
 * ------------------------------------------------------------------------ */

gboolean df_check_dtype (const char *op, const DfTensor *t, DfDType dtype, GError **error);
/* t is F32 or F16 and of the same dtype as ref. */
gboolean df_check_float_same (const char *op, const DfTensor *ref, const DfTensor *t,
                              GError **error);
/* Whether t has exactly this shape. */
gboolean df_shape_equal (const DfTensor *t, int ndim, const int64_t *shape);
gboolean df_check_shape (const char *op, const DfTensor *t, int ndim, const int64_t *shape,
                         GError **error);
gboolean df_check_numel (const char *op, const DfTensor *t, int64_t numel, GError **error);
/* For error messages: "[2, 3, 4]" in a static buffer per thread. */
const char *df_shape_str (const DfTensor *t);

G_END_DECLS
