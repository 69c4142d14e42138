/* diffuse-cli-tokenize.c — `diffuse-cli tokenize`. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "df.h"
#include "diffuse-cli.h"

#define VOCAB_NAME "bpe_simple_vocab_16e6.txt.gz"

/* DIFFUSE_CLIP_VOCAB, then the user's data folder, then the installed copy. */
static char *
find_vocab (void)
{
  const char *env = g_getenv ("DIFFUSE_CLIP_VOCAB");
  g_autofree char *user = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  user = g_build_filename (g_get_user_data_dir (), "diffuse", VOCAB_NAME, NULL);
  if (g_file_test (user, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&user);
  if (g_file_test (PKGDATADIR "/" VOCAB_NAME, G_FILE_TEST_IS_REGULAR))
    return g_strdup (PKGDATADIR "/" VOCAB_NAME);
  return NULL;
}

int
diffuse_cli_tokenize (int argc, char **argv)
{
  g_autofree char *vocab = NULL;
  gboolean weights = FALSE;
  g_auto (GStrv) rest = NULL;
  const GOptionEntry entries[] = {
    { "vocab", 0, 0, G_OPTION_ARG_FILENAME, &vocab,
      N_("CLIP vocabulary: bpe_simple_vocab_16e6.txt.gz, or a tokenizer folder with vocab.json "
         "and merges.txt"),
      N_("FILE") },
    { "weights", 0, 0, G_OPTION_ARG_NONE, &weights,
      N_("Apply the prompt syntax and print id:weight pairs, chunk after chunk"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, N_("TEXT") },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (_("TEXT"));
  g_autoptr (DfTokenizer) tok = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) line = g_string_new (NULL);

  g_option_context_set_summary (context, _("Print the CLIP token ids of a text, from BOS to EOS."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!diffuse_cli_parse (context, &argc, &argv))
    return 2;
  if (rest == NULL || g_strv_length (rest) != 1)
    {
      g_printerr ("diffuse-cli: %s\n", _("tokenize takes exactly one TEXT argument"));
      return 2;
    }

  if (vocab == NULL && (vocab = find_vocab ()) == NULL)
    {
      g_autofree char *user = g_build_filename (g_get_user_data_dir (), "diffuse", VOCAB_NAME,
                                                NULL);
      g_autofree char *msg = g_strdup_printf (
        _("no CLIP vocabulary found: pass --vocab FILE, set DIFFUSE_CLIP_VOCAB, or copy %s "
          "(from the OpenAI CLIP repository, clip/%s) to %s"),
        VOCAB_NAME, VOCAB_NAME, user);
      return diffuse_cli_fail (msg);
    }
  if (g_file_test (vocab, G_FILE_TEST_IS_DIR))
    tok = df_tokenizer_new_from_dir (vocab, &error);
  else
    tok = df_tokenizer_new_from_file (vocab, &error);
  if (tok == NULL)
    return diffuse_cli_fail (error->message);

  if (!weights)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));

      g_string_append_printf (line, "%d", df_tokenizer_get_bos (tok));
      df_tokenizer_encode (tok, rest[0], ids);
      for (guint i = 0; i < ids->len; i++)
        g_string_append_printf (line, " %d", g_array_index (ids, int32_t, i));
      g_string_append_printf (line, " %d", df_tokenizer_get_eos (tok));
    }
  else
    {
      g_autoptr (GArray) chunks = df_tokenizer_encode_prompt (tok, rest[0], -1);

      /* each chunk from its BOS to its EOS, the padding left out */
      for (guint c = 0; c < chunks->len; c++)
        {
          const DfPromptChunk *chunk = &g_array_index (chunks, DfPromptChunk, c);

          for (int i = 0; i < chunk->n_tokens + 2; i++)
            {
              char w[G_ASCII_DTOSTR_BUF_SIZE];

              /* %g, with a dot whatever the locale */
              g_ascii_formatd (w, sizeof w, "%g", (double) chunk->weights[i]);
              g_string_append_printf (line, "%s%d:%s", line->len > 0 ? " " : "", chunk->ids[i], w);
            }
        }
    }
  printf ("%s\n", line->str);
  return 0;
}
