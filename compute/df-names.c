/* df-names.c — checkpoint key names mapped onto the internal naming
 * (diffusers' names, prefixed by the component), as data tables.
 *
 * A table is a list of rules tried in order; the first whose pattern
 * matches (and whose index arithmetic accepts the numbers) decides.
 *
 * Patterns:  "{}" matches a decimal number (no leading zeros) and captures
 *            it; a trailing "*" matches the non-empty rest of the key.
 * Targets:   "{}" writes the next computed number; "*" writes the rest,
 *            first mapped through the rule's sub-table when it has one;
 *            "#" becomes q, k and v (three names, for a fused q/k/v split).
 *            A NULL target means the key is known and ignored.
 *
 * Index arithmetic: each capture, in order, goes through one row of
 * index_rules below: n' = mul·n + add must lie in [min, max]; with a
 * divisor d, q = n' / d is written, then r = n' % d when `emit` says so,
 * and r must lie in [rmin, rmax].  SD's UNet has three slots per level
 * (two resnets, or two resnets + attentions, then a down/upsampler), so
 * input_blocks.n is down_blocks.(n−1)/3 slot (n−1)%3, and output_blocks.n
 * is up_blocks.n/3 slot n%3.  The VAE decoder's up.n is up_blocks.(3−n). */
#include <string.h>

#include "df.h"

typedef enum
{
  EMIT_VALUE,    /* n' */
  EMIT_QUOT,     /* n' / d */
  EMIT_QUOT_REM, /* n' / d, n' % d */
  EMIT_NONE,     /* checked, not written */
} Emit;

typedef enum
{
  IX_SAME,        /* n → n */
  IX_DOWN,        /* input_blocks.n → down_blocks.(n−1)/3 .resnets/.attentions.(n−1)%3 */
  IX_DOWN_SAMPLE, /* input_blocks.n (slot 2) → down_blocks.(n−1)/3 .downsamplers.0 */
  IX_UP,          /* output_blocks.n → up_blocks.n/3 .resnets/.attentions.n%3 */
  IX_UP_SAMPLE,   /* output_blocks.n (slot 2) → up_blocks.n/3 .upsamplers.0 */
  IX_ONE_OR_TWO,  /* the upsampler's position after the resnet (and attention) */
  IX_REVERSE4,    /* VAE decoder up.n → up_blocks.3−n */
} IndexRule;

static const struct
{
  int mul, add, min, max;
  int div, rmin, rmax;
  Emit emit;
} index_rules[] = {
  /*                 mul add min max       div rmin rmax emit */
  [IX_SAME]        = { 1, 0, 0, G_MAXINT, 0, 0, 0, EMIT_VALUE },
  [IX_DOWN]        = { 1, -1, 0, G_MAXINT, 3, 0, 1, EMIT_QUOT_REM },
  [IX_DOWN_SAMPLE] = { 1, -1, 0, G_MAXINT, 3, 2, 2, EMIT_QUOT },
  [IX_UP]          = { 1, 0, 0, G_MAXINT, 3, 0, 2, EMIT_QUOT_REM },
  [IX_UP_SAMPLE]   = { 1, 0, 0, G_MAXINT, 3, 2, 2, EMIT_QUOT },
  [IX_ONE_OR_TWO]  = { 1, 0, 1, 2, 0, 0, 0, EMIT_NONE },
  [IX_REVERSE4]    = { -1, 3, 0, 3, 0, 0, 0, EMIT_VALUE },
};

typedef struct NameTable NameTable;

typedef struct
{
  const char *from;
  const char *to;          /* NULL: ignored */
  IndexRule index[2];      /* per capture, in order (IX_SAME = 0 by default) */
  const NameTable *sub;    /* maps the rest; NULL copies it */
  DfTransform transform;
} NameRule;

struct NameTable
{
  const NameRule *rules;
  size_t n;
};

#define TABLE(rules) { rules, G_N_ELEMENTS (rules) }

/* --- UNet (model.diffusion_model.*) --- */

