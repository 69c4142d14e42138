/* df-vae.c — the VAE (diffusers' AutoencoderKL): decoder and encoder.
 *
 * decode: z [B, 4, h, w] → post_quant_conv → conv_in → mid (resnet,
 *         attention, resnet) → up blocks (channels reversed; each
 *         layers_per_block + 1 resnets, then nearest 2× + conv except the
 *         last) → GroupNorm + SiLU → conv_out → [B, 3, h·f, w·f]
 * encode: x [B, 3, H, W] → conv_in → down blocks (layers_per_block
 *         resnets, then pad right/bottom by one and a stride-2 conv except
 *         the last) → mid → GroupNorm + SiLU → conv_out → quant_conv →
 *         moments [B, 8, H/f, W/f]
 *
 * Resnets here have no time embedding; the mid attention is one head as
 * wide as the channels. */
#include <math.h>
#include <string.h>

#include "df-nn.h"

#define VAE_EPS 1e-6f

struct _DfVae
{
  DfContext *ctx;
  DfVAEConfig config;
  DfWeights *w;
};

DfVae *
df_vae_new (DfContext *ctx, DfModel *model, DfDType dtype, GError **error)
{
  g_autoptr (DfVae) vae = g_new0 (DfVae, 1);
  const DfVAEConfig *c = df_model_get_vae_config (model);

  vae->ctx = ctx;
  vae->config = *c;
  if (c->n_blocks < 1 || c->n_blocks > DF_MAX_BLOCKS || c->layers_per_block < 1)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "Invalid VAE configuration");
      return NULL;
    }
  vae->w = df_weights_load (ctx, model, "vae.", dtype, error);
  if (vae->w == NULL)
    return NULL;
  return g_steal_pointer (&vae);
}

void
df_vae_free (DfVae *vae)
{
  if (vae == NULL)
    return;
  df_weights_free (vae->w);
  g_free (vae);
}

const DfVAEConfig *
df_vae_get_config (DfVae *vae)
{
  return &vae->config;
}

uint64_t
df_vae_get_weight_bytes (DfVae *vae)
{
  return vae->w->bytes;
}

/* ResnetBlock2D without a time embedding. */
static DfTensor *
resnet (DfVae *v, DfNet *net, const DfTensor *x, const char *name, GError **error)
{
  return nn_resnet (net, x, NULL, name, v->config.norm_num_groups, VAE_EPS, error);
}

/* Mid-block attention: GroupNorm into tokens, one head over the h·w
 * tokens, to_out.0 stored back channels first with x added. */
static DfTensor *
attention (DfVae *v, DfNet *net, const DfTensor *x, const char *name, GError **error)
{
  g_autofree char *norm = g_strdup_printf ("%s.group_norm", name);
  g_autoptr (DfTensor) seq = nn_group_norm_nlc (net, x, norm, v->config.norm_num_groups, VAE_EPS,
                                                error);

  return seq != NULL ? nn_attention_nchw_add (net, seq, name, 1, x, error) : NULL;
}

static DfTensor *
mid_block (DfVae *v, DfNet *net, const DfTensor *x, const char *part, GError **error)
{
  g_autofree char *r0 = g_strdup_printf ("%s.mid_block.resnets.0", part);
  g_autofree char *a0 = g_strdup_printf ("%s.mid_block.attentions.0", part);
  g_autofree char *r1 = g_strdup_printf ("%s.mid_block.resnets.1", part);
  g_autoptr (DfTensor) h = resnet (v, net, x, r0, error);
  g_autoptr (DfTensor) h2 = h ? attention (v, net, h, a0, error) : NULL;

  if (h2 == NULL)
    return NULL;
  g_clear_pointer (&h, df_tensor_free);
  return resnet (v, net, h2, r1, error);
}

/* GroupNorm + SiLU, then conv_out. */
static DfTensor *
head (DfVae *v, DfNet *net, const DfTensor *x, const char *part, GError **error)
{
  g_autofree char *norm = g_strdup_printf ("%s.conv_norm_out", part);
  g_autofree char *conv = g_strdup_printf ("%s.conv_out", part);
  g_autoptr (DfTensor) n = nn_group_norm (net, x, norm, v->config.norm_num_groups, VAE_EPS,
                                          TRUE, error);

  return n ? nn_conv (net, n, conv, 1, 1, error) : NULL;
}

static DfNet
net_for (DfVae *v, DfCmd *cmd)
{
  return (DfNet){ .cmd = cmd, .ctx = v->ctx, .w = v->w, .dtype = v->w->dtype };
}

