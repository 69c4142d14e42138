/* df.h — the public API of Diffuse's compute engine.
 *
 * The engine never includes GTK.  Every failure is reported as a GError in
 * DF_ERROR (or G_IO_ERROR_CANCELLED for a cancelled job); nothing aborts on
 * bad input, a bad model or a lost device. */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

#define DF_ERROR (df_error_quark ())
GQuark df_error_quark (void);

typedef enum
{
  DF_ERROR_FAILED,               /* anything else */
  DF_ERROR_NO_DEVICE,            /* no usable Vulkan device */
  DF_ERROR_UNSUPPORTED_DEVICE,   /* a device that lacks what we need */
  DF_ERROR_OUT_OF_DEVICE_MEMORY, /* device or host memory exhausted */
  DF_ERROR_DEVICE_LOST,          /* driver reset or crash */
  DF_ERROR_INVALID_ARGUMENT,     /* a caller passed shapes that do not fit */
  DF_ERROR_INVALID_MODEL,        /* a model file that is malformed */
  DF_ERROR_UNSUPPORTED_MODEL,    /* a well-formed model we cannot run */
  DF_ERROR_IO,                   /* reading or writing a file failed */
} DfError;

/* ------------------------------------------------------------------------
 * Devices and the Vulkan context
 * ------------------------------------------------------------------------ */

typedef enum
{
  DF_DEVICE_DISCRETE,
  DF_DEVICE_INTEGRATED,
  DF_DEVICE_VIRTUAL,
  DF_DEVICE_CPU,
  DF_DEVICE_OTHER,
} DfDeviceType;

/* What the capability probe found on one physical device. */
typedef struct
{
  int index;               /* position in df_device_list() order */
  char name[256];
  DfDeviceType type;
  uint32_t vendor_id;
  uint32_t device_id;
  char driver[256];        /* driver name and info, if reported */
  uint32_t api_version;    /* VK_MAKE_API_VERSION */

  gboolean fp16_arithmetic;        /* shaderFloat16 */
  gboolean storage_16bit;          /* storageBuffer16BitAccess */
  /* VK_KHR_cooperative_matrix (resp. VK_NV_cooperative_matrix) with fp16
   * products accumulated in fp32 at subgroup scope in a fragment shape of
   * the engine's kernels, and the Vulkan memory model: the engine's
   * cooperative-matrix kernels for that extension run (the KHR ones only
   * in builds whose shader compiler could write them: glslang 13 or
   * later).  The NV kernels use 16×16×16 fragments; the KHR ones
   * cooperative_matrix_size³ (16, or 8 where the device offers only that;
   * 0 without). */
  gboolean cooperative_matrix;
  gboolean cooperative_matrix_nv;
  uint32_t cooperative_matrix_size;
  gboolean push_descriptor;        /* VK_KHR_push_descriptor */
  gboolean memory_budget;          /* VK_EXT_memory_budget */
  uint32_t subgroup_size;
  uint32_t max_shared_memory;      /* bytes per workgroup */
  uint64_t max_storage_buffer_range;
  uint32_t max_workgroup_invocations;
  uint32_t max_workgroup_count[3];
  uint64_t min_storage_buffer_offset_alignment;
  float timestamp_period_ns;       /* 0 when timestamps are unsupported */
  uint64_t device_local_bytes;     /* sum of device-local heaps */
  uint64_t device_local_budget;    /* budget, if memory_budget; else heap size */
  gboolean usable;                 /* has everything the engine needs */
  char unusable_reason[256];
} DfDeviceInfo;

const char *df_device_type_name (DfDeviceType type);

/* Every Vulkan device, in preference order: discrete GPUs first, then
 * integrated, virtual, CPU (lavapipe) and others.  Returns a GArray of
 * DfDeviceInfo, or NULL with DF_ERROR_NO_DEVICE when Vulkan is missing. */
GArray *df_device_list (GError **error);

typedef struct _DfContext DfContext;

