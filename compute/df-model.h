/* df-model.h — model files: the safetensors reader, checkpoint layouts
 * mapped onto one internal naming, and model detection.
 *
 * Everything here runs on the host and never touches a Vulkan device:
 * tensor data stays memory-mapped until a network uploads it.
 *
 * Errors: a malformed file is DF_ERROR_INVALID_MODEL; a well-formed file
 * we cannot use (a pickle checkpoint, SDXL, an I64 tensor where weights
 * are expected, …) is DF_ERROR_UNSUPPORTED_MODEL; a file that cannot be
 * read is DF_ERROR_IO.  Messages name the file and what is wrong.
 *
 * Included by df.h; include df.h, not this file. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------------
 * Safetensors (compute/df-safetensors.c)
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON (an
 * object of tensor name → {"dtype", "shape", "data_offsets": [begin, end]},
 * plus an optional "__metadata__" object of string → string), then the
 * data; offsets are relative to the first byte after the header.
 * ------------------------------------------------------------------------ */

/* The most header bytes we accept (real SD checkpoints have ~100 KiB). */
#define DF_SAFETENSORS_MAX_HEADER (100u * 1024 * 1024)
/* The most dimensions a tensor in a file may have. */
#define DF_FILE_MAX_DIMS 8

typedef enum
{
  DF_FILE_F32,
  DF_FILE_F16,
  DF_FILE_BF16,
  /* A dtype the safetensors format knows (I64, F64, U8, …) but the engine
   * cannot use as weights.  Only present when the file was opened with
   * DF_SAFETENSORS_ALLOW_OTHER_DTYPES. */
  DF_FILE_OTHER,
} DfFileDType;

/* "F32", "F16", "BF16" or "other". */
const char *df_file_dtype_name (DfFileDType dtype);

typedef struct
{
  const char *name;       /* as in the file */
  DfFileDType dtype;
  const char *dtype_name; /* as in the file: "F32", "I64", … */
  int ndim;
  int64_t shape[DF_FILE_MAX_DIMS];
  const void *data;       /* into the mapping; not aligned in general */
  size_t nbytes;
} DfTensorInfo;

int64_t df_tensor_info_numel (const DfTensorInfo *info);

/* Converts the tensor's elements (F32, F16 or BF16) to fp32 or fp16 host
 * memory; @n must equal its element count.  Converting to fp16 rounds to
 * nearest even. */
gboolean df_tensor_info_read_f32 (const DfTensorInfo *info, float *dst, int64_t n,
                                  GError **error);
gboolean df_tensor_info_read_f16 (const DfTensorInfo *info, uint16_t *dst, int64_t n,
                                  GError **error);
/* The same for elements first .. first + n − 1 only. */
gboolean df_tensor_info_read_f32_range (const DfTensorInfo *info, float *dst, int64_t first,
                                        int64_t n, GError **error);
gboolean df_tensor_info_read_f16_range (const DfTensorInfo *info, uint16_t *dst, int64_t first,
                                        int64_t n, GError **error);

typedef struct _DfSafetensors DfSafetensors;

typedef enum
{
  DF_SAFETENSORS_DEFAULT = 0,
  /* Keep tensors of other known dtypes as DF_FILE_OTHER instead of
   * refusing the file (checkpoints carry I64 buffers such as position_ids
   * that the model loader ignores). */
  DF_SAFETENSORS_ALLOW_OTHER_DTYPES = 1 << 0,
} DfSafetensorsFlags;

/* Memory-maps and validates a file: header length within the file and at
 * most DF_SAFETENSORS_MAX_HEADER, valid JSON object, no duplicate names,
 * dtype known (F32/F16/BF16, others refused unless allowed), shape entries
 * non-negative integers, at most DF_FILE_MAX_DIMS of them, 0 ≤ begin ≤ end
 * ≤ data size, byte size = product(shape) × dtype size, no two tensors
 * overlapping, __metadata__ string → string.  Tensors are kept in file
 * order of their data. */
