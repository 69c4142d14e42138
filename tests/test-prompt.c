/* test-prompt.c — the prompt syntax and 77-token chunking, against weights
 * and ids worked out by hand (ids: a 320, b 321, cat 2368, dog 1929, "," 267,
 * "(" 263, ")" 264, ":" 281, "\" 315, x 343, as CLIPTokenizer gives them). */
#include <string.h>

#include "df-test.h"

#define BRK -1000.0

typedef struct
{
  const char *text;
  double weight; /* BRK: a BREAK */
} Part;

static void
check_parse (const char *prompt, const Part *want, guint n_want)
{
  g_autoptr (GArray) parts = df_prompt_parse (prompt);

  if (parts->len != n_want)
    g_error ("“%s”: %u parts, want %u", prompt, parts->len, n_want);
  for (guint i = 0; i < n_want; i++)
    {
      const DfPromptPart *p = &g_array_index (parts, DfPromptPart, i);

      if (want[i].weight == BRK)
        {
          g_assert_true (p->is_break);
          continue;
        }
      g_assert_false (p->is_break);
      if (strcmp (p->text, want[i].text) != 0 || p->weight != want[i].weight)
        g_error ("“%s” part %u: (“%s”, %.17g), want (“%s”, %.17g)", prompt, i, p->text, p->weight,
                 want[i].text, want[i].weight);
    }
}

#define CHECK(prompt, ...)                                                   \
  G_STMT_START                                                               \
  {                                                                          \
    const Part want_[] = { __VA_ARGS__ };                                    \
    check_parse ((prompt), want_, G_N_ELEMENTS (want_));                     \
  }                                                                          \
  G_STMT_END

static void
test_prompt_parse_brackets (void)
{
  const double up = 1.1, down = 1 / 1.1;

  CHECK ("a photo of a cat", { "a photo of a cat", 1.0 });
  CHECK ("a (b) c", { "a ", 1.0 }, { "b", up }, { " c", 1.0 });
  CHECK ("((b))", { "b", up * up });
  CHECK ("(((b)))", { "b", up * up * up });
  CHECK ("[b]", { "b", down });
  CHECK ("[[b]]", { "b", down * down });
  CHECK ("([b])", { "b", down * up });
  CHECK ("(b:1.3)", { "b", 1.3 });
  CHECK ("(b: 0.5 )", { "b", 0.5 });
  CHECK ("(b:-1)", { "b", -1.0 });
  CHECK ("(b:.5)", { "b", 0.5 });
  CHECK ("(a (b:2) c)", { "a ", up }, { "b", 2 * up }, { " c", up });
  CHECK ("((a:1.5))", { "a", 1.5 * up });
  /* a weight applies to the whole innermost open bracket */
  CHECK ("(a, b:1.2), c", { "a, b", 1.2 }, { ", c", 1.0 });
  /* runs of equal weight join, whatever brackets made them */
  CHECK ("(a)(b)", { "ab", up });
  CHECK ("(a)[(b)]", { "a", up }, { "b", up * down });
  CHECK ("", { "", 1.0 });
  CHECK ("()", { "", 1.0 });
}

static void
test_prompt_parse_edges (void)
{
  const double up = 1.1, down = 1 / 1.1;

  /* escapes are literal; a lone backslash is dropped */
  CHECK ("\\(a\\) \\[b\\]", { "(a) [b]", 1.0 });
  CHECK ("\\\\ \\x", { "\\ x", 1.0 });
  CHECK ("(\\(a\\))", { "(a)", up });
  CHECK ("a\\", { "a", 1.0 });
  /* unbalanced: a closing bracket with nothing open is text, an open one
   * runs to the end */
  CHECK ("a ) b ]", { "a ) b ]", 1.0 });
  CHECK ("x (a", { "x ", 1.0 }, { "a", up });
  CHECK ("x [a", { "x ", 1.0 }, { "a", down });
  CHECK ("((a) b", { "a", up * up }, { " b", up });
  CHECK ("[a (b", { "a ", down }, { "b", up * down });
  CHECK ("(a]", { "a]", up });
  /* colons that are not a weight */
  CHECK ("a:b", { "a:b", 1.0 });
  CHECK ("(a:x)", { "a:x", up });
  CHECK ("x:1.5) y", { "x:1.5) y", 1.0 });
  CHECK ("(a:1.2.3)", { "a:1.2.3", up });
  CHECK ("(a:)", { "a:", up });
  /* invalid UTF-8 is replaced, not trusted */
  CHECK ("(\xff)", { "\xef\xbf\xbd", up });
}

