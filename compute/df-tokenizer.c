/* df-tokenizer.c — CLIP's byte-level BPE tokenizer.
 *
 * The reference is transformers' slow CLIPTokenizer as it runs without the
 * ftfy package (what `pip install transformers` gives).  Without ftfy it
 * cleans text with BERT's BasicTokenizer(strip_accents=False,
 * do_split_on_punc=False) instead of ftfy + whitespace_clean, and that is
 * what we match:
 *
 *   1. drop U+0000, U+FFFD and every character of category C* except
 *      \t \n \r (controls, format characters such as U+200B, private use,
 *      unassigned); turn \t \n \r and category Zs into a space;
 *   2. put a space on both sides of each CJK ideograph (BERT's ranges);
 *   3. NFC;
 *   4. split at whitespace (Python's str.split(): also U+2028/U+2029),
 *      lowercase each piece as Python's str.lower() does, join with one space.
 *
 * Then CLIP's word pattern (case-insensitive) cuts the text into words:
 *   <|startoftext|> | <|endoftext|> | 's|'t|'re|'ve|'m|'ll|'d | \p{L}+ | \p{N}
 *   | [^\s\p{L}\p{N}]+
 * each word's UTF-8 bytes become one symbol per byte (the last one carries
 * `</w>`), and BPE merges the adjacent pair of lowest rank until none is left.
 *
 * Before all this, the special tokens spelled exactly are cut out of the raw
 * text, and the pieces between them go through these steps one by one (the
 * word pattern still finds other spellings, such as <|ENDOFTEXT|>, after the
 * lowercasing).
 *
 * Invalid UTF-8 never fails: g_utf8_make_valid() turns it into U+FFFD, which
 * step 1 drops, so invalid bytes simply vanish. */
#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <zlib.h>

#include "df.h"

/* CLIP keeps 49152 − 256 − 2 merges of its file (after the header line). */
#define N_MERGES_MAX (49152 - 256 - 2)
/* Bigger inputs are refused: the real files are 1.3 MiB gzipped / 1.6 MiB. */
#define MAX_FILE_BYTES (64u << 20)
/* Token ids above this are refused (CLIP has 49 408 tokens). */
#define MAX_TOKEN_ID (1 << 22)
/* The word cache is emptied when it grows past this many words. */
#define CACHE_MAX 20000

typedef struct
{
  uint64_t key;   /* (left symbol << 32) | right symbol; first, for g_int64_hash */
  uint32_t rank;
  uint32_t result; /* symbol of left + right */
} Merge;

struct _DfTokenizer
{
  /* Every string the tokenizer knows (vocabulary entries, both sides of each
   * merge and its result, the byte characters) is interned as a symbol. */
  GHashTable *sym_index; /* string (owned by syms) → symbol + 1 */
  GPtrArray *syms;       /* symbol → string */
  GArray *sym_id;        /* symbol → vocabulary id, or -1 */
  int32_t vocab_size;

  Merge *merges;
  guint n_merges;
  GHashTable *merge_index; /* &Merge.key → Merge */

  uint32_t byte_sym[256];     /* the byte's character */
  uint32_t byte_sym_end[256]; /* the same + "</w>" */

  GPtrArray *tokens; /* id → string (borrowed from syms), or NULL */
  int32_t bos, eos, pad, unk;

  GMutex lock;       /* guards cache */
  GHashTable *cache; /* word bytes → GArray of int32 ids */
};

void
df_tokenizer_free (DfTokenizer *tok)
{
  if (tok == NULL)
    return;
  g_clear_pointer (&tok->sym_index, g_hash_table_unref);
  g_clear_pointer (&tok->tokens, g_ptr_array_unref);
  g_clear_pointer (&tok->syms, g_ptr_array_unref);
  g_clear_pointer (&tok->sym_id, g_array_unref);
  g_clear_pointer (&tok->merge_index, g_hash_table_unref);
  g_free (tok->merges);
  g_clear_pointer (&tok->cache, g_hash_table_unref);
  g_mutex_clear (&tok->lock);
  g_free (tok);
}

