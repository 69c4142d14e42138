/* df-networks.h — the three networks of Stable Diffusion on the device:
 * the CLIP text encoder, the UNet and the VAE.
 *
 * Each is built from a DfModel (weights uploaded once, in fp16 where the
 * device stores fp16, else fp32) and records its forward pass into a
 * DfCmd.  Inputs and outputs are device tensors of the network's dtype
 * (df_*_get_dtype); the host-side helpers upload, run, submit and read
 * back in one call.
 *
 * Include this header after (or instead of) df.h; it is not part of df.h
 * so that the model types it needs are complete when it is read. */
#pragma once

#include "df.h"

G_BEGIN_DECLS

/* Weight dtype for a context: F16 when the device has 16-bit storage and
 * DIFFUSE_FP32 is not set in the environment, else F32. */
DfDType df_networks_default_dtype (DfContext *ctx);

/* ------------------------------------------------------------------------
 * CLIP text encoder (compute/df-clip.c)
 * ------------------------------------------------------------------------ */

typedef struct _DfClip DfClip;

DfClip *df_clip_new (DfContext *ctx, DfModel *model, DfDType dtype, GError **error);
void df_clip_free (DfClip *clip);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfClip, df_clip_free)
const DfClipConfig *df_clip_get_config (DfClip *clip);
DfDType df_clip_get_dtype (DfClip *clip);
uint64_t df_clip_get_weight_bytes (DfClip *clip);

/* ids [B, L] (U32, L ≤ max positions) → out [B, L, hidden].  clip_skip 0
 * takes the last layer, 1 the penultimate (as the web UIs' "clip skip 2"),
 * and so on; the final layer norm is applied either way. */
gboolean df_clip_forward (DfClip *clip, DfCmd *cmd, DfTensor *out, const DfTensor *ids,
                          int clip_skip, GError **error);

/* Host convenience: n_chunks chunks of 77 token ids (and optional per-token
 * weights, applied as the common web UIs do: scale each token's embedding,
 * then restore the original mean) → out [n_chunks · 77, hidden] floats, the
 * chunks' embeddings concatenated along the sequence. */
gboolean df_clip_encode (DfClip *clip, DfCmd *cmd, const uint32_t *ids, const float *weights,
                         int n_chunks, int clip_skip, float *out, GError **error);

/* ------------------------------------------------------------------------
 * UNet (compute/df-unet.c)
 * ------------------------------------------------------------------------ */

typedef struct _DfUNet DfUNet;

DfUNet *df_unet_new (DfContext *ctx, DfModel *model, DfDType dtype, GError **error);
void df_unet_free (DfUNet *unet);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfUNet, df_unet_free)
const DfUNetConfig *df_unet_get_config (DfUNet *unet);
uint64_t df_unet_get_weight_bytes (DfUNet *unet);

/* sample [B, in_channels, h, w] (h, w divisible by 2^(blocks−1)),
 * timesteps [B] (F32), context [B, L, cross_attention_dim] → out
 * [B, out_channels, h, w]. */
gboolean df_unet_forward (DfUNet *unet, DfCmd *cmd, DfTensor *out, const DfTensor *sample,
                          const DfTensor *timesteps, const DfTensor *context, GError **error);

/* The keys and values of every cross-attention for @context [B, L,
 * cross_attention_dim], recorded into @cmd: what df_unet_forward computes
 * from the text in every step, computed once for all steps of a picture.
 * The tensors are read when a recording of df_unet_forward_text runs; the
 * text must outlive those recordings. */
typedef struct _DfUNetText DfUNetText;
DfUNetText *df_unet_text_new (DfUNet *unet, DfCmd *cmd, const DfTensor *context, GError **error);
void df_unet_text_free (DfUNetText *text);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfUNetText, df_unet_text_free)
/* df_unet_forward with the cross-attentions' keys and values from @text
 * (its batch that of @sample). */
gboolean df_unet_forward_text (DfUNet *unet, DfCmd *cmd, DfTensor *out, const DfTensor *sample,
                               const DfTensor *timesteps, const DfUNetText *text,
                               GError **error);

/* ------------------------------------------------------------------------
 * VAE (compute/df-vae.c)
 * ------------------------------------------------------------------------ */

typedef struct _DfVae DfVae;

DfVae *df_vae_new (DfContext *ctx, DfModel *model, DfDType dtype, GError **error);
void df_vae_free (DfVae *vae);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfVae, df_vae_free)
const DfVAEConfig *df_vae_get_config (DfVae *vae);
uint64_t df_vae_get_weight_bytes (DfVae *vae);

/* latent [B, latent_channels, h, w] (already divided by the scaling
 * factor) → image [B, out_channels, h·f, w·f] in about [−1, 1], f = 2^(blocks−1). */
gboolean df_vae_decode (DfVae *vae, DfCmd *cmd, DfTensor *image, const DfTensor *latent,
                        GError **error);
/* image [B, in_channels, H, W] (H, W divisible by f) → moments
 * [B, 2·latent_channels, H/f, W/f]: the mean, then the log-variance. */
gboolean df_vae_encode (DfVae *vae, DfCmd *cmd, DfTensor *moments, const DfTensor *image,
                        GError **error);

/* Host convenience for one image: latent [latent_channels, h, w] floats
 * (already divided by the scaling factor) → image [out_channels, h·f,
 * w·f].  @tile is the tile size in latent pixels: 0 decodes whole, −1
 * chooses from the device's memory budget and per-binding limit
 * (df_vae_choose_tile); tiles overlap by a quarter tile, at most 8 latent
 * pixels, blended linearly so no seams show.  Peak device memory is that
 * of one tile. */
gboolean df_vae_decode_host (DfVae *vae, DfCmd *cmd, const float *latent, int64_t h, int64_t w,
                             int tile, float *image, GError **error);
/* image [in_channels, H, W] in [−1, 1] → moments [2·latent_channels, H/f,
 * W/f]; @tile in latent pixels as above. */
gboolean df_vae_encode_host (DfVae *vae, DfCmd *cmd, const float *image, int64_t h, int64_t w,
                             int tile, float *moments, GError **error);
/* The tile size (latent pixels) for an h × w latent: 0 when the whole
 * image fits.  DIFFUSE_VAE_TILE in the environment overrides it. */
int df_vae_choose_tile (DfVae *vae, int64_t h, int64_t w);

G_END_DECLS