/* Opens a device.  @selector is NULL (the environment variable
 * DIFFUSE_DEVICE, else the first usable device in preference order), a
 * decimal index into df_device_list(), or a case-insensitive substring of
 * the device name. */
DfContext *df_context_new (const char *selector, GError **error);
void df_context_free (DfContext *ctx);
const DfDeviceInfo *df_context_get_info (DfContext *ctx);
/* Bytes of device memory the allocator holds now, and at most so far. */
uint64_t df_context_get_allocated (DfContext *ctx);
uint64_t df_context_get_peak_allocated (DfContext *ctx);
void df_context_reset_peak (DfContext *ctx);
/* Bytes of device memory held in blocks (what the driver sees). */
uint64_t df_context_get_reserved (DfContext *ctx);
/* Releases blocks that hold no tensor.  Not while a recording that used
 * freed tensors is still unsubmitted. */
void df_context_trim (DfContext *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfContext, df_context_free)

/* ------------------------------------------------------------------------
 * Tensors: a range of device memory with a shape and a dtype.  Contiguous,
 * row-major (last dimension fastest), up to DF_MAX_DIMS dimensions.
 * Activations are NCHW for images and [batch, tokens, channels] for
 * sequences; weights are laid out exactly as the checkpoints store them.
 * ------------------------------------------------------------------------ */

#define DF_MAX_DIMS 4

typedef enum
{
  DF_DTYPE_F32,
  DF_DTYPE_F16,
  DF_DTYPE_U32, /* token ids and other indices */
} DfDType;

size_t df_dtype_size (DfDType dtype);
const char *df_dtype_name (DfDType dtype);

typedef struct _DfAlloc DfAlloc;

typedef struct
{
  DfContext *ctx;
  DfAlloc *alloc;       /* owned, unless view */
  DfDType dtype;
  int ndim;
  int64_t shape[DF_MAX_DIMS];
  uint64_t offset;      /* bytes into alloc (views) */
  gboolean view;        /* a window into another tensor's memory */
} DfTensor;

DfTensor *df_tensor_new (DfContext *ctx, DfDType dtype, int ndim, const int64_t *shape,
                         GError **error);
/* Convenience: up to four dimensions, unused trailing ones 0. */
DfTensor *df_tensor_new4 (DfContext *ctx, DfDType dtype, int64_t d0, int64_t d1, int64_t d2,
                          int64_t d3, GError **error);
void df_tensor_free (DfTensor *t);
int64_t df_tensor_numel (const DfTensor *t);
size_t df_tensor_bytes (const DfTensor *t);
/* A view of rows row0 .. row0 + n_rows − 1 of @t taken as a matrix
 * [numel / C, C] with C its last dimension: a 2-D tensor [n_rows, C]
 * sharing @t's memory (free it with df_tensor_free, which leaves @t's
 * memory alone; it must not outlive @t).  The byte offset must be a
 * multiple of the device's storage-buffer offset alignment. */
DfTensor *df_tensor_view_rows (DfTensor *t, int64_t row0, int64_t n_rows, GError **error);
/* Changes the shape in place; the element count must stay the same. */
gboolean df_tensor_reshape (DfTensor *t, int ndim, const int64_t *shape, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfTensor, df_tensor_free)

/* Copies host data of the tensor's own dtype to and from the device. */
gboolean df_tensor_upload (DfTensor *t, const void *data, size_t bytes, GError **error);
/* Writes bytes offset .. offset + len − 1 of a tensor's new contents at
 * @dst, which is host-visible memory the device reads. */
typedef gboolean (*DfFillFunc) (void *dst, size_t offset, size_t len, gpointer user_data,
                                GError **error);
/* Uploads @bytes that @fill produces straight into that memory, with no
 * host buffer between: in one call where the tensor's memory is mapped,
 * else in chunks of the staging buffer (multiples of 4 bytes). */
gboolean df_tensor_upload_with (DfTensor *t, size_t bytes, DfFillFunc fill, gpointer user_data,
                                GError **error);