static void
test_prompt_parse_break (void)
{
  const double up = 1.1;

  CHECK ("a BREAK b", { "a", 1.0 }, { NULL, BRK }, { "b", 1.0 });
  CHECK ("a\n BREAK\tb", { "a", 1.0 }, { NULL, BRK }, { "b", 1.0 });
  CHECK ("BREAK", { "", 1.0 }, { NULL, BRK }, { "", 1.0 });
  CHECK ("a BREAK BREAK b", { "a", 1.0 }, { NULL, BRK }, { "", 1.0 }, { NULL, BRK }, { "b", 1.0 });
  CHECK ("a,BREAK,b", { "a,", 1.0 }, { NULL, BRK }, { ",b", 1.0 });
  /* not a word of its own, or not uppercase: plain text */
  CHECK ("aBREAK BREAKs BREAK_ break Break", { "aBREAK BREAKs BREAK_ break Break", 1.0 });
  /* inside brackets it still breaks, keeping the weight on both sides */
  CHECK ("(a BREAK b)", { "a", up }, { NULL, BRK }, { "b", up });
}

static DfTokenizer *tok;

static DfTokenizer *
get_tok (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  if (tok != NULL)
    return tok;
  g_assert_nonnull (g_getenv ("DIFFUSE_SHARED_DATA"));
  path = g_build_filename (g_getenv ("DIFFUSE_SHARED_DATA"), "clip",
                           "bpe_simple_vocab_16e6.txt.gz", NULL);
  tok = df_tokenizer_new_from_file (path, &error);
  g_assert_no_error (error);
  return tok;
}

/* Checks one chunk: BOS, the given body, EOS, then pad up to 77. */
static void
check_chunk (const DfPromptChunk *c, const int32_t *ids, const float *weights, int n,
             int32_t pad)
{
  g_assert_cmpint (c->n_tokens, ==, n);
  g_assert_cmpint (c->ids[0], ==, 49406);
  g_assert_cmpfloat (c->weights[0], ==, 1.0f);
  for (int i = 0; i < n; i++)
    {
      g_assert_cmpint (c->ids[1 + i], ==, ids[i]);
      g_assert_cmpfloat (c->weights[1 + i], ==, weights[i]);
    }
  g_assert_cmpint (c->ids[n + 1], ==, 49407);
  g_assert_cmpfloat (c->weights[n + 1], ==, 1.0f);
  for (int i = n + 2; i < DF_CLIP_CONTEXT; i++)
    {
      g_assert_cmpint (c->ids[i], ==, pad);
      g_assert_cmpfloat (c->weights[i], ==, 1.0f);
    }
}

static const DfPromptChunk *
chunk_at (GArray *chunks, guint i)
{
  return &g_array_index (chunks, DfPromptChunk, i);
}

/* The chunks of @text (padded with EOS), which must be @n_chunks. */
static GArray *
encode (const char *text, guint n_chunks)
{
  GArray *chunks = df_tokenizer_encode_prompt (get_tok (), text, -1);

  g_assert_cmpuint (chunks->len, ==, n_chunks);
  return chunks;
}

static void
test_prompt_encode_weights (void)
{
  g_autoptr (GArray) chunks = NULL;

  chunks = encode ("a (cat:1.3) [dog]", 1);
  check_chunk (chunk_at (chunks, 0), (const int32_t[]) { 320, 2368, 1929 },
               (const float[]) { 1.0f, 1.3f, (float) (1 / 1.1) }, 3, 49407);
  g_array_unref (chunks);

  /* each run is tokenized on its own: "cat" "dog", not "catdog" */
  chunks = df_tokenizer_encode_prompt (get_tok (), "cat((dog))", -1);
  check_chunk (chunk_at (chunks, 0), (const int32_t[]) { 2368, 1929 },
               (const float[]) { 1.0f, (float) (1.1 * 1.1) }, 2, 49407);
  g_array_unref (chunks);

  /* escapes reach the tokenizer as brackets; pad id given by the caller */
  chunks = df_tokenizer_encode_prompt (get_tok (), "\\(a\\) ", 0);
  check_chunk (chunk_at (chunks, 0), (const int32_t[]) { 263, 320, 264 },
               (const float[]) { 1.0f, 1.0f, 1.0f }, 3, 0);
  g_array_unref (chunks);

  /* an empty prompt is one chunk of BOS, EOS and padding */
  chunks = encode ("", 1);
  check_chunk (chunk_at (chunks, 0), NULL, NULL, 0, 49407);
}