static DfTokenizer *
tokenizer_alloc (void)
{
  DfTokenizer *tok = g_new0 (DfTokenizer, 1);

  tok->sym_index = g_hash_table_new (g_str_hash, g_str_equal);
  tok->syms = g_ptr_array_new_with_free_func (g_free);
  tok->sym_id = g_array_new (FALSE, FALSE, sizeof (int32_t));
  tok->merge_index = g_hash_table_new (g_int64_hash, g_int64_equal);
  tok->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_array_unref);
  g_mutex_init (&tok->lock);
  tok->bos = tok->eos = tok->pad = tok->unk = -1;
  return tok;
}

static uint32_t
intern_len (DfTokenizer *tok, const char *s, gssize len)
{
  g_autofree char *owned = len < 0 ? g_strdup (s) : g_strndup (s, len);
  gpointer v = g_hash_table_lookup (tok->sym_index, owned);
  int32_t none = -1;

  if (v != NULL)
    return GPOINTER_TO_UINT (v) - 1;
  g_ptr_array_add (tok->syms, owned);
  g_array_append_val (tok->sym_id, none);
  g_hash_table_insert (tok->sym_index, g_steal_pointer (&owned),
                       GUINT_TO_POINTER (tok->syms->len));
  return tok->syms->len - 1;
}

static uint32_t
intern (DfTokenizer *tok, const char *s)
{
  return intern_len (tok, s, -1);
}

/* A later entry for the same string wins, as in Python's dict(zip(...)). */
static void
vocab_add (DfTokenizer *tok, const char *s, int32_t id)
{
  uint32_t sym = intern (tok, s);

  g_array_index (tok->sym_id, int32_t, sym) = id;
  tok->vocab_size = MAX (tok->vocab_size, id + 1);
}

int32_t
df_tokenizer_lookup (DfTokenizer *tok, const char *token)
{
  gpointer v = g_hash_table_lookup (tok->sym_index, token);

  return v == NULL ? -1 : g_array_index (tok->sym_id, int32_t, GPOINTER_TO_UINT (v) - 1);
}

/* GPT-2's reversible byte → character table: printable Latin-1 bytes stand
 * for themselves, the other 68 become U+0100 onwards.  Fills @chars in byte
 * order and returns the bytes in CLIP's vocabulary order in @order. */
static void
bytes_to_unicode (gunichar chars[256], guint8 order[256])
{
  gboolean printable[256] = { FALSE };
  int n = 0, k = 0;

  for (int b = 0; b < 256; b++)
    printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  for (int b = 0; b < 256; b++)
    if (printable[b])
      {
        chars[b] = (gunichar) b;
        order[k++] = (guint8) b;
      }
  for (int b = 0; b < 256; b++)
    if (!printable[b])
      {
        chars[b] = 256 + n++;
        order[k++] = (guint8) b;
      }
}

static void
byte_string (gunichar c, gboolean end, char out[16])
{
  int n = g_unichar_to_utf8 (c, out);

  out[n] = '\0';
  if (end)
    strcpy (out + n, "</w>");
}

static gboolean
is_field_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Merge lines as CLIP and transformers read them: lines[1 : 1 + 48894] (the
 * first line is the "#version" header), each split at whitespace.  Lines that
 * are not exactly two fields keep their rank but merge nothing.  With
 * @vocab_from_merges (the gz file), each line's fields joined are also the
 * vocabulary entry 512 + line.  @data (NUL-terminated, @len bytes) is cut up
 * in place; the lines are walked with memchr, never split all at once, as the
 * gz file has 262 146 lines of which CLIP reads the first 48 895.  Returns
 * the number of merge lines read in @n_lines. */