static const NameRule unet_resnet_rules[] = {
  { "in_layers.0.*", "norm1.*" },
  { "in_layers.2.*", "conv1.*" },
  { "emb_layers.1.*", "time_emb_proj.*" },
  { "out_layers.0.*", "norm2.*" },
  { "out_layers.3.*", "conv2.*" },
  { "skip_connection.*", "conv_shortcut.*" },
};
static const NameTable unet_resnet = TABLE (unet_resnet_rules);

static const NameRule unet_rules[] = {
  { "time_embed.0.*", "time_embedding.linear_1.*" },
  { "time_embed.2.*", "time_embedding.linear_2.*" },
  { "input_blocks.0.0.*", "conv_in.*" },
  { "input_blocks.{}.0.op.*", "down_blocks.{}.downsamplers.0.conv.*", { IX_DOWN_SAMPLE } },
  { "input_blocks.{}.0.*", "down_blocks.{}.resnets.{}.*", { IX_DOWN }, &unet_resnet },
  { "input_blocks.{}.1.*", "down_blocks.{}.attentions.{}.*", { IX_DOWN } },
  { "middle_block.0.*", "mid_block.resnets.0.*", { IX_SAME }, &unet_resnet },
  { "middle_block.1.*", "mid_block.attentions.0.*" },
  { "middle_block.2.*", "mid_block.resnets.1.*", { IX_SAME }, &unet_resnet },
  /* before the attentions: output_blocks.2.1.conv is an upsampler */
  { "output_blocks.{}.{}.conv.*", "up_blocks.{}.upsamplers.0.conv.*",
    { IX_UP_SAMPLE, IX_ONE_OR_TWO } },
  { "output_blocks.{}.0.*", "up_blocks.{}.resnets.{}.*", { IX_UP }, &unet_resnet },
  { "output_blocks.{}.1.*", "up_blocks.{}.attentions.{}.*", { IX_UP } },
  { "out.0.*", "conv_norm_out.*" },
  { "out.2.*", "conv_out.*" },
};
static const NameTable unet = TABLE (unet_rules);

/* --- VAE (first_stage_model.*) --- */

static const NameRule vae_resnet_rules[] = {
  { "nin_shortcut.*", "conv_shortcut.*" },
  { "norm1.*", "norm1.*" },
  { "conv1.*", "conv1.*" },
  { "norm2.*", "norm2.*" },
  { "conv2.*", "conv2.*" },
};
static const NameTable vae_resnet = TABLE (vae_resnet_rules);

/* Encoder and decoder share these; the attention's q, k, v, proj_out are
 * 1×1 convolutions in the file and linear layers in diffusers. */
static const NameRule vae_coder_rules[] = {
  { "conv_in.*", "conv_in.*" },
  { "conv_out.*", "conv_out.*" },
  { "norm_out.*", "conv_norm_out.*" },
  { "down.{}.block.{}.*", "down_blocks.{}.resnets.{}.*", { IX_SAME }, &vae_resnet },
  { "down.{}.downsample.conv.*", "down_blocks.{}.downsamplers.0.conv.*" },
  { "up.{}.block.{}.*", "up_blocks.{}.resnets.{}.*", { IX_REVERSE4, IX_SAME }, &vae_resnet },
  { "up.{}.upsample.conv.*", "up_blocks.{}.upsamplers.0.conv.*", { IX_REVERSE4 } },
  { "mid.block_1.*", "mid_block.resnets.0.*", { IX_SAME }, &vae_resnet },
  { "mid.block_2.*", "mid_block.resnets.1.*", { IX_SAME }, &vae_resnet },
  { "mid.attn_1.norm.*", "mid_block.attentions.0.group_norm.*" },
  { "mid.attn_1.q.weight", "mid_block.attentions.0.to_q.weight", { IX_SAME }, NULL,
    DF_TRANSFORM_CONV_TO_LINEAR },
  { "mid.attn_1.k.weight", "mid_block.attentions.0.to_k.weight", { IX_SAME }, NULL,
    DF_TRANSFORM_CONV_TO_LINEAR },
  { "mid.attn_1.v.weight", "mid_block.attentions.0.to_v.weight", { IX_SAME }, NULL,
    DF_TRANSFORM_CONV_TO_LINEAR },
  { "mid.attn_1.proj_out.weight", "mid_block.attentions.0.to_out.0.weight", { IX_SAME }, NULL,
    DF_TRANSFORM_CONV_TO_LINEAR },
  { "mid.attn_1.q.bias", "mid_block.attentions.0.to_q.bias" },
  { "mid.attn_1.k.bias", "mid_block.attentions.0.to_k.bias" },
  { "mid.attn_1.v.bias", "mid_block.attentions.0.to_v.bias" },
  { "mid.attn_1.proj_out.bias", "mid_block.attentions.0.to_out.0.bias" },
};
static const NameTable vae_coder = TABLE (vae_coder_rules);

