/* df-prompt.c — the prompt syntax and chunking into 77-token windows.
 *
 * The syntax, as the common web UIs read it:
 *   (text)        weight × 1.1; ((text)) × 1.21, and so on: nesting multiplies
 *   [text]        weight ÷ 1.1
 *   (text:1.3)    weight × 1.3 (a number after the last colon before ")")
 *   \( \) \[ \] \\   the character itself; a lone backslash is dropped
 *   BREAK         (uppercase, a word of its own) ends the current chunk
 * A ")" or "]" with nothing open is literal text; a "(" or "[" never closed
 * applies to everything after it; a ":" that does not start a weight is
 * literal.  Neighbouring runs of equal weight are joined before they are
 * tokenized, and each run is tokenized on its own, so "a[b]c" gives three
 * words.  Two deliberate differences from the web UIs: a BREAK inside
 * brackets still breaks (they turn it into the word "break" with a weight),
 * and a weight that is not a number such as "(a:1.2.3)" is literal text
 * (they fail on it).
 *
 * Chunks hold 75 tokens between BOS and EOS, then pad to 77.  When a token
 * would overflow a full chunk and a comma is among its last 20 tokens, the
 * tokens after that comma move to the next chunk, so phrases stay whole. */
#include <string.h>

#include "df.h"

#define ROUND_MULTIPLIER 1.1
#define SQUARE_MULTIPLIER (1 / 1.1)
/* How far back from the end of a full chunk a comma may be to break there. */
#define COMMA_BACKTRACK 20

static void
part_clear (gpointer data)
{
  DfPromptPart *part = data;

  g_free (part->text);
}

static void
add_text (GArray *parts, const char *text, gsize len)
{
  DfPromptPart part = { g_strndup (text, len), 1.0, FALSE };

  g_array_append_val (parts, part);
}

static void
add_break (GArray *parts)
{
  DfPromptPart part = { g_strdup (""), 1.0, TRUE };

  g_array_append_val (parts, part);
}

static void
multiply_from (GArray *parts, guint start, double multiplier)
{
  for (guint i = start; i < parts->len; i++)
    g_array_index (parts, DfPromptPart, i).weight *= multiplier;
}

static gboolean
is_word_char (const char *p)
{
  gunichar c = g_utf8_get_char (p);

  return c == '_' || g_unichar_isalnum (c);
}

static gboolean
is_space_at (const char *p)
{
  return g_unichar_isspace (g_utf8_get_char (p));
}

/* The char before @p within [start, p), or NULL at the start. */
static const char *
prev_char (const char *start, const char *p)
{
  return p > start ? g_utf8_find_prev_char (start, p) : NULL;
}

/* Adds plain text, cut at each BREAK (\s*\bBREAK\b\s*). */
static void
add_plain (GArray *parts, const char *text, gsize len)
{
  const char *end = text + len;
  const char *piece = text;
  const char *p = text;

  while (p + 5 <= end)
    {
      const char *before = prev_char (text, p);
      const char *a, *b;

      if (memcmp (p, "BREAK", 5) != 0 || (before != NULL && is_word_char (before))
          || (p + 5 < end && is_word_char (p + 5)))
        {
          p = g_utf8_next_char (p);
          continue;
        }
      /* the surrounding whitespace goes with the BREAK */
      a = p;
      while (a > piece && (before = prev_char (piece, a)) != NULL && is_space_at (before))
        a = before;
      b = p + 5;
      while (b < end && is_space_at (b))
        b = g_utf8_next_char (b);
      add_text (parts, piece, a - piece);
      add_break (parts);
      piece = p = b;
    }
  add_text (parts, piece, end - piece);
}

/* At @p just after a ":", matches \s*([+-]?[.\d]+)\s*\) and returns the
 * length through the ")" with the number in @weight; 0 if no match. */
static gsize
match_weight (const char *p, double *weight)
{
  const char *q = p, *num, *num_end;
  g_autofree char *copy = NULL;
  char *parsed_end = NULL;

  while (*q != '\0' && is_space_at (q))
    q = g_utf8_next_char (q);
  num = q;
  if (*q == '+' || *q == '-')
    q++;
  if (!(g_ascii_isdigit (*q) || *q == '.'))
    return 0;
  while (g_ascii_isdigit (*q) || *q == '.')
    q++;
  num_end = q;
  while (*q != '\0' && is_space_at (q))
    q = g_utf8_next_char (q);
  if (*q != ')')
    return 0;
  copy = g_strndup (num, num_end - num);
  *weight = g_ascii_strtod (copy, &parsed_end);
  if (parsed_end == copy || *parsed_end != '\0')
    return 0; /* "1.2.3" or "." */
  return q + 1 - p;
}