static gboolean
load_merges (DfTokenizer *tok, char *data, gsize len, gboolean vocab_from_merges,
             guint *n_lines, GError **error)
{
  char *end = data + len;
  char *line = memchr (data, '\n', len);
  g_autoptr (GString) joined = g_string_new (NULL);
  guint i;

  tok->merges = g_new0 (Merge, N_MERGES_MAX);
  for (i = 0; line != NULL && i < N_MERGES_MAX; i++)
    {
      char *next, *p;
      const char *part[2] = { NULL, NULL };
      guint n_parts = 0;

      line++; /* past the '\n' */
      next = memchr (line, '\n', end - line);
      if (next != NULL)
        *next = '\0';
      g_string_truncate (joined, 0);
      for (p = line; *p != '\0';)
        {
          char *field;

          while (*p != '\0' && is_field_space (*p))
            p++;
          if (*p == '\0')
            break;
          field = p;
          while (*p != '\0' && !is_field_space (*p))
            p++;
          if (*p != '\0')
            *p++ = '\0';
          if (n_parts < 2)
            part[n_parts] = field;
          n_parts++;
          g_string_append (joined, field);
        }
      line = next;

      if (vocab_from_merges)
        vocab_add (tok, joined->str, 512 + (int32_t) i);
      if (n_parts == 2)
        {
          uint32_t a = intern (tok, part[0]);
          uint32_t b = intern (tok, part[1]);
          uint64_t key = ((uint64_t) a << 32) | b;
          Merge *m = g_hash_table_lookup (tok->merge_index, &key);

          if (m == NULL)
            {
              m = &tok->merges[tok->n_merges++];
              m->key = key;
              g_hash_table_insert (tok->merge_index, &m->key, m);
            }
          m->rank = i; /* a repeated pair takes its later rank, as a dict would */
          m->result = intern (tok, joined->str);
        }
    }
  *n_lines = i;
  if (tok->n_merges == 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "no BPE merges found");
      return FALSE;
    }
  return TRUE;
}

/* Interns the byte symbols and resolves the special ids. */
static gboolean
finish_setup (DfTokenizer *tok, GError **error)
{
  gunichar chars[256];
  guint8 order[256];

  bytes_to_unicode (chars, order);
  for (int b = 0; b < 256; b++)
    {
      char s[16];

      byte_string (chars[b], FALSE, s);
      tok->byte_sym[b] = intern (tok, s);
      byte_string (chars[b], TRUE, s);
      tok->byte_sym_end[b] = intern (tok, s);
    }
  tok->tokens = g_ptr_array_new ();
  g_ptr_array_set_size (tok->tokens, tok->vocab_size);
  for (guint s = 0; s < tok->syms->len; s++)
    {
      int32_t id = g_array_index (tok->sym_id, int32_t, s);

      if (id >= 0)
        g_ptr_array_index (tok->tokens, id) = g_ptr_array_index (tok->syms, s);
    }
  tok->bos = df_tokenizer_lookup (tok, "<|startoftext|>");
  tok->eos = df_tokenizer_lookup (tok, "<|endoftext|>");
  tok->unk = tok->eos;
  if (tok->pad < 0)
    tok->pad = tok->eos;
  if (tok->bos < 0 || tok->eos < 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                   "the vocabulary lacks <|startoftext|> or <|endoftext|>");
      return FALSE;
    }
  return TRUE;
}

static char *
read_gzip (const char *path, gsize *len_out, GError **error)
{
  gzFile gz = gzopen (path, "rb");
  g_autoptr (GByteArray) buf = NULL;
  guint8 chunk[65536];
  int n;

  if (gz == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "cannot open %s: %s", path, g_strerror (errno));
      return NULL;
    }
  buf = g_byte_array_new ();
  while ((n = gzread (gz, chunk, sizeof chunk)) > 0)
    {
      if (buf->len + (guint) n > MAX_FILE_BYTES)
        {
          gzclose (gz);
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: larger than %u MiB", path,
                       MAX_FILE_BYTES >> 20);
          return NULL;
        }
      g_byte_array_append (buf, chunk, n);
    }
  if (n < 0)
    {
      int errnum = 0;
      const char *msg = gzerror (gz, &errnum);

      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: %s", path, msg);
      gzclose (gz);
      return NULL;
    }
  gzclose (gz);
  *len_out = buf->len;
  g_byte_array_append (buf, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&buf), FALSE);
}