static void
test_prompt_encode_break (void)
{
  g_autoptr (GArray) chunks = NULL;
  const float one = 1.0f;

  chunks = encode ("a BREAK cat", 2);
  check_chunk (chunk_at (chunks, 0), (const int32_t[]) { 320 }, &one, 1, 49407);
  check_chunk (chunk_at (chunks, 1), (const int32_t[]) { 2368 }, &one, 1, 49407);
  g_array_unref (chunks);

  /* a leading BREAK leaves an empty first chunk; a trailing one adds none */
  chunks = encode ("BREAK a BREAK", 2);
  check_chunk (chunk_at (chunks, 0), NULL, NULL, 0, 49407);
  check_chunk (chunk_at (chunks, 1), (const int32_t[]) { 320 }, &one, 1, 49407);
}

static void
fill (int32_t *ids, float *w, int from, int to, int32_t id, float weight)
{
  for (int i = from; i < to; i++)
    {
      ids[i] = id;
      w[i] = weight;
    }
}

static void
test_prompt_encode_long (void)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autoptr (GArray) chunks = NULL;
  int32_t ids[DF_CLIP_CHUNK];
  float w[DF_CLIP_CHUNK];

  /* 100 tokens, no comma: 75 + 25 */
  for (int i = 0; i < 100; i++)
    g_string_append (s, "a ");
  chunks = encode (s->str, 2);
  fill (ids, w, 0, 75, 320, 1.0f);
  check_chunk (chunk_at (chunks, 0), ids, w, 75, 49407);
  check_chunk (chunk_at (chunks, 1), ids, w, 25, 49407);
  g_array_unref (g_steal_pointer (&chunks));

  /* exactly 75 tokens fill one chunk with no padding */
  g_string_truncate (s, 75 * 2);
  chunks = encode (s->str, 1);
  check_chunk (chunk_at (chunks, 0), ids, w, 75, 49407);
  g_array_unref (g_steal_pointer (&chunks));

  /* 70 a, a comma, 10 (b): the comma is 5 from the end, so the chunk ends
   * after it and all ten b move on with their weight */
  g_string_truncate (s, 70 * 2);
  g_string_append (s, ", (b b b b b b b b b b)");
  chunks = encode (s->str, 2);
  fill (ids, w, 70, 71, 267, 1.0f);
  check_chunk (chunk_at (chunks, 0), ids, w, 71, 49407);
  fill (ids, w, 0, 10, 321, 1.1f);
  check_chunk (chunk_at (chunks, 1), ids, w, 10, 49407);
  g_array_unref (g_steal_pointer (&chunks));

  /* 50 a, a comma, 40 b: the comma is 25 back, too far: cut at 75 */
  g_string_truncate (s, 0);
  for (int i = 0; i < 50; i++)
    g_string_append (s, "a ");
  g_string_append (s, ",");
  for (int i = 0; i < 40; i++)
    g_string_append (s, " b");
  chunks = encode (s->str, 2);
  fill (ids, w, 0, 50, 320, 1.0f);
  fill (ids, w, 50, 51, 267, 1.0f);
  fill (ids, w, 51, 75, 321, 1.0f);
  check_chunk (chunk_at (chunks, 0), ids, w, 75, 49407);
  fill (ids, w, 0, 16, 321, 1.0f);
  check_chunk (chunk_at (chunks, 1), ids, w, 16, 49407);
  g_array_unref (g_steal_pointer (&chunks));

  /* 200 tokens: three chunks, every one 77 long with BOS and EOS */
  g_string_truncate (s, 0);
  for (int i = 0; i < 200; i++)
    g_string_append (s, "cat ");
  chunks = encode (s->str, 3);
  g_assert_cmpint (chunk_at (chunks, 2)->n_tokens, ==, 50);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prompt/parse/brackets", test_prompt_parse_brackets);
  g_test_add_func ("/prompt/parse/edges", test_prompt_parse_edges);
  g_test_add_func ("/prompt/parse/break", test_prompt_parse_break);
  g_test_add_func ("/prompt/encode/weights", test_prompt_encode_weights);
  g_test_add_func ("/prompt/encode/break", test_prompt_encode_break);
  g_test_add_func ("/prompt/encode/long", test_prompt_encode_long);
  status = g_test_run ();
  g_clear_pointer (&tok, df_tokenizer_free);
  return status;
}