DfSafetensors *df_safetensors_open (const char *path, GError **error);
DfSafetensors *df_safetensors_open_full (const char *path, DfSafetensorsFlags flags,
                                         GError **error);
/* The same on bytes in memory (kept referenced); @name is used in messages. */
DfSafetensors *df_safetensors_open_bytes (GBytes *bytes, const char *name,
                                          DfSafetensorsFlags flags, GError **error);
void df_safetensors_free (DfSafetensors *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfSafetensors, df_safetensors_free)

const char *df_safetensors_get_path (DfSafetensors *st);
int df_safetensors_n_tensors (DfSafetensors *st);
/* 0 ≤ index < n_tensors; ordered by data offset. */
const DfTensorInfo *df_safetensors_get (DfSafetensors *st, int index);
/* NULL when there is no such tensor. */
const DfTensorInfo *df_safetensors_lookup (DfSafetensors *st, const char *name);
/* A value of __metadata__, or NULL. */
const char *df_safetensors_get_metadata (DfSafetensors *st, const char *key);
/* The whole __metadata__ as string → string (never NULL; owned by @st). */
GHashTable *df_safetensors_get_metadata_table (DfSafetensors *st);

/* ------------------------------------------------------------------------
 * Name mapping (compute/df-names.c)
 *
 * The internal naming is diffusers' naming with the component as prefix:
 * "unet.down_blocks.0.resnets.0.conv1.weight",
 * "vae.decoder.mid_block.attentions.0.to_q.weight",
 * "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.weight".
 * The mapping is a set of data tables in df-names.c.
 * ------------------------------------------------------------------------ */

typedef enum
{
  DF_LAYOUT_ORIGINAL,          /* single file: model.diffusion_model.*, … */
  DF_LAYOUT_DIFFUSERS_UNET,    /* keys of the unet/ safetensors file */
  DF_LAYOUT_DIFFUSERS_VAE,     /* keys of the vae/ safetensors file */
  DF_LAYOUT_DIFFUSERS_TEXT,    /* keys of the text_encoder/ file */
} DfLayout;

/* How a file tensor becomes an internal one. */
typedef enum
{
  DF_TRANSFORM_NONE,
  /* A 1×1 convolution weight [O, I, 1, 1] used as a linear [O, I]
   * (the original VAE's attention q, k, v, proj_out). */
  DF_TRANSFORM_CONV_TO_LINEAR,
  /* A fused [3C, …] q/k/v tensor (OpenCLIP in_proj_weight, in_proj_bias)
   * split along dimension 0 into three internal tensors q, k, v. */
  DF_TRANSFORM_SPLIT_QKV,
} DfTransform;

typedef enum
{
  DF_NAME_MAPPED,
  DF_NAME_IGNORED, /* known and not needed: EMA copies, schedule buffers, … */
  DF_NAME_UNKNOWN,
} DfNameResult;

/* Maps one file key.  On DF_NAME_MAPPED, @out receives 1 internal name, or
 * 3 (q, k, v in that order) for DF_TRANSFORM_SPLIT_QKV; free them with
 * g_free.  @n_out and @transform may be NULL. */
DfNameResult df_names_map (DfLayout layout, const char *key, char *out[3], int *n_out,
                           DfTransform *transform);

const char *df_transform_name (DfTransform transform);

/* ------------------------------------------------------------------------
 * Models (compute/df-model.c)
 * ------------------------------------------------------------------------ */

typedef enum
{
  DF_FAMILY_SD1, /* CLIP ViT-L/14 text encoder, 768-wide context */
  DF_FAMILY_SD2, /* OpenCLIP ViT-H/14 text encoder, 1024-wide context */
} DfFamily;

typedef enum
{
  DF_PREDICTION_EPSILON,
  DF_PREDICTION_V,
} DfPrediction;