static gboolean
check_text (const char *path, const char *data, gsize len, GError **error)
{
  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: not UTF-8 text", path);
      return FALSE;
    }
  return TRUE;
}

DfTokenizer *
df_tokenizer_new_from_file (const char *path, GError **error)
{
  g_autoptr (DfTokenizer) tok = tokenizer_alloc ();
  g_autofree char *data = NULL;
  gunichar chars[256];
  guint8 order[256];
  gsize len = 0;
  guint n_merges = 0;

  data = read_gzip (path, &len, error);
  if (data == NULL || !check_text (path, data, len, error))
    return NULL;

  /* ids 0–255: the byte characters in table order; 256–511: the same with
   * </w>; then one per merge; then the two special tokens. */
  bytes_to_unicode (chars, order);
  for (int i = 0; i < 256; i++)
    {
      char s[16];

      byte_string (chars[order[i]], FALSE, s);
      vocab_add (tok, s, i);
      byte_string (chars[order[i]], TRUE, s);
      vocab_add (tok, s, 256 + i);
    }
  if (!load_merges (tok, data, len, TRUE, &n_merges, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  vocab_add (tok, "<|startoftext|>", 512 + (int32_t) n_merges);
  vocab_add (tok, "<|endoftext|>", 513 + (int32_t) n_merges);
  if (!finish_setup (tok, error))
    return NULL;
  return g_steal_pointer (&tok);
}

/* The pad token named by a tokenizer_config.json / special_tokens_map.json:
 * "pad_token": "!" or "pad_token": {"content": "!", ...}.  NULL if none. */
static char *
read_pad_token (const char *path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root, *pad;
  JsonObject *obj;

  if (!json_parser_load_from_file (parser, path, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  obj = json_node_get_object (root);
  pad = json_object_get_member (obj, "pad_token");
  if (pad == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (pad) && json_node_get_value_type (pad) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (pad));
  if (JSON_NODE_HOLDS_OBJECT (pad))
    {
      JsonNode *content = json_object_get_member (json_node_get_object (pad), "content");

      if (content != NULL && JSON_NODE_HOLDS_VALUE (content)
          && json_node_get_value_type (content) == G_TYPE_STRING)
        return g_strdup (json_node_get_string (content));
    }
  return NULL;
}

DfTokenizer *
df_tokenizer_new_from_vocab_merges (const char *vocab_path, const char *merges_path,
                                    const char *config_path, GError **error)
{
  g_autoptr (DfTokenizer) tok = tokenizer_alloc ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autofree char *data = NULL;
  g_autofree char *pad = NULL;
  JsonObject *obj;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  gsize len = 0;
  guint n_lines = 0;

  if (!json_parser_load_from_file (parser, vocab_path, &local))
    {
      g_set_error (error, DF_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? DF_ERROR_IO
                                                                             : DF_ERROR_INVALID_MODEL,
                   "%s: %s", vocab_path, local->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: not a JSON object", vocab_path);
      return NULL;
    }
  obj = json_node_get_object (json_parser_get_root (parser));
  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &name, &node))
    {
      gint64 id;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
          || (id = json_node_get_int (node)) < 0 || id >= MAX_TOKEN_ID)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                       "%s: the id of “%s” is not a valid token id", vocab_path, name);
          return NULL;
        }
      vocab_add (tok, name, (int32_t) id);
    }

  if (!g_file_get_contents (merges_path, &data, &len, &local))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "%s", local->message);
      return NULL;
    }
  if (len > MAX_FILE_BYTES || !check_text (merges_path, data, len, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: too large", merges_path);
      return NULL;
    }
  /* transformers: read().strip().split("\n")[1:...] */
  g_strstrip (data);
  if (!load_merges (tok, data, strlen (data), FALSE, &n_lines, error))
    {
      g_prefix_error (error, "%s: ", merges_path);
      return NULL;
    }

  if (config_path != NULL && (pad = read_pad_token (config_path)) != NULL)
    {
      tok->pad = df_tokenizer_lookup (tok, pad);
      if (tok->pad < 0)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL,
                       "%s: the pad token “%s” is not in the vocabulary", config_path, pad);
          return NULL;
        }
    }
  if (!finish_setup (tok, error))
    {
      g_prefix_error (error, "%s: ", vocab_path);
      return NULL;
    }
  return g_steal_pointer (&tok);
}