gboolean df_tensor_download (const DfTensor *t, void *data, size_t bytes, GError **error);
/* fp32 host data converted to and from the tensor's dtype (f32 or f16). */
gboolean df_tensor_upload_f32 (DfTensor *t, const float *data, int64_t n, GError **error);
gboolean df_tensor_download_f32 (const DfTensor *t, float *data, int64_t n, GError **error);

/* fp16 <-> fp32 conversion on the host (round to nearest even). */
uint16_t df_f32_to_f16 (float f);
float df_f16_to_f32 (uint16_t h);
float df_bf16_to_f32 (uint16_t b);

/* ------------------------------------------------------------------------
 * Command recording.  Ops record dispatches into a DfCmd; barriers are
 * inserted only where a dispatch reads or writes memory that an earlier
 * dispatch in the same recording wrote (or writes memory it read).
 * ------------------------------------------------------------------------ */

typedef struct _DfCmd DfCmd;

DfCmd *df_cmd_new (DfContext *ctx, GError **error);
void df_cmd_free (DfCmd *cmd);
/* Record a GPU timestamp after every dispatch, labelled by its shader. */
void df_cmd_set_profiling (DfCmd *cmd, gboolean enabled);
/* Submits what was recorded, waits for it, and starts a new recording. */
gboolean df_cmd_submit_wait (DfCmd *cmd, GError **error);
/* After a profiled submit: per-shader totals in milliseconds, as a
 * GHashTable of shader name → double*, sorted output left to the caller. */
GHashTable *df_cmd_get_profile (DfCmd *cmd);

/* A DfCmd whose recording is kept: its first df_cmd_submit_wait (or
 * df_cmd_end) ends the recording, and every later submit runs the same
 * commands again on whatever the tensors then hold.  The memory of the
 * intermediates freed while it was recorded, and of tensors made while it
 * was recorded and freed later, stays reserved for it until df_cmd_reset
 * or df_cmd_free.  The tensors it binds that existed before it (inputs,
 * outputs, weights) must stay alive while it is submitted.  Its recording
 * is open from its creation (or reset) until it ends, and one replayable
 * recording may be open per context at a time: create it right before
 * recording.  After a failed recording, reset or free it. */
DfCmd *df_cmd_new_replayable (DfContext *ctx, GError **error);
/* Ends a replayable recording without submitting it. */
gboolean df_cmd_end (DfCmd *cmd, GError **error);
/* TRUE once a replayable recording has ended and can be submitted again. */
gboolean df_cmd_is_recorded (DfCmd *cmd);
/* Drops what was recorded (and the memory kept for it); the next dispatch
 * records anew.  A replayable DfCmd's recording opens again, which fails
 * while another one is open. */
gboolean df_cmd_reset (DfCmd *cmd, GError **error);
/* Bytes of memory reserved for a kept recording. */
uint64_t df_cmd_get_pinned (DfCmd *cmd);
/* Dispatches in the current (or kept) recording, and in @barriers (may be
 * NULL) the barriers recorded between them. */
guint df_cmd_get_dispatches (DfCmd *cmd, guint *barriers);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfCmd, df_cmd_free)

/* ------------------------------------------------------------------------
 * Ops.  Each records one or more dispatches; all tensors of one op share a
 * dtype (F32 or F16) unless stated.  Arithmetic is fp32.  Shapes are
 * checked and a mismatch is DF_ERROR_INVALID_ARGUMENT.
 * ------------------------------------------------------------------------ */

/* y[i] = value */
gboolean df_op_fill (DfCmd *cmd, DfTensor *y, float value, GError **error);

/* y = x (dtype conversion between F32 and F16, or a copy; same element
 * count, shapes may differ). */
gboolean df_op_cast (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error);

/* --- linear algebra (compute/df-ops-linalg.c) --- *
 * Each tensor is bound whole, so each must fit in one storage-buffer
 * binding (max_storage_buffer_range, 128 MiB on lavapipe: e.g. a 4096 ×
 * 8192 f32 matrix); a larger one is DF_ERROR_INVALID_ARGUMENT and splitting
 * it is the caller's job. */