static const NameRule vae_rules[] = {
  { "encoder.*", "encoder.*", { IX_SAME }, &vae_coder },
  { "decoder.*", "decoder.*", { IX_SAME }, &vae_coder },
  { "quant_conv.*", "quant_conv.*" },
  { "post_quant_conv.*", "post_quant_conv.*" },
  { "loss.*", NULL }, /* training loss (LPIPS) weights in some files */
};
static const NameTable vae = TABLE (vae_rules);

/* --- text encoders --- */

/* CLIP (SD 1.x): already transformers' names. */
static const NameRule clip_rules[] = {
  { "embeddings.position_ids", NULL }, /* an I64 buffer, not a weight */
  { "*", "*" },
};
static const NameTable clip = TABLE (clip_rules);

/* OpenCLIP (SD 2.x): one resblock of cond_stage_model.model.transformer. */
static const NameRule openclip_block_rules[] = {
  { "attn.in_proj_weight", "self_attn.#_proj.weight", { IX_SAME }, NULL, DF_TRANSFORM_SPLIT_QKV },
  { "attn.in_proj_bias", "self_attn.#_proj.bias", { IX_SAME }, NULL, DF_TRANSFORM_SPLIT_QKV },
  { "attn.out_proj.*", "self_attn.out_proj.*" },
  { "ln_1.*", "layer_norm1.*" },
  { "ln_2.*", "layer_norm2.*" },
  { "mlp.c_fc.*", "mlp.fc1.*" },
  { "mlp.c_proj.*", "mlp.fc2.*" },
};
static const NameTable openclip_block = TABLE (openclip_block_rules);

static const NameRule openclip_rules[] = {
  { "token_embedding.weight", "embeddings.token_embedding.weight" },
  { "positional_embedding", "embeddings.position_embedding.weight" },
  { "transformer.resblocks.{}.*", "encoder.layers.{}.*", { IX_SAME }, &openclip_block },
  { "ln_final.*", "final_layer_norm.*" },
  /* what the pipeline does not use (diffusers drops them as well) */
  { "text_projection", NULL },
  { "logit_scale", NULL },
  { "attn_mask", NULL },
  { "visual.*", NULL },
};
static const NameTable openclip = TABLE (openclip_rules);

/* --- the original single-file layout --- */

static const NameRule original_rules[] = {
  { "model.diffusion_model.*", "unet.*", { IX_SAME }, &unet },
  { "first_stage_model.*", "vae.*", { IX_SAME }, &vae },
  { "cond_stage_model.transformer.text_model.*", "text_encoder.text_model.*", { IX_SAME }, &clip },
  /* files saved with transformers < 4.20 lack the text_model level */
  { "cond_stage_model.transformer.*", "text_encoder.text_model.*", { IX_SAME }, &clip },
  { "cond_stage_model.model.*", "text_encoder.text_model.*", { IX_SAME }, &openclip },
  /* EMA copies and the training schedule's buffers */
  { "model_ema.*", NULL },
  { "betas", NULL },
  { "alphas_cumprod", NULL },
  { "alphas_cumprod_prev", NULL },
  { "sqrt_alphas_cumprod", NULL },
  { "sqrt_one_minus_alphas_cumprod", NULL },
  { "log_one_minus_alphas_cumprod", NULL },
  { "sqrt_recip_alphas_cumprod", NULL },
  { "sqrt_recipm1_alphas_cumprod", NULL },
  { "posterior_variance", NULL },
  { "posterior_log_variance_clipped", NULL },
  { "posterior_mean_coef1", NULL },
  { "posterior_mean_coef2", NULL },
  { "logvar", NULL },
  { "lvlb_weights", NULL },
};
static const NameTable original = TABLE (original_rules);