DfTokenizer *
df_tokenizer_new_from_dir (const char *dir, GError **error)
{
  g_autofree char *vocab = g_build_filename (dir, "vocab.json", NULL);
  g_autofree char *merges = g_build_filename (dir, "merges.txt", NULL);
  g_autofree char *config = NULL;
  static const char *const configs[] = { "tokenizer_config.json", "special_tokens_map.json" };

  for (guint i = 0; i < G_N_ELEMENTS (configs) && config == NULL; i++)
    {
      g_autofree char *path = g_build_filename (dir, configs[i], NULL);
      g_autofree char *pad = read_pad_token (path);

      if (pad != NULL)
        config = g_steal_pointer (&path);
    }
  return df_tokenizer_new_from_vocab_merges (vocab, merges, config, error);
}

const char *
df_tokenizer_get_token (DfTokenizer *tok, int32_t id)
{
  if (id < 0 || (guint) id >= tok->tokens->len)
    return NULL;
  return g_ptr_array_index (tok->tokens, id);
}

int32_t
df_tokenizer_get_bos (DfTokenizer *tok)
{
  return tok->bos;
}

int32_t
df_tokenizer_get_eos (DfTokenizer *tok)
{
  return tok->eos;
}

int32_t
df_tokenizer_get_pad (DfTokenizer *tok)
{
  return tok->pad;
}

int32_t
df_tokenizer_get_vocab_size (DfTokenizer *tok)
{
  return tok->vocab_size;
}

/* ------------------------------------------------------------------------
 * Text cleanup (BasicTokenizer) and lowercasing (str.lower())
 * ------------------------------------------------------------------------ */

static gboolean
is_control (gunichar c)
{
  if (c == '\t' || c == '\n' || c == '\r')
    return FALSE;
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_UNASSIGNED:
    case G_UNICODE_PRIVATE_USE:
    case G_UNICODE_SURROGATE:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
is_bert_whitespace (gunichar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r'
         || g_unichar_type (c) == G_UNICODE_SPACE_SEPARATOR;
}

/* BERT's "Chinese character" blocks. */
static gboolean
is_cjk (gunichar c)
{
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)
         || (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F)
         || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF)
         || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* What Python's str.split() splits at, among what survives the cleanup. */
static gboolean
is_split_space (gunichar c)
{
  return c == ' ' || c == 0x2028 || c == 0x2029;
}

static gboolean
is_cased (gunichar c)
{
  GUnicodeType t = g_unichar_type (c);

  return t == G_UNICODE_UPPERCASE_LETTER || t == G_UNICODE_LOWERCASE_LETTER
         || t == G_UNICODE_TITLECASE_LETTER || g_unichar_tolower (c) != c
         || g_unichar_toupper (c) != c;
}