/* y = x · wᵀ + bias.  x [..., K] (leading dimensions flattened to M),
 * w [N, K] as nn.Linear stores it, bias [N] or NULL, y [..., N]. */
gboolean df_op_linear (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                       const DfTensor *bias, GError **error);
/* y = x · wᵀ + bias + residual, the residual (shaped like y; it may be y
 * itself, for y += x · wᵀ + bias) added as the results are stored. */
gboolean df_op_linear_add (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                           const DfTensor *bias, const DfTensor *residual, GError **error);
/* The same stored channels first: x [B, L, K] (L tokens of an image),
 * y [B, N, h, w] (or [B, N, L]; h·w = L), residual shaped like y — a
 * transformer's proj_out back to the image layout with no permute. */
gboolean df_op_linear_nchw (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                            const DfTensor *bias, const DfTensor *residual, GError **error);
/* y = geglu(x) · wᵀ + bias (+ residual, shaped like y; it may be y), GEGLU
 * taken as x is loaded: x [..., 2K] = [hidden, gate], geglu(x) = hidden ·
 * gelu(gate) (exact GELU), w [N, K], y [..., N] — a feed-forward's second
 * linear with no pass for the GEGLU. */
gboolean df_op_geglu_linear_add (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                                 const DfTensor *bias, const DfTensor *residual, GError **error);

/* Batched y[i] = alpha · a[i] · b[i] (or b[i]ᵀ when transpose_b).
 * a [B, M, K]; b [B, K, N], or [B, N, K] when transpose_b; y [B, M, N].
 * 2-D tensors are taken as B = 1. */
gboolean df_op_matmul (DfCmd *cmd, DfTensor *y, const DfTensor *a, const DfTensor *b,
                       gboolean transpose_b, float alpha, GError **error);

/* 2-D convolution without an im2col buffer.  x [N, C, H, W],
 * w [O, C, k, k] with k = 1 or 3, bias [O] or NULL, stride 1 or 2,
 * padding ≥ 0 (zeros), y [N, O, Ho, Wo] with Ho = (H + 2·padding − k) /
 * stride + 1. */
gboolean df_op_conv2d (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                       const DfTensor *bias, int stride, int padding, GError **error);
/* The same plus a residual shaped like y (it may be y itself), or
 * [N, O, 1, 1] added to every pixel (a resnet's time embedding), added as
 * the results are stored. */
gboolean df_op_conv2d_add (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *w,
                           const DfTensor *bias, const DfTensor *residual, int stride,
                           int padding, GError **error);

/* Fused multi-head attention with online softmax (the score matrix is never
 * stored).  q [B, Lq, H·D]; k, v [B, Lk, H·D]; out [B, Lq, H·D]; per head
 * out = softmax(scale · q kᵀ) v.  causal masks key j > query i.
 * D is one of 40, 64, 80, 160 (any D ≤ 256 that is a multiple of 8). */
gboolean df_op_attention (DfCmd *cmd, DfTensor *out, const DfTensor *q, const DfTensor *k,
                          const DfTensor *v, int heads, float scale, gboolean causal,
                          GError **error);

/* --- normalisation and element-wise ops (compute/df-ops-elementwise.c) --- */

/* Softmax along the last dimension of x [..., N]; y may be x. */
gboolean df_op_softmax (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error);

/* Group norm over x [N, C, ...] (C divisible by groups), per-channel affine
 * gamma, beta [C] (both required); silu applies SiLU to the result.
 * Statistics in fp32, two passes. */
gboolean df_op_group_norm (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *gamma,
                           const DfTensor *beta, int groups, float eps, gboolean silu,
                           GError **error);
/* The same with y [N, L, C] channels last (L = the product of x's spatial
 * dimensions): the token layout of the transformers, with no permute. */
