/* df-test-model.h — writers of small safetensors files, fake checkpoints in
 * both layouts, and a corpus of malformed files, for test-safetensors,
 * test-model and test-cli-inspect.  Header-only (static functions), so each
 * test stays one source file. */
#pragma once

#include <glib/gstdio.h>
#include <string.h>

#include "df.h"

/* ------------------------------------------------------------------------
 * A minimal safetensors writer
 * ------------------------------------------------------------------------ */

typedef struct
{
  GString *header; /* the JSON members so far, without braces */
  GByteArray *data;
  GString *metadata;
} TestSt;

static inline TestSt *
test_st_new (void)
{
  TestSt *w = g_new0 (TestSt, 1);

  w->header = g_string_new (NULL);
  w->data = g_byte_array_new ();
  w->metadata = g_string_new (NULL);
  return w;
}

static inline void
test_st_free (TestSt *w)
{
  g_string_free (w->header, TRUE);
  g_byte_array_unref (w->data);
  g_string_free (w->metadata, TRUE);
  g_free (w);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestSt, test_st_free)

/* Adds raw bytes under any dtype name and shape. */
static inline void
test_st_add_raw (TestSt *w, const char *name, const char *dtype, int ndim, const int64_t *shape,
                 const void *bytes, size_t nbytes)
{
  if (w->header->len > 0)
    g_string_append_c (w->header, ',');
  g_string_append_printf (w->header, "\"%s\":{\"dtype\":\"%s\",\"shape\":[", name, dtype);
  for (int i = 0; i < ndim; i++)
    g_string_append_printf (w->header, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  g_string_append_printf (w->header, "],\"data_offsets\":[%u,%u]}", w->data->len,
                          (unsigned) (w->data->len + nbytes));
  g_byte_array_append (w->data, bytes, (guint) nbytes);
}

/* Value i of a tensor's deterministic content. */
static inline float
test_st_value (int64_t i)
{
  return (float) ((i % 97) - 48) * 0.25f;
}

/* Adds a tensor of deterministic values (test_st_value) stored as dtype
 * "F32", "F16", "BF16" (bf16 = the top half of f32; the values are exact)
 * or "I64". */
static inline void
test_st_add (TestSt *w, const char *name, const char *dtype, int ndim, const int64_t *shape)
{
  int64_t n = 1;
  size_t elem;
  g_autofree uint8_t *buf = NULL;

  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  elem = strcmp (dtype, "F32") == 0 || strcmp (dtype, "I32") == 0 ? 4
         : strcmp (dtype, "I64") == 0                           ? 8
                                                                 : 2;
  buf = g_malloc0 (n * elem + 1);
  for (int64_t i = 0; i < n; i++)
    {
      float f = test_st_value (i);

      if (strcmp (dtype, "F32") == 0)
        memcpy (buf + 4 * i, &f, 4);
      else if (strcmp (dtype, "F16") == 0)
        {
          uint16_t h = df_f32_to_f16 (f);
          memcpy (buf + 2 * i, &h, 2);
        }
      else if (strcmp (dtype, "BF16") == 0)
        {
          uint32_t u;
          uint16_t b;

          memcpy (&u, &f, 4);
          b = (uint16_t) (u >> 16);
          memcpy (buf + 2 * i, &b, 2);
        }
      else if (strcmp (dtype, "I64") == 0)
        {
          int64_t v = i;
          memcpy (buf + 8 * i, &v, 8);
        }
    }
  test_st_add_raw (w, name, dtype, ndim, shape, buf, n * elem);
}

#define TEST_SHAPE(...) (sizeof ((int64_t[]) { __VA_ARGS__ }) / sizeof (int64_t)), \
                          ((int64_t[]) { __VA_ARGS__ })

static inline void
test_st_metadata (TestSt *w, const char *key, const char *value)
{
  if (w->metadata->len > 0)
    g_string_append_c (w->metadata, ',');
  g_string_append_printf (w->metadata, "\"%s\":\"%s\"", key, value);
}

/* The file's bytes: length, JSON padded with spaces to 8 bytes, data. */
static inline GBytes *
test_st_bytes (TestSt *w)
{
  g_autoptr (GString) json = g_string_new ("{");
  GByteArray *out = g_byte_array_new ();
  uint64_t len;

  if (w->metadata->len > 0)
    g_string_append_printf (json, "\"__metadata__\":{%s}%s", w->metadata->str,
                            w->header->len > 0 ? "," : "");
  g_string_append_len (json, w->header->str, w->header->len);
  g_string_append_c (json, '}');
  while (json->len % 8 != 0)
    g_string_append_c (json, ' ');
  len = GUINT64_TO_LE (json->len);
  g_byte_array_append (out, (const guint8 *) &len, 8);
  g_byte_array_append (out, (const guint8 *) json->str, json->len);
  g_byte_array_append (out, w->data->data, w->data->len);
  return g_byte_array_free_to_bytes (out);
}

static inline void
test_write_bytes (const char *path, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  if (!g_file_set_contents (path, data, len, &error))
    g_error ("%s", error->message);
}

static inline void
test_st_write (TestSt *w, const char *path)
{
  g_autoptr (GBytes) bytes = test_st_bytes (w);

  test_write_bytes (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* A file of an 8-byte length followed by the given header text. */
static inline GBytes *
test_header_bytes (uint64_t len, const char *json, size_t json_len, size_t data_len)
{
  GByteArray *out = g_byte_array_new ();
  uint64_t le = GUINT64_TO_LE (len);
  g_autofree uint8_t *zeros = g_malloc0 (data_len + 1);

  g_byte_array_append (out, (const guint8 *) &le, 8);
  g_byte_array_append (out, (const guint8 *) json, (guint) json_len);
  g_byte_array_append (out, zeros, (guint) data_len);
  return g_byte_array_free_to_bytes (out);
}

/* ------------------------------------------------------------------------
 * Malformed files: each with the error code and a phrase the message must
 * hold.
 * ------------------------------------------------------------------------ */

typedef struct
{
  const char *name;
  const char *json; /* NULL: raw bytes given by `raw` */
  int64_t length;   /* header length to write; -1: the JSON's length */
  size_t data_len;  /* zero bytes after the header */
  const char *raw;  /* with json NULL: these bytes (raw_len of them) */
  size_t raw_len;
  DfError code;
  const char *phrase;
} TestBadCase;

#define T1 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static const TestBadCase test_bad_cases[] = {
  { "empty", NULL, 0, 0, "", 0, DF_ERROR_INVALID_MODEL, "empty file" },
  { "truncated-length", NULL, 0, 0, "\x10\x00\x00\x00", 4, DF_ERROR_INVALID_MODEL, "truncated" },
  { "length-beyond-file", "{}", 1000, 0, NULL, 0, DF_ERROR_INVALID_MODEL, "beyond the end" },
  { "header-too-big", "{}", 200 * 1024 * 1024, 0, NULL, 0, DF_ERROR_INVALID_MODEL, "too big" },
  { "header-huge-length", "{}", G_MAXINT64, 0, NULL, 0, DF_ERROR_INVALID_MODEL, "too big" },
  { "header-empty", "", 0, 0, NULL, 0, DF_ERROR_INVALID_MODEL, "too short" },
  { "bad-json", "{\"a\":", -1, 0, NULL, 0, DF_ERROR_INVALID_MODEL, "not valid JSON" },
  { "truncated-header", T1 "}", 20, 0, NULL, 0, DF_ERROR_INVALID_MODEL, "not valid JSON" },
  { "not-object", "[1,2]", -1, 0, NULL, 0, DF_ERROR_INVALID_MODEL, "not a JSON object" },
  { "tensor-not-object", "{\"a\":[1]}", -1, 0, NULL, 0, DF_ERROR_INVALID_MODEL,
    "is not a JSON object" },
  { "truncated-data", T1 "}", -1, 4, NULL, 0, DF_ERROR_INVALID_MODEL, "out of range" },
  { "offsets-out-of-range",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[100,108]}}", -1, 8, NULL, 0,
    DF_ERROR_INVALID_MODEL, "out of range" },
  { "offsets-begin-after-end",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", -1, 8, NULL, 0,
    DF_ERROR_INVALID_MODEL, "begin after" },
  { "offsets-negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", -1,
    8, NULL, 0, DF_ERROR_INVALID_MODEL, "non-negative" },
  { "offsets-three", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", -1,
    8, NULL, 0, DF_ERROR_INVALID_MODEL, "two integers" },
  { "overlapping",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
    -1, 16, NULL, 0, DF_ERROR_INVALID_MODEL, "overlap" },
  { "same-range",
    "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
    "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
    -1, 4, NULL, 0, DF_ERROR_INVALID_MODEL, "overlap" },
  { "wrong-byte-size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "does not match" },
  { "negative-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "not a non-negative integer" },
  { "float-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "not a non-negative integer" },
  { "string-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "not an array" },
  { "shape-overflow",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}",
    -1, 8, NULL, 0, DF_ERROR_INVALID_MODEL, "too large" },
  { "too-many-dims",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "dimensions" },
  { "duplicate-names",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
    -1, 16, NULL, 0, DF_ERROR_INVALID_MODEL, "duplicate tensor name “a”" },
  { "duplicate-member",
    "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "duplicate key" },
  { "unknown-dtype", "{\"a\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "unknown dtype “Q4_K”" },
  { "dtype-not-string", "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8,
    NULL, 0, DF_ERROR_INVALID_MODEL, "not a string" },
  { "unsupported-dtype", "{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", -1,
    8, NULL, 0, DF_ERROR_UNSUPPORTED_MODEL, "“ids” has dtype I64" },
  { "missing-dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0,
    DF_ERROR_INVALID_MODEL, "lacks “dtype”" },
  { "missing-offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", -1, 8, NULL, 0,
    DF_ERROR_INVALID_MODEL, "lacks “data_offsets”" },
  { "extra-member",
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", -1, 8, NULL, 0,
    DF_ERROR_INVALID_MODEL, "besides" },
  { "metadata-not-string", "{\"__metadata__\":{\"k\":1}}", -1, 0, NULL, 0,
    DF_ERROR_INVALID_MODEL, "__metadata__" },
  { "metadata-not-object", "{\"__metadata__\":[]}", -1, 0, NULL, 0, DF_ERROR_INVALID_MODEL,
    "__metadata__" },
  { "nul-in-header", NULL, 0, 0, "\x03\x00\x00\x00\x00\x00\x00\x00{\x00}", 11,
    DF_ERROR_INVALID_MODEL, "NUL" },
  { "not-utf8", NULL, 0, 0, "\x04\x00\x00\x00\x00\x00\x00\x00{\"\xff\"", 12,
    DF_ERROR_INVALID_MODEL, "UTF-8" },
};

static inline GBytes *
test_bad_case_bytes (const TestBadCase *c)
{
  if (c->json == NULL)
    return g_bytes_new (c->raw, c->raw_len);
  return test_header_bytes (c->length >= 0 ? (uint64_t) c->length : strlen (c->json), c->json,
                            strlen (c->json), c->data_len);
}

/* ------------------------------------------------------------------------
 * Fake checkpoints: the key names of the real layouts with tiny shapes,
 * except where detection reads a width (context 768/1024, text width).
 * Channels per level: 8, 16, 32, 32.
 * ------------------------------------------------------------------------ */

typedef struct
{
  gboolean sd2;      /* OpenCLIP text encoder, 1024 context, linear proj_in */
  int in_channels;   /* 4 or 9 */
  const char *dtype; /* "F32", "F16", "BF16" */
  gboolean ema;      /* add model_ema.* and schedule buffers */
  gboolean sdxl;     /* add conditioner.embedders.1.* */
  const char *v_metadata; /* __metadata__ "prediction_type", or NULL */
} TestCkpt;

static inline void
test_ckpt_write (const TestCkpt *c, const char *path)
{
  g_autoptr (TestSt) w = test_st_new ();
  const char *d = c->dtype;
  const char *u = "model.diffusion_model.";
  int ctx = c->sd2 ? 1024 : 768;
  char name[256];

#define U(key, ...) (g_snprintf (name, sizeof name, "%s%s", u, key), \
                     test_st_add (w, name, d, TEST_SHAPE (__VA_ARGS__)))
  U ("input_blocks.0.0.weight", 8, c->in_channels, 3, 3);
  U ("input_blocks.0.0.bias", 8);
  U ("time_embed.0.weight", 32, 8);
  U ("time_embed.2.weight", 32, 32);
  U ("input_blocks.1.0.in_layers.0.weight", 8);
  U ("input_blocks.1.0.in_layers.2.weight", 8, 8, 3, 3);
  U ("input_blocks.1.0.emb_layers.1.weight", 8, 32);
  U ("input_blocks.1.0.out_layers.3.weight", 8, 8, 3, 3);
  U ("input_blocks.2.0.in_layers.2.weight", 8, 8, 3, 3);
  if (c->sd2)
    U ("input_blocks.1.1.proj_in.weight", 8, 8);
  else
    U ("input_blocks.1.1.proj_in.weight", 8, 8, 1, 1);
  U ("input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", 8, ctx);
  U ("input_blocks.3.0.op.weight", 8, 8, 3, 3);
  U ("input_blocks.4.0.in_layers.2.weight", 16, 8, 3, 3);
  U ("input_blocks.4.0.skip_connection.weight", 16, 8, 1, 1);
  U ("input_blocks.7.0.in_layers.2.weight", 32, 16, 3, 3);
  U ("input_blocks.10.0.in_layers.2.weight", 32, 32, 3, 3);
  U ("input_blocks.11.0.in_layers.2.weight", 32, 32, 3, 3);
  U ("middle_block.0.in_layers.0.weight", 32);
  if (c->sd2)
    U ("middle_block.1.proj_in.weight", 32, 32);
  else
    U ("middle_block.1.proj_in.weight", 32, 32, 1, 1);
  U ("middle_block.1.transformer_blocks.0.attn2.to_k.weight", 32, ctx);
  U ("middle_block.2.out_layers.3.weight", 32, 32, 3, 3);
  U ("output_blocks.0.0.in_layers.2.weight", 32, 64, 3, 3);
  U ("output_blocks.2.1.conv.weight", 32, 32, 3, 3);
  U ("output_blocks.3.1.proj_in.weight", 32, 32, 1, 1);
  U ("output_blocks.5.2.conv.weight", 32, 32, 3, 3);
  U ("output_blocks.11.1.proj_out.weight", 8, 8, 1, 1);
  U ("out.0.weight", 8);
  U ("out.2.weight", 4, 8, 3, 3);
#undef U

#define V(key, ...) (g_snprintf (name, sizeof name, "first_stage_model.%s", key), \
                     test_st_add (w, name, d, TEST_SHAPE (__VA_ARGS__)))
  V ("encoder.conv_in.weight", 8, 3, 3, 3);
  V ("encoder.down.0.block.0.conv1.weight", 8, 8, 3, 3);
  V ("encoder.down.0.block.1.conv1.weight", 8, 8, 3, 3);
  V ("encoder.down.0.downsample.conv.weight", 8, 8, 3, 3);
  V ("encoder.down.1.block.0.conv1.weight", 16, 8, 3, 3);
  V ("encoder.down.1.block.0.nin_shortcut.weight", 16, 8, 1, 1);
  V ("encoder.down.2.block.0.conv1.weight", 32, 16, 3, 3);
  V ("encoder.down.3.block.0.conv1.weight", 32, 32, 3, 3);
  V ("encoder.mid.block_1.norm1.weight", 32);
  V ("encoder.mid.attn_1.norm.weight", 32);
  V ("encoder.mid.attn_1.q.weight", 32, 32, 1, 1);
  V ("encoder.mid.attn_1.q.bias", 32);
  V ("encoder.mid.attn_1.proj_out.weight", 32, 32, 1, 1);
  V ("encoder.norm_out.weight", 32);
  V ("encoder.conv_out.weight", 8, 32, 3, 3);
  V ("quant_conv.weight", 8, 8, 1, 1);
  V ("post_quant_conv.weight", 4, 4, 1, 1);
  V ("decoder.conv_in.weight", 32, 4, 3, 3);
  V ("decoder.mid.block_2.conv2.weight", 32, 32, 3, 3);
  V ("decoder.mid.attn_1.v.weight", 32, 32, 1, 1);
  V ("decoder.up.3.block.0.conv1.weight", 32, 32, 3, 3);
  V ("decoder.up.3.upsample.conv.weight", 32, 32, 3, 3);
  V ("decoder.up.0.block.2.conv1.weight", 8, 8, 3, 3);
  V ("decoder.up.0.block.0.nin_shortcut.weight", 8, 16, 1, 1);
  V ("decoder.norm_out.weight", 8);
  V ("decoder.conv_out.weight", 3, 8, 3, 3);
#undef V

  if (!c->sd2)
    {
      const char *t = "cond_stage_model.transformer.text_model.";
#define T(key, ...) (g_snprintf (name, sizeof name, "%s%s", t, key), \
                     test_st_add (w, name, d, TEST_SHAPE (__VA_ARGS__)))
      T ("embeddings.token_embedding.weight", 16, 768);
      T ("embeddings.position_embedding.weight", 77, 768);
      for (int i = 0; i < 2; i++)
        {
          char layer[128];

          g_snprintf (layer, sizeof layer, "encoder.layers.%d.layer_norm1.weight", i);
          T (layer, 768);
          g_snprintf (layer, sizeof layer, "encoder.layers.%d.mlp.fc1.weight", i);
          T (layer, 8, 768);
        }
      T ("final_layer_norm.weight", 768);
#undef T
      test_st_add (w, "cond_stage_model.transformer.text_model.embeddings.position_ids", "I64",
                   TEST_SHAPE (1, 77));
    }
  else
    {
      const char *t = "cond_stage_model.model.";
#define T(key, ...) (g_snprintf (name, sizeof name, "%s%s", t, key), \
                     test_st_add (w, name, d, TEST_SHAPE (__VA_ARGS__)))
      T ("token_embedding.weight", 16, 1024);
      T ("positional_embedding", 77, 1024);
      for (int i = 0; i < 3; i++)
        {
          char layer[128];

          g_snprintf (layer, sizeof layer, "transformer.resblocks.%d.attn.in_proj_weight", i);
          T (layer, 12, 1024);
          g_snprintf (layer, sizeof layer, "transformer.resblocks.%d.attn.in_proj_bias", i);
          T (layer, 12);
          g_snprintf (layer, sizeof layer, "transformer.resblocks.%d.ln_1.weight", i);
          T (layer, 1024);
          g_snprintf (layer, sizeof layer, "transformer.resblocks.%d.mlp.c_fc.weight", i);
          T (layer, 8, 1024);
        }
      T ("ln_final.weight", 1024);
      T ("text_projection", 1024, 4);
      test_st_add (w, "cond_stage_model.model.logit_scale", d, 0, NULL);
#undef T
    }

  if (c->ema)
    {
      test_st_add (w, "model_ema.decay", "F32", 0, NULL);
      test_st_add (w, "model_ema.num_updates", "I64", 0, NULL);
      test_st_add (w, "model_ema.diffusion_modelinput_blocks00weight", d,
                   TEST_SHAPE (8, c->in_channels, 3, 3));
      test_st_add (w, "alphas_cumprod", "F32", TEST_SHAPE (1000));
      test_st_add (w, "betas", "F32", TEST_SHAPE (1000));
    }
  if (c->sdxl)
    test_st_add (w, "conditioner.embedders.1.model.ln_final.weight", d, TEST_SHAPE (16));
  if (c->v_metadata != NULL)
    test_st_metadata (w, "prediction_type", c->v_metadata);
  test_st_write (w, path);
}

/* A diffusers folder with the same tiny content. */
typedef struct
{
  gboolean sd2;
  int in_channels;
  gboolean fp16_variant;   /* weights in NAME.fp16.safetensors */
  gboolean v_prediction;
  gboolean sdxl;           /* model_index lists text_encoder_2 */
  gboolean legacy_vae;     /* VAE attention named query/key/value/proj_attn */
  gboolean pickle_unet;    /* unet weights as a .bin pickle only */
} TestFolder;

static inline void
test_write_text (const char *dir, const char *file, const char *text)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);

  test_write_bytes (path, text, strlen (text));
}