gboolean
df_vae_decode (DfVae *v, DfCmd *cmd, DfTensor *image, const DfTensor *latent, GError **error)
{
  const DfVAEConfig *c = &v->config;
  DfNet net = net_for (v, cmd);
  int64_t f = (int64_t) 1 << (c->n_blocks - 1);
  g_autoptr (DfTensor) z = NULL;
  g_autoptr (DfTensor) x = NULL;
  char name[128];

  if (latent->ndim != 4 || latent->shape[1] != c->latent_channels)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "VAE decoder: expected a latent [batch, %d, h, w], got %s",
                   c->latent_channels, df_shape_str (latent));
      return FALSE;
    }
  {
    const int64_t want[4] = { latent->shape[0], c->out_channels, latent->shape[2] * f,
                              latent->shape[3] * f };
    if (!df_check_shape ("VAE decoder output", image, 4, want, error))
      return FALSE;
  }

  z = nn_conv (&net, latent, "post_quant_conv", 1, 0, error);
  x = z ? nn_conv (&net, z, "decoder.conv_in", 1, 1, error) : NULL;
  if (x == NULL)
    return FALSE;
  g_clear_pointer (&z, df_tensor_free);
  {
    g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
    x = mid_block (v, &net, x0, "decoder", error);
    if (x == NULL)
      return FALSE;
  }
  for (int b = 0; b < c->n_blocks; b++)
    {
      for (int l = 0; l < c->layers_per_block + 1; l++)
        {
          g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
          g_snprintf (name, sizeof name, "decoder.up_blocks.%d.resnets.%d", b, l);
          x = resnet (v, &net, x0, name, error);
          if (x == NULL)
            return FALSE;
        }
      if (b < c->n_blocks - 1)
        {
          g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
          g_autoptr (DfTensor) up = nn_new4 (&net, error, x0->shape[0], x0->shape[1],
                                             x0->shape[2] * 2, x0->shape[3] * 2);
          if (up == NULL || !df_op_upsample_nearest2x (cmd, up, x0, error))
            return FALSE;
          g_snprintf (name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.conv", b);
          x = nn_conv (&net, up, name, 1, 1, error);
          if (x == NULL)
            return FALSE;
        }
    }
  {
    /* the last convolution writes the caller's tensor directly */
    g_autoptr (DfTensor) n = nn_group_norm (&net, x, "decoder.conv_norm_out",
                                            c->norm_num_groups, VAE_EPS, TRUE, error);
    const DfTensor *w = n ? df_weights_get (v->w, error, "decoder.conv_out.weight") : NULL;

    return w != NULL
           && df_op_conv2d (cmd, image, n, w, df_weights_find (v->w, "decoder.conv_out.bias"), 1,
                            1, error);
  }
}

gboolean
df_vae_encode (DfVae *v, DfCmd *cmd, DfTensor *moments, const DfTensor *image, GError **error)
{
  const DfVAEConfig *c = &v->config;
  DfNet net = net_for (v, cmd);
  int64_t f = (int64_t) 1 << (c->n_blocks - 1);
  g_autoptr (DfTensor) x = NULL;
  g_autoptr (DfTensor) h = NULL;
  const DfTensor *w;
  char name[128];

  if (image->ndim != 4 || image->shape[1] != c->in_channels || image->shape[2] % f
      || image->shape[3] % f)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "VAE encoder: expected an image [batch, %d, H, W] with H and W divisible "
                   "by %" G_GINT64_FORMAT ", got %s",
                   c->in_channels, f, df_shape_str (image));
      return FALSE;
    }
  {
    const int64_t want[4] = { image->shape[0], 2 * c->latent_channels, image->shape[2] / f,
                              image->shape[3] / f };
    if (!df_check_shape ("VAE encoder output", moments, 4, want, error))
      return FALSE;
  }

  x = nn_conv (&net, image, "encoder.conv_in", 1, 1, error);
  if (x == NULL)
    return FALSE;
  for (int b = 0; b < c->n_blocks; b++)
    {
      for (int l = 0; l < c->layers_per_block; l++)
        {
          g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
          g_snprintf (name, sizeof name, "encoder.down_blocks.%d.resnets.%d", b, l);
          x = resnet (v, &net, x0, name, error);
          if (x == NULL)
            return FALSE;
        }
      if (b < c->n_blocks - 1)
        {
          /* diffusers pads (0, 1, 0, 1) and convolves with padding 0 */
          g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
          g_autoptr (DfTensor) padded = nn_new4 (&net, error, x0->shape[0], x0->shape[1],
                                                 x0->shape[2] + 1, x0->shape[3] + 1);
          if (padded == NULL || !df_op_pad2d (cmd, padded, x0, 0, 0, error))
            return FALSE;
          g_snprintf (name, sizeof name, "encoder.down_blocks.%d.downsamplers.0.conv", b);
          x = nn_conv (&net, padded, name, 2, 0, error);
          if (x == NULL)
            return FALSE;
        }
    }
  {
    g_autoptr (DfTensor) x0 = g_steal_pointer (&x);
    x = mid_block (v, &net, x0, "encoder", error);
    if (x == NULL)
      return FALSE;
  }
  h = head (v, &net, x, "encoder", error);
  w = h ? df_weights_get (v->w, error, "quant_conv.weight") : NULL;
  if (w == NULL)
    return FALSE;
  return df_op_conv2d (cmd, moments, h, w, df_weights_find (v->w, "quant_conv.bias"), 1, 0,
                       error);
}

