/* test-tokenizer.c — the CLIP tokenizer against transformers' ids
 * (tests/data/tokenizer/golden.json, made by
 * tests/reference/make_tokenizer_golden.py), both vocabulary loaders, and
 * inputs that must not break it. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <zlib.h>

#include "df-test.h"

static DfTokenizer *gz_tok;

static char *
vocab_path (void)
{
  const char *dir = g_getenv ("DIFFUSE_SHARED_DATA");

  g_assert_nonnull (dir);
  return g_build_filename (dir, "clip", "bpe_simple_vocab_16e6.txt.gz", NULL);
}

static DfTokenizer *
get_gz_tok (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  if (gz_tok != NULL)
    return gz_tok;
  path = vocab_path ();
  gz_tok = df_tokenizer_new_from_file (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (gz_tok);
  return gz_tok;
}

static JsonArray *
golden_cases (JsonParser *parser)
{
  g_autofree char *path = df_test_data_path ("tokenizer/golden.json");
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                       "cases");
}

static void
assert_ids (const char *prompt, const int32_t *got, guint n_got, JsonArray *want)
{
  guint n = json_array_get_length (want);

  for (guint i = 0; i < MIN (n, n_got); i++)
    if (got[i] != json_array_get_int_element (want, i))
      g_error ("“%s”: id %u is %d, transformers gives %" G_GINT64_FORMAT, prompt, i, got[i],
               json_array_get_int_element (want, i));
  if (n != n_got)
    g_error ("“%s”: %u ids, transformers gives %u", prompt, n_got, n);
}

/* Every golden prompt: BOS…EOS unpadded, and the 77 ids a pipeline uses. */
static void
check_golden (DfTokenizer *tok)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *cases = golden_cases (parser);
  guint n_cases = json_array_get_length (cases), n_truncated = 0;

  g_assert_cmpuint (n_cases, >=, 40);
  for (guint c = 0; c < n_cases; c++)
    {
      JsonObject *obj = json_array_get_object_element (cases, c);
      const char *prompt = json_object_get_string_member (obj, "prompt");
      JsonArray *want = json_object_get_array_member (obj, "ids");
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      int32_t bos = df_tokenizer_get_bos (tok), eos = df_tokenizer_get_eos (tok);
      int32_t padded[DF_CLIP_CONTEXT];

      g_array_append_val (ids, bos);
      df_tokenizer_encode (tok, prompt, ids);
      g_array_append_val (ids, eos);
      assert_ids (prompt, (const int32_t *) ids->data, ids->len, want);

      df_tokenizer_encode_padded (tok, prompt, padded);
      if (json_object_has_member (obj, "truncated"))
        {
          assert_ids (prompt, padded, DF_CLIP_CONTEXT,
                      json_object_get_array_member (obj, "truncated"));
          n_truncated++;
        }
      else
        {
          g_assert_cmpmem (padded, ids->len * sizeof (int32_t), ids->data,
                           ids->len * sizeof (int32_t));
          for (guint i = ids->len; i < DF_CLIP_CONTEXT; i++)
            g_assert_cmpint (padded[i], ==, df_tokenizer_get_pad (tok));
        }
    }
  g_assert_cmpuint (n_truncated, >=, 3);
}

static void
test_tokenizer_golden_gz (void)
{
  DfTokenizer *tok = get_gz_tok ();

  g_assert_cmpint (df_tokenizer_get_vocab_size (tok), ==, 49408);
  g_assert_cmpint (df_tokenizer_get_bos (tok), ==, 49406);
  g_assert_cmpint (df_tokenizer_get_eos (tok), ==, 49407);
  g_assert_cmpint (df_tokenizer_get_pad (tok), ==, 49407);
  g_assert_cmpint (df_tokenizer_lookup (tok, "cat</w>"), ==, 2368);
  g_assert_cmpint (df_tokenizer_lookup (tok, "!"), ==, 0);
  g_assert_cmpint (df_tokenizer_lookup (tok, "no such token"), ==, -1);
  g_assert_cmpstr (df_tokenizer_get_token (tok, 2368), ==, "cat</w>");
  g_assert_null (df_tokenizer_get_token (tok, 49408));
  check_golden (tok);
  /* a second pass is served by the word cache and must agree */
  check_golden (tok);
}

/* Reads the gz merges file the way a diffusers folder ships it. */
static char *
gunzip_file (const char *path)
{
  gzFile gz = gzopen (path, "rb");
  g_autoptr (GString) out = g_string_new (NULL);
  char buf[65536];
  int n;

  g_assert_nonnull (gz);
  while ((n = gzread (gz, buf, sizeof buf)) > 0)
    g_string_append_len (out, buf, n);
  g_assert_cmpint (n, ==, 0);
  gzclose (gz);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
write_file (const char *dir, const char *name, const char *contents, gssize len)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
}

static void
remove_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_remove (path);
    }
  g_rmdir (dir);
}