GArray *
df_prompt_parse (const char *text)
{
  GArray *parts = g_array_new (FALSE, FALSE, sizeof (DfPromptPart));
  g_autoptr (GArray) round = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) square = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  const char *p = valid;

  g_array_set_clear_func (parts, part_clear);

  while (*p != '\0')
    {
      guint pos = parts->len;
      double weight;
      gsize len;

      switch (*p)
        {
        case '\\':
          if (strchr ("()[]\\", p[1]) != NULL && p[1] != '\0')
            {
              add_text (parts, p + 1, 1);
              p += 2;
            }
          else
            {
              add_text (parts, "", 0);
              p++;
            }
          continue;
        case '(':
          g_array_append_val (round, pos);
          p++;
          continue;
        case '[':
          g_array_append_val (square, pos);
          p++;
          continue;
        case ':':
          len = match_weight (p + 1, &weight);
          if (len > 0 && round->len > 0)
            {
              multiply_from (parts, g_array_index (round, guint, round->len - 1), weight);
              g_array_set_size (round, round->len - 1);
              p += 1 + len;
            }
          else if (len > 0)
            {
              add_plain (parts, p, 1 + len);
              p += 1 + len;
            }
          else
            {
              add_text (parts, p, 1);
              p++;
            }
          continue;
        case ')':
          if (round->len > 0)
            {
              multiply_from (parts, g_array_index (round, guint, round->len - 1), ROUND_MULTIPLIER);
              g_array_set_size (round, round->len - 1);
            }
          else
            add_text (parts, p, 1);
          p++;
          continue;
        case ']':
          if (square->len > 0)
            {
              multiply_from (parts, g_array_index (square, guint, square->len - 1),
                             SQUARE_MULTIPLIER);
              g_array_set_size (square, square->len - 1);
            }
          else
            add_text (parts, p, 1);
          p++;
          continue;
        default:
          len = strcspn (p, "\\()[]:");
          add_plain (parts, p, len);
          p += len;
          continue;
        }
    }

  /* brackets never closed apply to the end, innermost first as listed */
  for (guint i = 0; i < round->len; i++)
    multiply_from (parts, g_array_index (round, guint, i), ROUND_MULTIPLIER);
  for (guint i = 0; i < square->len; i++)
    multiply_from (parts, g_array_index (square, guint, i), SQUARE_MULTIPLIER);

  if (parts->len == 0)
    add_text (parts, "", 0);

  /* join neighbours of equal weight */
  for (guint i = 0; i + 1 < parts->len;)
    {
      DfPromptPart *a = &g_array_index (parts, DfPromptPart, i);
      DfPromptPart *b = &g_array_index (parts, DfPromptPart, i + 1);

      if (!a->is_break && !b->is_break && a->weight == b->weight)
        {
          char *joined = g_strconcat (a->text, b->text, NULL);

          g_free (a->text);
          a->text = joined;
          g_array_remove_index (parts, i + 1);
        }
      else
        i++;
    }
  return parts;
}

/* ------------------------------------------------------------------------
 * Chunking
 * ------------------------------------------------------------------------ */

typedef struct
{
  GArray *chunks;   /* DfPromptChunk */
  int32_t bos, eos, pad;
  int32_t body[DF_CLIP_CHUNK];
  float weight[DF_CLIP_CHUNK];
  int n;
  int last_comma;   /* index in body of the last comma, or -1 */
} Packer;

static void
packer_emit (Packer *pk)
{
  DfPromptChunk chunk;
  int k = 0;

  chunk.n_tokens = pk->n;
  chunk.ids[k] = pk->bos;
  chunk.weights[k++] = 1.0f;
  for (int i = 0; i < pk->n; i++, k++)
    {
      chunk.ids[k] = pk->body[i];
      chunk.weights[k] = pk->weight[i];
    }
  chunk.ids[k] = pk->eos;
  chunk.weights[k++] = 1.0f;
  for (; k < DF_CLIP_CONTEXT; k++)
    {
      chunk.ids[k] = pk->pad;
      chunk.weights[k] = 1.0f;
    }
  g_array_append_val (pk->chunks, chunk);
  pk->n = 0;
  pk->last_comma = -1;
}

static void
packer_add (Packer *pk, int32_t id, float weight, int32_t comma)
{
  if (id == comma && comma >= 0)
    pk->last_comma = pk->n;
  else if (pk->n == DF_CLIP_CHUNK && pk->last_comma >= 0
           && pk->n - pk->last_comma <= COMMA_BACKTRACK)
    {
      /* move what follows the comma to the next chunk */
      int keep = pk->last_comma + 1, moved = pk->n - keep;
      int32_t ids[DF_CLIP_CHUNK];
      float weights[DF_CLIP_CHUNK];

      memcpy (ids, pk->body + keep, moved * sizeof (int32_t));
      memcpy (weights, pk->weight + keep, moved * sizeof (float));
      pk->n = keep;
      packer_emit (pk);
      memcpy (pk->body, ids, moved * sizeof (int32_t));
      memcpy (pk->weight, weights, moved * sizeof (float));
      pk->n = moved;
    }
  if (pk->n == DF_CLIP_CHUNK)
    packer_emit (pk);
  pk->body[pk->n] = id;
  pk->weight[pk->n] = weight;
  pk->n++;
}

GArray *
df_tokenizer_encode_prompt (DfTokenizer *tok, const char *text, int32_t pad_id)
{
  g_autoptr (GArray) parts = df_prompt_parse (text);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  int32_t comma = df_tokenizer_lookup (tok, ",</w>");
  Packer pk = {
    .chunks = g_array_new (FALSE, FALSE, sizeof (DfPromptChunk)),
    .bos = df_tokenizer_get_bos (tok),
    .eos = df_tokenizer_get_eos (tok),
    .pad = pad_id >= 0 ? pad_id : df_tokenizer_get_pad (tok),
    .n = 0,
    .last_comma = -1,
  };

  for (guint i = 0; i < parts->len; i++)
    {
      const DfPromptPart *part = &g_array_index (parts, DfPromptPart, i);

      if (part->is_break)
        {
          packer_emit (&pk);
          continue;
        }
      g_array_set_size (ids, 0);
      df_tokenizer_encode (tok, part->text, ids);
      for (guint k = 0; k < ids->len; k++)
        packer_add (&pk, g_array_index (ids, int32_t, k), (float) part->weight, comma);
    }
  if (pk.n > 0 || pk.chunks->len == 0)
    packer_emit (&pk);
  return pk.chunks;
}