gboolean df_op_group_norm_nlc (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *gamma,
                               const DfTensor *beta, int groups, float eps, gboolean silu,
                               GError **error);

/* Layer norm over the last dimension of x [..., C]; gamma, beta [C]
 * (both required). */
gboolean df_op_layer_norm (DfCmd *cmd, DfTensor *y, const DfTensor *x, const DfTensor *gamma,
                           const DfTensor *beta, float eps, GError **error);

typedef enum
{
  DF_UNARY_SILU,       /* x·σ(x) */
  DF_UNARY_GELU,       /* exact, with erf */
  DF_UNARY_QUICK_GELU, /* x·σ(1.702x), CLIP */
} DfUnary;

gboolean df_op_unary (DfCmd *cmd, DfTensor *y, const DfTensor *x, DfUnary op, GError **error);

/* GEGLU as diffusers computes it: x [..., 2n] splits into hidden
 * x[..., :n] and gate x[..., n:]; y [..., n] = hidden · gelu(gate). */
gboolean df_op_geglu (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error);

typedef enum
{
  DF_BINARY_ADD,
  DF_BINARY_MUL,
} DfBinary;

/* y = a (op) b where b broadcasts to a's shape as in NumPy (shapes aligned
 * at the last dimension; b's dimensions are equal to a's or 1, and any
 * dimensions b has beyond a's are 1).  y has a's shape and may be a
 * itself. */
gboolean df_op_binary (DfCmd *cmd, DfTensor *y, const DfTensor *a, const DfTensor *b,
                       DfBinary op, GError **error);

/* y = x · s + t.  y may be x. */
gboolean df_op_scale (DfCmd *cmd, DfTensor *y, const DfTensor *x, float s, float t,
                      GError **error);

/* Concatenation along dimension 1: a [N, Ca, ...], b [N, Cb, ...] →
 * y [N, Ca + Cb, ...]. */
gboolean df_op_concat (DfCmd *cmd, DfTensor *y, const DfTensor *a, const DfTensor *b,
                       GError **error);

/* Nearest-neighbour 2× upsample: x [N, C, H, W] → y [N, C, 2H, 2W]. */
gboolean df_op_upsample_nearest2x (DfCmd *cmd, DfTensor *y, const DfTensor *x, GError **error);

/* y = x.permute(perm) for x of ndim ≤ 4 dimensions; y has the permuted
 * shape.  perm has x->ndim entries. */
gboolean df_op_permute (DfCmd *cmd, DfTensor *y, const DfTensor *x, const int *perm,
                        GError **error);

/* Sinusoidal timestep embedding as diffusers' get_timestep_embedding with
 * max_period 10000: t [B] (always F32) → y [B, dim], half = dim / 2,
 * freq_j = exp(−ln(10000)·j / (half − freq_shift)), [sin, cos] or, with
 * flip_sin_to_cos, [cos, sin]. */
gboolean df_op_timestep_embedding (DfCmd *cmd, DfTensor *y, const DfTensor *t,
                                   gboolean flip_sin_to_cos, float freq_shift, GError **error);

/* Zero padding: x [N, C, H, W] placed at row top, column left of
 * y [N, C, Ho, Wo] (Ho ≥ H + top, Wo ≥ W + left), zeros elsewhere. */
gboolean df_op_pad2d (DfCmd *cmd, DfTensor *y, const DfTensor *x, int top, int left,
                      GError **error);

/* Token + position embedding: ids [B, L] (U32), tok [V, C], pos [P, C]
 * (P ≥ L) or NULL → y [B, L, C] = tok[ids] + pos[0..L).  The ids live on
 * the device and are not checked: an id ≥ V reads row V − 1. */
gboolean df_op_embedding (DfCmd *cmd, DfTensor *y, const DfTensor *ids, const DfTensor *tok,
                          const DfTensor *pos, GError **error);

#include "df-text.h"

#include "df-model.h"

#include "df-sampling.h"

#include "df-image.h"

G_END_DECLS