static gboolean
is_case_ignorable (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_FORMAT:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_MODIFIER_SYMBOL:
      return TRUE;
    default:
      break;
    }
  /* Word_Break MidLetter, MidNumLet and Single_Quote */
  switch (c)
    {
    case '\'': case '.': case ':': case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52:
    case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Python's str.lower() of one whitespace-free piece: full lowercase mapping
 * (İ → i + U+0307), capital sigma → final ς when it ends a word, and the
 * simple mapping of the non-letters that have one (Ⅻ, Ⓐ), which GLib's
 * g_unichar_tolower() leaves alone. */
static void
append_lower (GString *out, const gunichar *s, glong n)
{
  for (glong i = 0; i < n; i++)
    {
      gunichar c = s[i];

      if (c == 0x130)
        {
          g_string_append (out, "i\xcc\x87");
          continue;
        }
      if (c == 0x3A3)
        {
          glong j;
          gboolean final = FALSE;

          for (j = i - 1; j >= 0 && is_case_ignorable (s[j]); j--)
            ;
          final = j >= 0 && is_cased (s[j]);
          if (final)
            {
              for (j = i + 1; j < n && is_case_ignorable (s[j]); j++)
                ;
              final = j == n || !is_cased (s[j]);
            }
          c = final ? 0x3C2 : 0x3C3;
        }
      else if (c >= 0x2160 && c <= 0x216F)
        c += 0x10;
      else if (c >= 0x24B6 && c <= 0x24CF)
        c += 0x1A;
      else
        c = g_unichar_tolower (c);
      g_string_append_unichar (out, c);
    }
}

/* Steps 1–4 of the header comment: returns the cleaned, lowercased text
 * whose words are separated by single spaces. */
static char *
clean_text (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  g_autoptr (GString) spaced = g_string_new (NULL);
  g_autofree char *nfc = NULL;
  g_autofree gunichar *chars = NULL;
  GString *out;
  glong n = 0;

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == 0 || c == 0xFFFD || is_control (c))
        continue;
      if (is_bert_whitespace (c))
        g_string_append_c (spaced, ' ');
      else if (is_cjk (c))
        {
          g_string_append_c (spaced, ' ');
          g_string_append_unichar (spaced, c);
          g_string_append_c (spaced, ' ');
        }
      else
        g_string_append_unichar (spaced, c);
    }

  nfc = g_utf8_normalize (spaced->str, spaced->len, G_NORMALIZE_NFC);
  chars = g_utf8_to_ucs4_fast (nfc != NULL ? nfc : "", -1, &n);
  out = g_string_sized_new (spaced->len);
  for (glong i = 0; i < n;)
    {
      glong start;

      while (i < n && is_split_space (chars[i]))
        i++;
      if (i == n)
        break;
      start = i;
      while (i < n && !is_split_space (chars[i]))
        i++;
      if (out->len > 0)
        g_string_append_c (out, ' ');
      append_lower (out, chars + start, i - start);
    }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------
 * Word splitting (CLIP's pattern)
 * ------------------------------------------------------------------------ */

static gboolean
is_letter (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
is_number (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
is_space (gunichar c)
{
  return g_unichar_isspace (c) || is_split_space (c)
         || g_unichar_type (c) == G_UNICODE_SPACE_SEPARATOR;
}

/* Case-insensitive match of one ASCII letter, as the regex module's simple
 * case folding sees it: ſ (U+017F) matches s, the Kelvin sign matches k. */
static gboolean
fold_is (gunichar c, char ascii)
{
  return c == (gunichar) ascii || c == (gunichar) g_ascii_toupper (ascii)
         || (ascii == 's' && c == 0x17F) || (ascii == 'k' && c == 0x212A);
}

/* Length in bytes of @pattern matched case-insensitively at @p, or 0. */
static gsize
match_fold (const char *p, const char *pattern)
{
  const char *q = p;

  for (; *pattern != '\0'; pattern++)
    {
      gunichar c;

      if (*q == '\0')
        return 0;
      c = g_utf8_get_char (q);
      if (!fold_is (c, *pattern))
        return 0;
      q = g_utf8_next_char (q);
    }
  return q - p;
}

/* The length in bytes of the word that starts at @p (not a space). */
static gsize
word_length (const char *p)
{
  static const char *const specials[] = { "<|startoftext|>", "<|endoftext|>" };
  static const char *const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
  gunichar c = g_utf8_get_char (p);
  const char *q;
  gsize len;

  for (guint i = 0; i < G_N_ELEMENTS (specials); i++)
    if ((len = match_fold (p, specials[i])) > 0)
      return len;
  if (c == '\'')
    for (guint i = 0; i < G_N_ELEMENTS (contractions); i++)
      if ((len = match_fold (p, contractions[i])) > 0)
        return len;
  q = g_utf8_next_char (p);
  if (is_number (c))
    return q - p;
  if (is_letter (c))
    {
      while (*q != '\0' && is_letter (g_utf8_get_char (q)))
        q = g_utf8_next_char (q);
      return q - p;
    }
  while (*q != '\0')
    {
      gunichar d = g_utf8_get_char (q);

      if (is_space (d) || is_letter (d) || is_number (d))
        break;
      q = g_utf8_next_char (q);
    }
  return q - p;
}

/* ------------------------------------------------------------------------
 * BPE
 * ------------------------------------------------------------------------ */

static uint32_t
pair_rank (DfTokenizer *tok, uint32_t a, uint32_t b, uint32_t *result)
{
  uint64_t key = ((uint64_t) a << 32) | b;
  Merge *m = g_hash_table_lookup (tok->merge_index, &key);

  if (m == NULL)
    return G_MAXUINT32;
  *result = m->result;
  return m->rank;
}

/* Appends the ids of one word (its UTF-8 bytes).  Merges the pair of lowest
 * rank, every occurrence left to right, until no pair has a rank.  rank[k]
 * caches the rank of (sym[k], sym[k + 1]) and is looked up again only next
 * to a merge, so a long word costs O(n) per merge, not O(n) hash lookups. */
static void
bpe_word (DfTokenizer *tok, const char *word, gsize len, GArray *ids)
{
  g_autofree uint32_t *sym = g_new (uint32_t, len);
  g_autofree uint32_t *rank = g_new (uint32_t, len);
  g_autofree uint32_t *merged = g_new (uint32_t, len);
  g_autofree guint8 *fresh = g_new0 (guint8, len);
  gsize n = len;

  if ((len == 15 && memcmp (word, "<|startoftext|>", 15) == 0)
      || (len == 13 && memcmp (word, "<|endoftext|>", 13) == 0))
    {
      g_autofree char *s = g_strndup (word, len);
      int32_t id = df_tokenizer_lookup (tok, s);

      id = id >= 0 ? id : tok->unk;
      g_array_append_val (ids, id);
      return;
    }

  for (gsize i = 0; i < len; i++)
    sym[i] = i + 1 < len ? tok->byte_sym[(guint8) word[i]] : tok->byte_sym_end[(guint8) word[i]];
  for (gsize i = 0; i + 1 < n; i++)
    rank[i] = pair_rank (tok, sym[i], sym[i + 1], &merged[i]);

  while (n > 1)
    {
      uint32_t best = G_MAXUINT32, a, b, result = 0;
      gsize i = 0, j, k;

      for (k = 0; k + 1 < n; k++)
        if (rank[k] < best)
          {
            best = rank[k];
            result = merged[k];
            i = k;
          }
      if (best == G_MAXUINT32)
        break;
      a = sym[i];
      b = sym[i + 1];
      /* compact in place from the first occurrence on; fresh[] marks the
       * merged symbols, whose pairs on both sides need a new rank */
      for (j = k = i; k < n; j++)
        {
          if (k + 1 < n && sym[k] == a && sym[k + 1] == b)
            {
              sym[j] = result;
              fresh[j] = 1;
              k += 2;
            }
          else
            {
              sym[j] = sym[k];
              rank[j] = rank[k];
              merged[j] = merged[k];
              fresh[j] = 0;
              k++;
            }
        }
      n = j;
      for (k = i > 0 ? i - 1 : 0; k + 1 < n; k++)
        if (fresh[k] || fresh[k + 1])
          rank[k] = pair_rank (tok, sym[k], sym[k + 1], &merged[k]);
    }

  for (gsize i = 0; i < n; i++)
    {
      int32_t id = g_array_index (tok->sym_id, int32_t, sym[i]);

      id = id >= 0 ? id : tok->unk;
      g_array_append_val (ids, id);
    }
}

static void
encode_word (DfTokenizer *tok, const char *word, gsize len, GArray *ids)
{
  g_autofree char *key = g_strndup (word, len);
  GArray *cached;
  GArray *fresh;

  g_mutex_lock (&tok->lock);
  cached = g_hash_table_lookup (tok->cache, key);
  if (cached != NULL)
    {
      g_array_append_vals (ids, cached->data, cached->len);
      g_mutex_unlock (&tok->lock);
      return;
    }
  g_mutex_unlock (&tok->lock);

  fresh = g_array_new (FALSE, FALSE, sizeof (int32_t));
  bpe_word (tok, word, len, fresh);
  g_array_append_vals (ids, fresh->data, fresh->len);

  g_mutex_lock (&tok->lock);
  if (g_hash_table_size (tok->cache) >= CACHE_MAX)
    g_hash_table_remove_all (tok->cache);
  g_hash_table_replace (tok->cache, g_steal_pointer (&key), fresh);
  g_mutex_unlock (&tok->lock);
}

/* Cleans, splits and encodes text that holds no special token. */
static void
encode_piece (DfTokenizer *tok, const char *text, gsize len, GArray *ids_out)
{
  g_autofree char *piece = g_strndup (text, len);
  g_autofree char *clean = clean_text (piece);

  for (const char *p = clean; *p != '\0';)
    {
      gsize n;

      if (is_space (g_utf8_get_char (p)))
        {
          p = g_utf8_next_char (p);
          continue;
        }
      n = word_length (p);
      encode_word (tok, p, n, ids_out);
      p += n;
    }
}

guint
df_tokenizer_encode (DfTokenizer *tok, const char *text, GArray *ids_out)
{
  static const char *const specials[] = { "<|startoftext|>", "<|endoftext|>" };
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  const char *piece = valid;
  guint before = ids_out->len;

  g_return_val_if_fail (g_array_get_element_size (ids_out) == sizeof (int32_t), 0);

  /* As transformers does, the special tokens spelled exactly are cut out of
   * the raw text first and the pieces between them are tokenized apart:
   * "!<|endoftext|>" is "!" and <|endoftext|>, not the word "!<|". */
  for (const char *p = valid; *p != '\0';)
    {
      const char *special = NULL;

      if (*p == '<')
        for (guint i = 0; i < G_N_ELEMENTS (specials); i++)
          if (g_str_has_prefix (p, specials[i]))
            special = specials[i];
      if (special == NULL)
        {
          p++;
          continue;
        }
      encode_piece (tok, piece, p - piece, ids_out);
      encode_word (tok, special, strlen (special), ids_out);
      p += strlen (special);
      piece = p;
    }
  encode_piece (tok, piece, strlen (piece), ids_out);
  return ids_out->len - before;
}

void
df_tokenizer_encode_padded (DfTokenizer *tok, const char *text, int32_t ids[DF_CLIP_CONTEXT])
{
  g_autoptr (GArray) body = g_array_new (FALSE, FALSE, sizeof (int32_t));
  guint n, k = 0;

  df_tokenizer_encode (tok, text, body);
  n = MIN (body->len, DF_CLIP_CHUNK);
  ids[k++] = tok->bos;
  for (guint i = 0; i < n; i++)
    ids[k++] = g_array_index (body, int32_t, i);
  ids[k++] = tok->eos;
  while (k < DF_CLIP_CONTEXT)
    ids[k++] = tok->pad;
}
