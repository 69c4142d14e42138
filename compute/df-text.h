/* df-text.h — the CLIP tokenizer and the prompt syntax (part of df.h).
 *
 * The tokenizer reproduces transformers' CLIPTokenizer (the slow Python one,
 * without ftfy installed) id for id; df-tokenizer.c says how.  The prompt
 * syntax is the one the common web UIs accept: (word), ((word)), [word],
 * (word:1.3), \( \) \[ \] and BREAK; df-prompt.c describes it in full. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* The text encoder's context: BOS + 75 tokens + EOS. */
#define DF_CLIP_CONTEXT 77
#define DF_CLIP_CHUNK   75

typedef struct _DfTokenizer DfTokenizer;

/* Reads CLIP's `bpe_simple_vocab_16e6.txt.gz` (gzip or plain text) and builds
 * the vocabulary from it as CLIP does: the 256 byte characters, the same with
 * `</w>`, one token per merge (48 894 of them), then <|startoftext|> and
 * <|endoftext|>.  Pads with <|endoftext|>. */
DfTokenizer *df_tokenizer_new_from_file (const char *path, GError **error);

/* Reads a diffusers `tokenizer/` folder: vocab.json and merges.txt, and the
 * pad token from tokenizer_config.json or special_tokens_map.json when one of
 * them names it (SD 2.x pads with "!", SD 1.x with <|endoftext|>). */
DfTokenizer *df_tokenizer_new_from_dir (const char *dir, GError **error);

/* The same from the two files' paths; @config_path may be NULL. */
DfTokenizer *df_tokenizer_new_from_vocab_merges (const char *vocab_path, const char *merges_path,
                                                 const char *config_path, GError **error);

void df_tokenizer_free (DfTokenizer *tok);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfTokenizer, df_tokenizer_free)

int32_t df_tokenizer_get_bos (DfTokenizer *tok);
int32_t df_tokenizer_get_eos (DfTokenizer *tok);
int32_t df_tokenizer_get_pad (DfTokenizer *tok);
/* The number of tokens in the vocabulary (49 408 for CLIP). */
int32_t df_tokenizer_get_vocab_size (DfTokenizer *tok);
/* The id of one vocabulary entry as spelled in vocab.json ("cat</w>"), or -1. */
int32_t df_tokenizer_lookup (DfTokenizer *tok, const char *token);
/* The vocabulary entry of @id (borrowed), or NULL. */
const char *df_tokenizer_get_token (DfTokenizer *tok, int32_t id);

/* Appends the ids of @text, without BOS/EOS, no truncation, no prompt syntax
 * (int32_t elements).  Never fails: invalid UTF-8 is replaced by U+FFFD,
 * which the text cleanup then drops as the reference drops U+FFFD.  Safe to
 * call from several threads.  Returns the number of ids appended. */
guint df_tokenizer_encode (DfTokenizer *tok, const char *text, GArray *ids_out);

/* What the pipelines feed the text encoder without prompt syntax:
 * BOS, at most 75 ids, EOS, then the pad id up to 77. */
void df_tokenizer_encode_padded (DfTokenizer *tok, const char *text,
                                 int32_t ids[DF_CLIP_CONTEXT]);

/* ------------------------------------------------------------------------
 * Prompt syntax
 * ------------------------------------------------------------------------ */

typedef struct
{
  char *text;        /* owned; "" for a BREAK */
  double weight;     /* product of the enclosing brackets */
  gboolean is_break; /* a BREAK: start a new chunk here */
} DfPromptPart;

/* Splits @text into runs of equal weight (neighbours with equal weights are
 * merged, as the web UIs do).  Returns a GArray of DfPromptPart that frees
 * the texts when freed; never NULL, at least one part. */
GArray *df_prompt_parse (const char *text);

typedef struct
{
  int32_t ids[DF_CLIP_CONTEXT];   /* BOS, up to 75 tokens, EOS, pad */
  float weights[DF_CLIP_CONTEXT]; /* 1 for BOS, EOS and pad */
  int n_tokens;                   /* tokens between BOS and EOS */
} DfPromptChunk;

/* Parses the syntax, tokenizes each run and packs the tokens into chunks of
 * 77 (GArray of DfPromptChunk, at least one).  A chunk that overflows breaks
 * after its last comma when that comma is among the last 20 tokens, the rest
 * moving to the next chunk.  @pad_id < 0 takes the tokenizer's pad id. */
GArray *df_tokenizer_encode_prompt (DfTokenizer *tok, const char *text, int32_t pad_id);

G_END_DECLS