/* --- diffusers folders: the names are ours already, but older VAEs used
 * query/key/value/proj_attn for the attention --- */

static const NameRule diffusers_unet_rules[] = {
  { "*", "unet.*" },
};
static const NameTable diffusers_unet = TABLE (diffusers_unet_rules);

static const NameRule vae_legacy_attention_rules[] = {
  { "query.*", "to_q.*" },
  { "key.*", "to_k.*" },
  { "value.*", "to_v.*" },
  { "proj_attn.*", "to_out.0.*" },
  { "*", "*" },
};
static const NameTable vae_legacy_attention = TABLE (vae_legacy_attention_rules);

static const NameRule diffusers_vae_rules[] = {
  { "encoder.mid_block.attentions.0.*", "vae.encoder.mid_block.attentions.0.*", { IX_SAME },
    &vae_legacy_attention },
  { "decoder.mid_block.attentions.0.*", "vae.decoder.mid_block.attentions.0.*", { IX_SAME },
    &vae_legacy_attention },
  { "*", "vae.*" },
};
static const NameTable diffusers_vae = TABLE (diffusers_vae_rules);

static const NameRule diffusers_text_rules[] = {
  { "text_model.embeddings.position_ids", NULL },
  { "embeddings.position_ids", NULL },
  { "text_projection.*", NULL }, /* CLIPTextModelWithProjection */
  { "text_model.*", "text_encoder.text_model.*" },
  /* transformers ≥ 5 may save without the text_model level */
  { "*", "text_encoder.text_model.*" },
};
static const NameTable diffusers_text = TABLE (diffusers_text_rules);

/* ------------------------------------------------------------------------
 * The engine
 * ------------------------------------------------------------------------ */

#define MAX_CAPTURES 2

/* Matches @key against @pattern; on success fills the captures and points
 * @rest at what "*" matched ("" when the pattern has no "*"). */
static gboolean
match (const char *pattern, const char *key, int *caps, int *n_caps, const char **rest)
{
  const char *p = pattern, *k = key;

  *n_caps = 0;
  *rest = "";
  while (*p != '\0')
    {
      if (p[0] == '{' && p[1] == '}')
        {
          int64_t v = 0;
          int digits = 0;

          if (!g_ascii_isdigit (*k) || *n_caps == MAX_CAPTURES)
            return FALSE;
          if (k[0] == '0' && g_ascii_isdigit (k[1]))
            return FALSE; /* no leading zeros: "01" is not block 1 */
          while (g_ascii_isdigit (*k))
            {
              if (++digits > 6)
                return FALSE;
              v = v * 10 + (*k++ - '0');
            }
          caps[(*n_caps)++] = (int) v;
          p += 2;
        }
      else if (p[0] == '*' && p[1] == '\0')
        {
          if (*k == '\0')
            return FALSE;
          *rest = k;
          return TRUE;
        }
      else if (*p == *k)
        p++, k++;
      else
        return FALSE;
    }
  return *k == '\0';
}

/* Runs the captures through the rule's index arithmetic. */
static gboolean
compute_indices (const NameRule *rule, const int *caps, int n_caps, int *outs, int *n_outs)
{
  *n_outs = 0;
  for (int i = 0; i < n_caps; i++)
    {
      int v = index_rules[rule->index[i]].mul * caps[i] + index_rules[rule->index[i]].add;
      int d = index_rules[rule->index[i]].div;

      if (v < index_rules[rule->index[i]].min || v > index_rules[rule->index[i]].max)
        return FALSE;
      if (d > 0 && (v % d < index_rules[rule->index[i]].rmin
                    || v % d > index_rules[rule->index[i]].rmax))
        return FALSE;
      switch (index_rules[rule->index[i]].emit)
        {
        case EMIT_VALUE:
          outs[(*n_outs)++] = v;
          break;
        case EMIT_QUOT:
          outs[(*n_outs)++] = v / d;
          break;
        case EMIT_QUOT_REM:
          outs[(*n_outs)++] = v / d;
          outs[(*n_outs)++] = v % d;
          break;
        case EMIT_NONE:
          break;
        }
    }
  return TRUE;
}