/* ------------------------------------------------------------------------
 * Host-side decode and encode, tiled when the image does not fit.
 *
 * A tile is decoded (or encoded) on its own; tiles overlap by @overlap
 * latent pixels and are blended with linear ramps across the overlap, so
 * no seam shows.  Group norms then see per-tile statistics, which is why
 * tiling is only used when the whole image does not fit.
 * ------------------------------------------------------------------------ */

/* Bytes of the largest activation of a decode at latent size h × w: the
 * decoder's widest full-resolution tensor (its second-to-last block's
 * channels at 8h × 8w). */
static uint64_t
largest_activation (DfVae *v, int64_t h, int64_t w)
{
  const DfVAEConfig *c = &v->config;
  int64_t f = (int64_t) 1 << (c->n_blocks - 1);
  int64_t ch = c->n_blocks > 1 ? c->block_out_channels[1] : c->block_out_channels[0];

  return (uint64_t) ch * (uint64_t) (h * f) * (uint64_t) (w * f) * df_dtype_size (v->w->dtype);
}

int
df_vae_choose_tile (DfVae *v, int64_t h, int64_t w)
{
  const DfDeviceInfo *info = df_context_get_info (v->ctx);
  /* a decode holds about six tensors of the largest size at once */
  uint64_t budget = info->device_local_budget > v->w->bytes
                        ? (info->device_local_budget - v->w->bytes) / 2
                        : info->device_local_budget / 4;
  int64_t t = MAX (h, w);
  const char *env = g_getenv ("DIFFUSE_VAE_TILE");

  if (env != NULL)
    return (int) g_ascii_strtoll (env, NULL, 10);
  if (largest_activation (v, h, w) <= info->max_storage_buffer_range
      && 6 * largest_activation (v, h, w) <= budget)
    return 0;
  while (t > 16
         && (largest_activation (v, t, t) > info->max_storage_buffer_range
             || 6 * largest_activation (v, t, t) > budget))
    t = t * 3 / 4;
  return (int) MAX (16, t & ~7);
}

/* Start positions of tiles of size t with overlap o covering n. */
static GArray *
tile_starts (int64_t n, int64_t t, int64_t o)
{
  GArray *s = g_array_new (FALSE, FALSE, sizeof (int64_t));
  int64_t pos = 0;

  if (t >= n)
    {
      g_array_append_val (s, pos);
      return s;
    }
  for (;;)
    {
      g_array_append_val (s, pos);
      if (pos + t >= n)
        break;
      pos = MIN (pos + t - o, n - t);
    }
  return s;
}

/* Blend weight of a pixel at distance d from a tile edge that borders
 * another tile (ramp over r pixels), 1 at image borders. */
static float
ramp (int64_t d, int64_t r, gboolean inner)
{
  if (!inner || r <= 0 || d >= r)
    return 1.0f;
  return ((float) d + 0.5f) / (float) r;
}

typedef gboolean (*TileFunc) (DfVae *v, DfCmd *cmd, DfTensor *out, const DfTensor *in,
                              GError **error);

/* Runs fn over tiles of in [cin, ih, iw] (host, one batch entry) giving
 * out [cout, ih·num/den, iw·num/den]; t and o are in input pixels. */