/* A diffusers tokenizer/ folder written from the gz vocabulary: vocab.json
 * from the ids, merges.txt = "#version: 0.2" + the merge lines. */
static char *
make_tokenizer_dir (const char *pad_config)
{
  DfTokenizer *tok = get_gz_tok ();
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("df-tokenizer-XXXXXX", &error);
  g_autofree char *gz = vocab_path ();
  g_autofree char *text = gunzip_file (gz);
  g_autoptr (GString) merges = g_string_new ("#version: 0.2\n");
  const char *first, *last, *end;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  g_assert_no_error (error);
  /* lines 1 … 48894 (memchr: g_strsplit is quadratic under ASan's strstr) */
  end = text + strlen (text);
  first = last = strchr (text, '\n') + 1;
  for (guint i = 1; i <= 49152 - 256 - 2; i++)
    last = (const char *) memchr (last, '\n', end - last) + 1;
  g_string_append_len (merges, first, last - first);
  write_file (dir, "merges.txt", merges->str, merges->len);

  json_builder_begin_object (builder);
  for (int32_t id = 0; id < df_tokenizer_get_vocab_size (tok); id++)
    {
      json_builder_set_member_name (builder, df_tokenizer_get_token (tok, id));
      json_builder_add_int_value (builder, id);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (gen, root);
  json = json_generator_to_data (gen, NULL);
  write_file (dir, "vocab.json", json, -1);
  if (pad_config != NULL)
    write_file (dir, "tokenizer_config.json", pad_config, -1);
  return g_steal_pointer (&dir);
}

static void
test_tokenizer_golden_dir (void)
{
  g_autofree char *dir = make_tokenizer_dir (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DfTokenizer) tok = df_tokenizer_new_from_dir (dir, &error);

  g_assert_no_error (error);
  g_assert_cmpint (df_tokenizer_get_vocab_size (tok), ==, 49408);
  g_assert_cmpint (df_tokenizer_get_pad (tok), ==, 49407);
  check_golden (tok);
  remove_dir (dir);
}

/* SD 2.x's tokenizer pads with "!" (id 0); both spellings of pad_token. */
static void
test_tokenizer_pad_config (void)
{
  static const char *const configs[] = {
    "{\"pad_token\": \"!\", \"model_max_length\": 77}",
    "{\"pad_token\": {\"content\": \"!\", \"lstrip\": false}}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      g_autofree char *dir = make_tokenizer_dir (configs[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (DfTokenizer) tok = df_tokenizer_new_from_dir (dir, &error);
      int32_t ids[DF_CLIP_CONTEXT];

      g_assert_no_error (error);
      g_assert_cmpint (df_tokenizer_get_pad (tok), ==, 0);
      df_tokenizer_encode_padded (tok, "a photo of a cat", ids);
      g_assert_cmpint (ids[5], ==, 2368);
      g_assert_cmpint (ids[6], ==, 49407);
      g_assert_cmpint (ids[7], ==, 0);
      g_assert_cmpint (ids[76], ==, 0);
      remove_dir (dir);
    }
}

static void
test_tokenizer_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("df-tokenizer-XXXXXX", &error);
  g_autofree char *missing = g_build_filename (dir, "missing.txt.gz", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.gz", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.gz", NULL);
  static const guint8 bad_bytes[] = { 0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x80, 0x81, 0x00 };
  DfTokenizer *tok;

  g_assert_no_error (error);
  tok = df_tokenizer_new_from_file (missing, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_IO);
  g_clear_error (&error);

  write_file (dir, "garbage.gz", (const char *) bad_bytes, sizeof bad_bytes);
  tok = df_tokenizer_new_from_file (garbage, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL);
  g_clear_error (&error);

  write_file (dir, "empty.gz", "", 0);
  tok = df_tokenizer_new_from_file (empty, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL);
  g_clear_error (&error);

  /* a folder without vocab.json */
  tok = df_tokenizer_new_from_dir (dir, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_IO);
  g_clear_error (&error);

  /* vocab.json that is not an object of ids; then one without specials */
  write_file (dir, "merges.txt", "#version: 0.2\na b\nab c\n", -1);
  write_file (dir, "vocab.json", "[1, 2]", -1);
  tok = df_tokenizer_new_from_dir (dir, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL);
  g_clear_error (&error);
  write_file (dir, "vocab.json", "{\"a\": -4}", -1);
  tok = df_tokenizer_new_from_dir (dir, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL);
  g_clear_error (&error);
  write_file (dir, "vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}", -1);
  tok = df_tokenizer_new_from_dir (dir, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL);
  g_assert_nonnull (strstr (error->message, "endoftext"));
  g_clear_error (&error);

  /* a tiny but complete vocabulary works, with an unknown pad refused */
  write_file (dir, "vocab.json",
              "{\"a\": 0, \"b</w>\": 1, \"ab</w>\": 2, \"<|startoftext|>\": 3, \"<|endoftext|>\": 4}",
              -1);
  write_file (dir, "merges.txt", "#version: 0.2\na b</w>\n", -1);
  tok = df_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  {
    g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));

    df_tokenizer_encode (tok, "AB ab", ids);
    g_assert_cmpuint (ids->len, ==, 2);
    g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 2);
    g_assert_cmpint (g_array_index (ids, int32_t, 1), ==, 2);
    g_array_set_size (ids, 0);
    /* "c</w>" is not in the vocabulary: the unknown token, <|endoftext|> */
    df_tokenizer_encode (tok, "c", ids);
    g_assert_cmpuint (ids->len, ==, 1);
    g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 4);
  }
  df_tokenizer_free (tok);
  write_file (dir, "tokenizer_config.json", "{\"pad_token\": \"<pad>\"}", -1);
  tok = df_tokenizer_new_from_dir (dir, &error);
  g_assert_null (tok);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL);
  g_clear_error (&error);

  remove_dir (dir);
}