static DfNameResult
map_with (const NameTable *table, const char *key, GString *out, DfTransform *transform)
{
  for (size_t r = 0; r < table->n; r++)
    {
      const NameRule *rule = &table->rules[r];
      int caps[MAX_CAPTURES], outs[2 * MAX_CAPTURES];
      int n_caps, n_outs, next = 0;
      const char *rest;
      g_autoptr (GString) sub = NULL;

      if (!match (rule->from, key, caps, &n_caps, &rest)
          || !compute_indices (rule, caps, n_caps, outs, &n_outs))
        continue;
      if (rule->to == NULL)
        return DF_NAME_IGNORED;
      if (rule->sub != NULL && *rest != '\0')
        {
          DfNameResult result;

          sub = g_string_new (NULL);
          result = map_with (rule->sub, rest, sub, transform);
          if (result != DF_NAME_MAPPED)
            return result;
        }
      for (const char *t = rule->to; *t != '\0'; t++)
        {
          if (t[0] == '{' && t[1] == '}')
            {
              g_assert (next < n_outs);
              g_string_append_printf (out, "%d", outs[next++]);
              t++;
            }
          else if (*t == '*')
            g_string_append (out, sub != NULL ? sub->str : rest);
          else
            g_string_append_c (out, *t);
        }
      if (rule->transform != DF_TRANSFORM_NONE)
        *transform = rule->transform;
      return DF_NAME_MAPPED;
    }
  return DF_NAME_UNKNOWN;
}

DfNameResult
df_names_map (DfLayout layout, const char *key, char *out[3], int *n_out,
              DfTransform *transform)
{
  static const NameTable *const layouts[] = {
    [DF_LAYOUT_ORIGINAL] = &original,
    [DF_LAYOUT_DIFFUSERS_UNET] = &diffusers_unet,
    [DF_LAYOUT_DIFFUSERS_VAE] = &diffusers_vae,
    [DF_LAYOUT_DIFFUSERS_TEXT] = &diffusers_text,
  };
  g_autoptr (GString) name = g_string_new (NULL);
  DfTransform tr = DF_TRANSFORM_NONE;
  DfNameResult result;

  g_return_val_if_fail ((unsigned) layout < G_N_ELEMENTS (layouts), DF_NAME_UNKNOWN);
  if (n_out != NULL)
    *n_out = 0;
  if (transform != NULL)
    *transform = DF_TRANSFORM_NONE;
  result = map_with (layouts[layout], key, name, &tr);
  if (result != DF_NAME_MAPPED)
    return result;

  if (tr == DF_TRANSFORM_SPLIT_QKV)
    {
      static const char *const parts[] = { "q", "k", "v" };
      const char *hash = strchr (name->str, '#');

      g_assert (hash != NULL);
      for (int i = 0; i < 3; i++)
        out[i] = g_strdup_printf ("%.*s%s%s", (int) (hash - name->str), name->str, parts[i],
                                  hash + 1);
      if (n_out != NULL)
        *n_out = 3;
    }
  else
    {
      out[0] = g_string_free (g_steal_pointer (&name), FALSE);
      if (n_out != NULL)
        *n_out = 1;
    }
  if (transform != NULL)
    *transform = tr;
  return DF_NAME_MAPPED;
}

const char *
df_transform_name (DfTransform transform)
{
  switch (transform)
    {
    case DF_TRANSFORM_NONE:
      return "none";
    case DF_TRANSFORM_CONV_TO_LINEAR:
      return "conv-to-linear";
    case DF_TRANSFORM_SPLIT_QKV:
      return "split-qkv";
    default:
      return "?";
    }
}