static gboolean
run_tiled (DfVae *v, DfCmd *cmd, TileFunc fn, const float *in, int64_t cin, int64_t ih,
           int64_t iw, int64_t cout, int64_t num, int64_t den, int64_t t, int64_t o,
           float *out, GError **error)
{
  int64_t oh = ih * num / den, ow = iw * num / den;
  int64_t th = MIN (t, ih), tw = MIN (t, iw);
  g_autoptr (GArray) ys = tile_starts (ih, th, o);
  g_autoptr (GArray) xs = tile_starts (iw, tw, o);
  g_autofree float *acc = g_try_new0 (float, cout * oh * ow);
  g_autofree float *wsum = g_try_new0 (float, oh * ow);
  g_autofree float *tile_in = g_try_new (float, cin * th * tw);
  g_autofree float *tile_out = g_try_new (float, cout * (th * num / den) * (tw * num / den));
  g_autoptr (DfTensor) in_t = NULL;
  g_autoptr (DfTensor) out_t = NULL;
  int64_t toh = th * num / den, tow = tw * num / den, r = o * num / den;

  if (!acc || !wsum || !tile_in || !tile_out)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_OUT_OF_DEVICE_MEMORY,
                   "Out of host memory for a %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " image",
                   ow, oh);
      return FALSE;
    }
  in_t = df_tensor_new4 (v->ctx, v->w->dtype, 1, cin, th, tw, error);
  out_t = in_t ? df_tensor_new4 (v->ctx, v->w->dtype, 1, cout, toh, tow, error) : NULL;
  if (out_t == NULL)
    return FALSE;

  for (guint yi = 0; yi < ys->len; yi++)
    for (guint xi = 0; xi < xs->len; xi++)
      {
        int64_t y0 = g_array_index (ys, int64_t, yi), x0 = g_array_index (xs, int64_t, xi);
        int64_t oy0 = y0 * num / den, ox0 = x0 * num / den;

        for (int64_t c = 0; c < cin; c++)
          for (int64_t y = 0; y < th; y++)
            memcpy (tile_in + (c * th + y) * tw, in + (c * ih + y0 + y) * iw + x0,
                    sizeof (float) * (size_t) tw);
        if (!df_tensor_upload_f32 (in_t, tile_in, cin * th * tw, error)
            || !fn (v, cmd, out_t, in_t, error) || !df_cmd_submit_wait (cmd, error)
            || !df_tensor_download_f32 (out_t, tile_out, cout * toh * tow, error))
          return FALSE;

        for (int64_t y = 0; y < toh; y++)
          {
            float wy = MIN (ramp (y, r, yi > 0), ramp (toh - 1 - y, r, yi + 1 < ys->len));
            for (int64_t x = 0; x < tow; x++)
              {
                float wx = MIN (ramp (x, r, xi > 0), ramp (tow - 1 - x, r, xi + 1 < xs->len));
                float wgt = wy * wx;
                int64_t p = (oy0 + y) * ow + ox0 + x;
                wsum[p] += wgt;
                for (int64_t c = 0; c < cout; c++)
                  acc[c * oh * ow + p] += wgt * tile_out[(c * toh + y) * tow + x];
              }
          }
      }
  for (int64_t c = 0; c < cout; c++)
    for (int64_t p = 0; p < oh * ow; p++)
      out[c * oh * ow + p] = acc[c * oh * ow + p] / wsum[p];
  return TRUE;
}

gboolean
df_vae_decode_host (DfVae *v, DfCmd *cmd, const float *latent, int64_t h, int64_t w, int tile,
                    float *image, GError **error)
{
  const DfVAEConfig *c = &v->config;
  int64_t f = (int64_t) 1 << (c->n_blocks - 1);

  if (tile < 0)
    tile = df_vae_choose_tile (v, h, w);
  if (tile == 0)
    tile = (int) MAX (h, w);
  return run_tiled (v, cmd, df_vae_decode, latent, c->latent_channels, h, w, c->out_channels,
                    f, 1, tile, MIN (tile / 4, 8), image, error);
}

gboolean
df_vae_encode_host (DfVae *v, DfCmd *cmd, const float *image, int64_t h, int64_t w, int tile,
                    float *moments, GError **error)
{
  const DfVAEConfig *c = &v->config;
  int64_t f = (int64_t) 1 << (c->n_blocks - 1);

  if (h % f || w % f)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "VAE encoder: %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " is not a multiple of %" G_GINT64_FORMAT, w, h, f);
      return FALSE;
    }
  if (tile < 0)
    tile = df_vae_choose_tile (v, h / f, w / f);
  if (tile == 0)
    tile = (int) MAX (h, w) / (int) f;
  /* tiles and overlap in image pixels, multiples of f */
  return run_tiled (v, cmd, df_vae_encode, image, c->in_channels, h, w, 2 * c->latent_channels,
                    1, f, tile * f, MIN (tile / 4, 8) * f, moments, error);
}
