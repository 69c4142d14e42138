/* fuzz-prompt.c — libFuzzer target: arbitrary bytes as a prompt.  The parser
 * must not crash or leak and must keep its invariants: at least one part,
 * valid UTF-8 texts, no two text neighbours of equal weight.  When a CLIP
 * vocabulary is at hand (DIFFUSE_CLIP_VOCAB, else ../shared/data/clip/ from
 * the repository root, where CI runs), the bytes are also tokenized and
 * chunked, and every chunk must be BOS, ids in the vocabulary, EOS. */
#include <string.h>

#include "df.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static DfTokenizer *tok;
static gboolean tried;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (GArray) parts = NULL;

  if (!tried)
    {
      const char *vocab = g_getenv ("DIFFUSE_CLIP_VOCAB");

      tried = TRUE;
      if (vocab == NULL)
        vocab = "../shared/data/clip/bpe_simple_vocab_16e6.txt.gz";
      tok = df_tokenizer_new_from_file (vocab, NULL);
    }

  parts = df_prompt_parse (text);
  if (parts->len == 0)
    __builtin_trap ();
  for (guint i = 0; i < parts->len; i++)
    {
      const DfPromptPart *p = &g_array_index (parts, DfPromptPart, i);

      if (p->text == NULL || !g_utf8_validate (p->text, -1, NULL))
        __builtin_trap ();
      if (i > 0)
        {
          const DfPromptPart *q = &g_array_index (parts, DfPromptPart, i - 1);

          if (!p->is_break && !q->is_break && p->weight == q->weight)
            __builtin_trap ();
        }
    }

  if (tok != NULL)
    {
      g_autoptr (GArray) chunks = df_tokenizer_encode_prompt (tok, text, -1);

      if (chunks->len == 0)
        __builtin_trap ();
      for (guint c = 0; c < chunks->len; c++)
        {
          const DfPromptChunk *k = &g_array_index (chunks, DfPromptChunk, c);

          if (k->n_tokens < 0 || k->n_tokens > DF_CLIP_CHUNK
              || k->ids[0] != df_tokenizer_get_bos (tok)
              || k->ids[k->n_tokens + 1] != df_tokenizer_get_eos (tok))
            __builtin_trap ();
          for (int i = 0; i < DF_CLIP_CONTEXT; i++)
            if (k->ids[i] < 0 || k->ids[i] >= df_tokenizer_get_vocab_size (tok))
              __builtin_trap ();
        }
    }
  return 0;
}