typedef enum
{
  DF_ACT_QUICK_GELU, /* CLIP (SD 1.x) */
  DF_ACT_GELU,       /* OpenCLIP (SD 2.x) */
} DfActivation;

#define DF_MAX_BLOCKS 4

/* diffusers' UNet2DConditionModel config, as far as SD 1.x / 2.x use it. */
typedef struct
{
  int in_channels;  /* 4, or 9 for inpainting */
  int out_channels; /* 4 */
  int n_blocks;     /* entries of block_out_channels */
  int block_out_channels[DF_MAX_BLOCKS];
  int layers_per_block;
  /* As diffusers' config spells it (for SD 1.x one number, the head
   * count 8, repeated; for SD 2.x per block 5, 10, 20, 20: the head
   * dimension is 64 there).  attention_head_dim_is_list says which. */
  int attention_head_dim[DF_MAX_BLOCKS];
  gboolean attention_head_dim_is_list;
  /* Blocks with cross-attention: down blocks by index, up blocks by index
   * (diffusers' CrossAttnDownBlock2D / CrossAttnUpBlock2D). */
  gboolean down_block_attention[DF_MAX_BLOCKS];
  gboolean up_block_attention[DF_MAX_BLOCKS];
  int cross_attention_dim; /* 768 or 1024 */
  gboolean use_linear_projection;
  int sample_size;         /* latent size the model was trained at */
  int norm_num_groups;     /* 32 */
  float norm_eps;          /* 1e-5 */
  gboolean flip_sin_to_cos;
  float freq_shift;
} DfUNetConfig;

/* diffusers' AutoencoderKL config. */
typedef struct
{
  int in_channels;     /* 3 */
  int out_channels;    /* 3 */
  int latent_channels; /* 4 */
  int n_blocks;
  int block_out_channels[DF_MAX_BLOCKS];
  int layers_per_block; /* 2 (the decoder has one more per block) */
  int norm_num_groups;  /* 32 */
  int sample_size;
  float scaling_factor; /* 0.18215 */
} DfVAEConfig;

/* transformers' CLIPTextConfig. */
typedef struct
{
  int hidden_size;             /* 768 / 1024 */
  int intermediate_size;       /* 3072 / 4096 */
  int num_hidden_layers;       /* layers the pipeline runs: 12 / 23 */
  int num_attention_heads;     /* 12 / 16 */
  int max_position_embeddings; /* 77 */
  int vocab_size;              /* 49408 */
  int projection_dim;          /* 768 / 512 */
  DfActivation hidden_act;
  float layer_norm_eps;        /* 1e-5 */
} DfClipConfig;

typedef struct _DfModel DfModel;

/* Opens a single-file .safetensors checkpoint (original layout) or a
 * diffusers folder, maps its tensors onto the internal naming and detects
 * the family.  Refuses pickle files (.ckpt, .pt, .pth, .bin, or zip or
 * pickle content) without reading them further, SDXL and anything that is
 * not a Stable Diffusion 1.x / 2.x checkpoint.
 *
 * v-prediction: in a diffusers folder, scheduler/scheduler_config.json's
 * "prediction_type"; for a single file, a __metadata__ entry
 * "prediction_type" ("v_prediction" / "epsilon") or "parameterization"
 * ("v" / "eps"), else a sibling FILE.yaml (same base name) that says
 * `parameterization: "v"`; otherwise epsilon. */
DfModel *df_model_open (const char *path, GError **error);
typedef enum
{
  DF_MODEL_OPEN_DEFAULT = 0,
  /* Accept a diffusers folder whose widths are not SD's own (768 / 1024)
   * when the text encoder's width matches the UNet's context: the tiny
   * random-weight models of the tests.  The family then follows the text
   * encoder's activation (quick-GELU: SD 1.x, GELU: SD 2.x). */
  DF_MODEL_OPEN_ANY_SIZE = 1 << 0,
} DfModelOpenFlags;