static inline void
test_folder_write (const TestFolder *f, const char *root)
{
  const char *d = f->fp16_variant ? "F16" : "F32";
  const char *wname = f->fp16_variant ? "diffusion_pytorch_model.fp16.safetensors"
                                      : "diffusion_pytorch_model.safetensors";
  g_autofree char *unet = g_build_filename (root, "unet", NULL);
  g_autofree char *vae = g_build_filename (root, "vae", NULL);
  g_autofree char *text = g_build_filename (root, "text_encoder", NULL);
  g_autofree char *sched = g_build_filename (root, "scheduler", NULL);
  g_autofree char *tok = g_build_filename (root, "tokenizer", NULL);
  g_autofree char *config = NULL;
  int ctx = f->sd2 ? 1024 : 768;

  g_mkdir_with_parents (unet, 0755);
  g_mkdir_with_parents (vae, 0755);
  g_mkdir_with_parents (text, 0755);
  g_mkdir_with_parents (sched, 0755);
  g_mkdir_with_parents (tok, 0755);

  test_write_text (root, "model_index.json",
                   f->sdxl ? "{\"_class_name\": \"StableDiffusionXLPipeline\","
                             " \"text_encoder_2\": [\"transformers\", \"CLIPTextModel\"]}"
                   : f->in_channels == 9
                     ? "{\"_class_name\": \"StableDiffusionInpaintPipeline\"}"
                     : "{\"_class_name\": \"StableDiffusionPipeline\","
                       " \"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
  config = g_strdup_printf (
    "{\"_class_name\": \"UNet2DConditionModel\", \"in_channels\": %d, \"out_channels\": 4,"
    " \"block_out_channels\": [8, 16, 32, 32], \"layers_per_block\": 2,"
    " \"attention_head_dim\": %s, \"cross_attention_dim\": %d,"
    " \"use_linear_projection\": %s, \"sample_size\": %d,"
    " \"down_block_types\": [\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\","
    " \"CrossAttnDownBlock2D\", \"DownBlock2D\"],"
    " \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\","
    " \"CrossAttnUpBlock2D\"], \"addition_embed_type\": null}",
    f->in_channels, f->sd2 ? "[5, 10, 20, 20]" : "8", ctx, f->sd2 ? "true" : "false",
    f->sd2 && f->v_prediction ? 96 : 64);
  test_write_text (unet, "config.json", config);
  test_write_text (vae, "config.json",
                   "{\"_class_name\": \"AutoencoderKL\", \"in_channels\": 3, \"out_channels\": 3,"
                   " \"latent_channels\": 4, \"block_out_channels\": [8, 16, 32, 32],"
                   " \"layers_per_block\": 2, \"sample_size\": 512, \"scaling_factor\": 0.18215}");
  g_free (config);
  config = g_strdup_printf (
    "{\"architectures\": [\"CLIPTextModel\"], \"hidden_size\": %d, \"intermediate_size\": 8,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": %d, \"max_position_embeddings\": 77,"
    " \"vocab_size\": 16, \"hidden_act\": \"%s\", \"projection_dim\": %d}",
    ctx, ctx / 64, f->sd2 ? "gelu" : "quick_gelu", f->sd2 ? 512 : 768);
  test_write_text (text, "config.json", config);
  test_write_text (sched, "scheduler_config.json",
                   f->v_prediction ? "{\"_class_name\": \"PNDMScheduler\","
                                     " \"prediction_type\": \"v_prediction\"}"
                                   : "{\"_class_name\": \"PNDMScheduler\","
                                     " \"prediction_type\": \"epsilon\"}");
  test_write_text (tok, "vocab.json", "{}");

  {
    g_autoptr (TestSt) w = test_st_new ();
    g_autofree char *path = g_build_filename (unet, wname, NULL);

    test_st_add (w, "conv_in.weight", d, TEST_SHAPE (8, f->in_channels, 3, 3));
    test_st_add (w, "down_blocks.0.resnets.0.conv1.weight", d, TEST_SHAPE (8, 8, 3, 3));
    test_st_add (w, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", d,
                 TEST_SHAPE (8, ctx));
    test_st_add (w, "conv_out.weight", d, TEST_SHAPE (4, 8, 3, 3));
    if (f->pickle_unet)
      {
        g_autofree char *bin = g_build_filename (unet, "diffusion_pytorch_model.bin", NULL);

        test_write_bytes (bin, "PK\x03\x04pickle", 10);
      }
    else
      test_st_write (w, path);
  }
  {
    g_autoptr (TestSt) w = test_st_new ();
    g_autofree char *path = g_build_filename (vae, wname, NULL);

    test_st_add (w, "encoder.conv_in.weight", d, TEST_SHAPE (8, 3, 3, 3));
    test_st_add (w, f->legacy_vae ? "decoder.mid_block.attentions.0.query.weight"
                                  : "decoder.mid_block.attentions.0.to_q.weight",
                 d, TEST_SHAPE (32, 32));
    test_st_add (w, f->legacy_vae ? "decoder.mid_block.attentions.0.proj_attn.bias"
                                  : "decoder.mid_block.attentions.0.to_out.0.bias",
                 d, TEST_SHAPE (32));
    test_st_add (w, "post_quant_conv.weight", d, TEST_SHAPE (4, 4, 1, 1));
    test_st_write (w, path);
  }
  {
    g_autoptr (TestSt) w = test_st_new ();
    g_autofree char *path
      = g_build_filename (text, f->fp16_variant ? "model.fp16.safetensors" : "model.safetensors",
                          NULL);

    test_st_add (w, "text_model.embeddings.token_embedding.weight", d, TEST_SHAPE (16, ctx));
    test_st_add (w, "text_model.embeddings.position_ids", "I64", TEST_SHAPE (1, 77));
    test_st_add (w, "text_model.encoder.layers.0.self_attn.q_proj.weight", d,
                 TEST_SHAPE (ctx / 64, ctx));
    test_st_write (w, path);
  }
}

/* A fresh temporary folder, removed (with what the test wrote in it) by
 * test_tmpdir_remove. */
static inline char *
test_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("diffuse-model-XXXXXX", &error);

  if (dir == NULL)
    g_error ("%s", error->message);
  return dir;
}

static inline void
test_tmpdir_remove (const char *path)
{
  GDir *dir;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          test_tmpdir_remove (child);
        }
      if (dir != NULL)
        g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* Writes each malformed file of test_bad_cases to NAME.safetensors in a
 * temporary folder and calls @check with the case, its bytes, the path
 * and the file name; removes the folder after the last. */
static inline void
test_bad_cases_foreach (void (*check) (const TestBadCase *c, GBytes *bytes, const char *path,
                                       const char *file))
{
  g_autofree char *dir = test_tmpdir ();

  for (size_t i = 0; i < G_N_ELEMENTS (test_bad_cases); i++)
    {
      const TestBadCase *c = &test_bad_cases[i];
      g_autoptr (GBytes) bytes = test_bad_case_bytes (c);
      g_autofree char *file = g_strdup_printf ("%s.safetensors", c->name);
      g_autofree char *path = g_build_filename (dir, file, NULL);

      test_write_bytes (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      check (c, bytes, path, file);
    }
  test_tmpdir_remove (dir);
}