static GArray *
encode (const char *text)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));

  df_tokenizer_encode (get_gz_tok (), text, ids);
  return ids;
}

static void
assert_same_ids (const char *a, const char *b)
{
  g_autoptr (GArray) x = encode (a);
  g_autoptr (GArray) y = encode (b);

  g_assert_cmpmem (x->data, x->len * sizeof (int32_t), y->data, y->len * sizeof (int32_t));
}

/* Invalid UTF-8 becomes U+FFFD, which the cleanup drops: the bytes vanish. */
static void
test_tokenizer_invalid_utf8 (void)
{
  g_autoptr (GArray) ids = NULL;

  assert_same_ids ("a \xff\xfe photo of a c\xc3" "at", "a  photo of a cat");
  assert_same_ids ("\xed\xa0\x80x", "x"); /* an encoded surrogate */
  assert_same_ids ("\xf4\x90\x80\x80y", "y"); /* beyond U+10FFFF */
  ids = encode ("\x80\x80\x80");
  g_assert_cmpuint (ids->len, ==, 0);
  g_array_unref (g_steal_pointer (&ids));
  ids = encode (NULL);
  g_assert_cmpuint (ids->len, ==, 0);
}

/* Pathological inputs finish and give one id per vocabulary piece. */
static void
test_tokenizer_long_words (void)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autoptr (GArray) ids = NULL;

  for (int i = 0; i < 3000; i++)
    g_string_append (s, "x!é");
  ids = encode (s->str);
  g_assert_cmpuint (ids->len, >, 2000);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpint (g_array_index (ids, int32_t, i), <, 49406);
}

static gpointer
encode_golden_thread (gpointer data)
{
  JsonArray *cases = data;
  GPtrArray *results = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);

  for (int pass = 0; pass < 3; pass++)
    for (guint c = 0; c < json_array_get_length (cases); c++)
      {
        JsonObject *obj = json_array_get_object_element (cases, c);
        GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));

        df_tokenizer_encode (gz_tok, json_object_get_string_member (obj, "prompt"), ids);
        g_ptr_array_add (results, ids);
      }
  return results;
}

/* Two threads share one tokenizer (and its word cache) and agree. */
static void
test_tokenizer_threads (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *cases = golden_cases (parser);
  GThread *t1, *t2;
  g_autoptr (GPtrArray) r1 = NULL;
  g_autoptr (GPtrArray) r2 = NULL;

  get_gz_tok ();
  t1 = g_thread_new ("encode-1", encode_golden_thread, cases);
  t2 = g_thread_new ("encode-2", encode_golden_thread, cases);
  r1 = g_thread_join (t1);
  r2 = g_thread_join (t2);
  g_assert_cmpuint (r1->len, ==, 3 * json_array_get_length (cases));
  g_assert_cmpuint (r1->len, ==, r2->len);
  for (guint i = 0; i < r1->len; i++)
    {
      GArray *a = g_ptr_array_index (r1, i), *b = g_ptr_array_index (r2, i);

      g_assert_cmpmem (a->data, a->len * sizeof (int32_t), b->data, b->len * sizeof (int32_t));
    }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tokenizer/golden-gz", test_tokenizer_golden_gz);
  g_test_add_func ("/tokenizer/golden-dir", test_tokenizer_golden_dir);
  g_test_add_func ("/tokenizer/pad-config", test_tokenizer_pad_config);
  g_test_add_func ("/tokenizer/errors", test_tokenizer_errors);
  g_test_add_func ("/tokenizer/invalid-utf8", test_tokenizer_invalid_utf8);
  g_test_add_func ("/tokenizer/long-words", test_tokenizer_long_words);
  g_test_add_func ("/tokenizer/threads", test_tokenizer_threads);
  status = g_test_run ();
  g_clear_pointer (&gz_tok, df_tokenizer_free);
  return status;
}