DfModel *df_model_open_full (const char *path, DfModelOpenFlags flags, GError **error);
void df_model_free (DfModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfModel, df_model_free)

DfFamily df_model_get_family (DfModel *model);
gboolean df_model_is_inpaint (DfModel *model);
DfPrediction df_model_get_prediction (DfModel *model);
/* "sd1", "sd1-inpaint", "sd2", "sd2-v", "sd2-inpaint" (and "-v" suffixes). */
const char *df_model_get_family_name (DfModel *model);
/* TRUE for a diffusers folder, FALSE for a single file. */
gboolean df_model_is_diffusers (DfModel *model);

const DfUNetConfig *df_model_get_unet_config (DfModel *model);
const DfVAEConfig *df_model_get_vae_config (DfModel *model);
const DfClipConfig *df_model_get_clip_config (DfModel *model);

/* Internal tensors: a view of the file data, with the transform applied to
 * shape and data pointer (a q/k/v split is a contiguous third of the
 * fused tensor).  info->name is the internal name. */
int df_model_n_tensors (DfModel *model);
const DfTensorInfo *df_model_lookup (DfModel *model, const char *name);
/* As lookup, but a missing tensor is DF_ERROR_INVALID_MODEL naming it. */
const DfTensorInfo *df_model_get_tensor (DfModel *model, const char *name, GError **error);
/* How the tensor was made, and the file key it came from. */
DfTransform df_model_get_transform (DfModel *model, const char *name);
const char *df_model_get_source_name (DfModel *model, const char *name);
/* Every internal name, sorted (owned by the model). */
const char *const *df_model_get_names (DfModel *model);
/* Tensors in the files the mapping left out (ignored or unknown keys). */
int df_model_n_ignored (DfModel *model);

/* For one component ("unet", "vae", "text_encoder"): the tensor count, the
 * parameter count and the dtypes present as a bit set of 1 << DfFileDType.
 * FALSE when the model has no tensor of that component. */
gboolean df_model_component_stats (DfModel *model, const char *component, int *n_tensors,
                                   int64_t *n_params, guint *dtypes);

/* ------------------------------------------------------------------------
 * Models made in memory
 * ------------------------------------------------------------------------ */

/* The configs of Stable Diffusion 1.5. */
void df_model_sd15_configs (DfUNetConfig *unet, DfVAEConfig *vae, DfClipConfig *clip);
/* A model over tensors in memory.  @infos holds DfTensorInfo* allocated
 * with g_new, whose name and data (g_malloc'ed) the model takes: the array
 * is left empty. */
DfModel *df_model_new_from_tensors (const char *display, DfFamily family, const DfUNetConfig *unet,
                                    const DfVAEConfig *vae, const DfClipConfig *clip,
                                    GPtrArray *infos);
/* Frees a DfTensorInfo whose name and data were allocated with g_malloc. */
void df_tensor_info_free_owned (DfTensorInfo *info);

/* Synthetic weights (compute/df-synthetic.c): every tensor the networks
 * read, enumerated from the configs as DfTensorInfo with a name and shape
 * and no data (free with df_tensor_info_free_owned), and the values of a
 * tensor from its name as fp16, by the rule documented in df-synthetic.c
 * that tests/reference/make_fullsize_golden.py implements too. */
GPtrArray *df_synthetic_tensor_list (const DfUNetConfig *unet, const DfVAEConfig *vae,
                                     const DfClipConfig *clip);
void df_synthetic_fill (const char *name, int ndim, const int64_t *shape, uint16_t *out);
/* A whole model with synthetic weights: @family "sd15" (about 2.1 GB of
 * host memory, fp16). */
DfModel *df_synthetic_model_new (const char *family, GError **error);

/* Where a diffusers folder's tokenizer lives (or NULL for a single file). */
const char *df_model_get_tokenizer_dir (DfModel *model);

G_END_DECLS
