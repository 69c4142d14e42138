/* test-replay.c — replayable recordings: a chain of ops recorded once and
 * submitted again with new inputs; the intermediates it freed while
 * recording stay pinned, so tensors made afterwards keep their contents;
 * failed and dropped recordings pin nothing; trim keeps pinned blocks;
 * timestamps on replays. */
#include <string.h>

#include "df-private.h"
#include "df-test.h"

/* sizes that are not multiples of any workgroup size */
#define M 37
#define K 29
#define N 53

typedef struct
{
  DfTensor *x;    /* [M, K] */
  DfTensor *w;    /* [N, K] */
  DfTensor *bias; /* [N] */
  DfTensor *c;    /* [M, N] */
  DfTensor *y;    /* [M, N] */
} Chain;

/* An fp32 tensor [d0, d1] (d1 = 0: [d0]). */
static DfTensor *
new_f32 (int64_t d0, int64_t d1)
{
  g_autoptr (GError) error = NULL;
  DfTensor *t = df_tensor_new4 (df_test_context (), DF_DTYPE_F32, d0, d1, 0, 0, &error);

  g_assert_no_error (error);
  return t;
}

static void
chain_init (Chain *ch)
{
  ch->x = new_f32 (M, K);
  ch->w = new_f32 (N, K);
  ch->bias = new_f32 (N, 0);
  ch->c = new_f32 (M, N);
  ch->y = new_f32 (M, N);
}

static void
chain_clear (Chain *ch)
{
  g_clear_pointer (&ch->x, df_tensor_free);
  g_clear_pointer (&ch->w, df_tensor_free);
  g_clear_pointer (&ch->bias, df_tensor_free);
  g_clear_pointer (&ch->c, df_tensor_free);
  g_clear_pointer (&ch->y, df_tensor_free);
}

/* Uploads inputs drawn from @seed and computes the expected y on the CPU:
 * y = (0.5 · (x · wᵀ + bias) + 1)² + c. */
static float *
chain_upload_g (Chain *ch, uint64_t seed, float *g_out)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *x = df_test_new_uniform (M * K, seed, -1, 1);
  g_autofree float *w = df_test_new_uniform (N * K, seed + 1, -1, 1);
  g_autofree float *bias = df_test_new_uniform (N, seed + 2, -1, 1);
  g_autofree float *c = df_test_new_uniform (M * N, seed + 3, -2, 2);
  float *want = g_new (float, M * N);

  g_assert_true (df_tensor_upload_f32 (ch->x, x, M * K, &error));
  g_assert_true (df_tensor_upload_f32 (ch->w, w, N * K, &error));
  g_assert_true (df_tensor_upload_f32 (ch->bias, bias, N, &error));
  g_assert_true (df_tensor_upload_f32 (ch->c, c, M * N, &error));
  g_assert_no_error (error);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++)
      {
        double h = bias[j];
        double g;

        for (int k = 0; k < K; k++)
          h += (double) x[i * K + k] * w[j * K + k];
        g = 0.5 * h + 1.0;
        want[i * N + j] = (float) (g * g + c[i * N + j]);
        if (g_out != NULL)
          g_out[i * N + j] = (float) g;
      }
  return want;
}

static float *
chain_upload (Chain *ch, uint64_t seed)
{
  return chain_upload_g (ch, seed, NULL);
}

/* Records the chain with three intermediates, each freed as soon as it
 * has been used, as the networks do. */
static gboolean
chain_record (Chain *ch, DfCmd *cmd, GError **error)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (DfTensor) h1 = NULL;
  g_autoptr (DfTensor) h2 = NULL;
  g_autoptr (DfTensor) h3 = NULL;

  if ((h1 = df_tensor_new4 (ctx, DF_DTYPE_F32, M, N, 0, 0, error)) == NULL
      || !df_op_linear (cmd, h1, ch->x, ch->w, ch->bias, error)
      || (h2 = df_tensor_new4 (ctx, DF_DTYPE_F32, M, N, 0, 0, error)) == NULL
      || !df_op_scale (cmd, h2, h1, 0.5f, 1.0f, error))
    return FALSE;
  g_clear_pointer (&h1, df_tensor_free);
  if ((h3 = df_tensor_new4 (ctx, DF_DTYPE_F32, M, N, 0, 0, error)) == NULL
      || !df_op_binary (cmd, h3, h2, h2, DF_BINARY_MUL, error))
    return FALSE;
  g_clear_pointer (&h2, df_tensor_free);
  return df_op_binary (cmd, ch->y, h3, ch->c, DF_BINARY_ADD, error);
}

/* y from an ordinary recording of the chain, for comparison. */
static float *
chain_fresh (Chain *ch)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = df_cmd_new (df_test_context (), &error);

  g_assert_no_error (error);
  g_assert_true (chain_record (ch, cmd, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_no_error (error);
  return df_test_download (ch->y);
}

/* Downloads the chain's y and compares it with @want; returns what it got. */
static float *
chain_check (const Chain *ch, const float *want)
{
  float *got = df_test_download (ch->y);

  df_test_assert_close (got, want, M * N, 1e-5);
  return got;
}

static void
test_replay (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autoptr (DfTensor) late = NULL;
  g_autofree float *pattern = df_test_new_uniform (2 * M * N, 99, -3, 3);
  Chain ch = { 0 };
  uint64_t before, peak, pinned, reserved;

  chain_init (&ch);
  before = df_context_get_allocated (ctx);
  df_context_reset_peak (ctx);
  cmd = df_cmd_new_replayable (ctx, &error);
  g_assert_no_error (error);
  g_assert_true (chain_record (&ch, cmd, &error));
  g_assert_no_error (error);
  peak = df_context_get_peak_allocated (ctx);
  reserved = df_context_get_reserved (ctx);
  g_assert_false (df_cmd_is_recorded (cmd));
  g_assert_cmpuint (df_cmd_get_pinned (cmd), ==, 0);

  for (int round = 0; round < 4; round++)
    {
      g_autofree float *want = chain_upload (&ch, 10 * (uint64_t) round + 1);
      g_autofree float *got = NULL;
      g_autofree float *fresh = NULL;
      g_autofree float *late_back = NULL;

      g_assert_true (df_cmd_submit_wait (cmd, &error));
      g_assert_no_error (error);
      g_assert_true (df_cmd_is_recorded (cmd));
      got = chain_check (&ch, want);

      /* an ordinary recording of the same ops gives the same numbers */
      fresh = chain_fresh (&ch);
      g_assert_cmpmem (got, M * N * sizeof (float), fresh, M * N * sizeof (float));

      if (round == 0)
        {
          /* the freed intermediates are pinned: no more than the
           * recording's own peak, and counted as allocated */
          pinned = df_cmd_get_pinned (cmd);
          g_assert_cmpuint (pinned, >=, 3 * M * N * sizeof (float) / 2);
          g_assert_cmpuint (pinned, <=, peak - before);
          g_assert_cmpuint (df_context_get_allocated (ctx), ==, before + pinned);
          /* taken from the free ranges of the blocks there were */
          g_assert_cmpuint (df_context_get_reserved (ctx), ==, reserved);

          /* a tensor made after the recording, of an intermediate's
           * size and more, where the first free range begins */
          late = df_test_tensor (ctx, DF_DTYPE_F32, pattern, 2,
                                 (const int64_t[]){ 2 * M, N });
        }
      else
        {
          late_back = df_test_download (late);
          g_assert_cmpmem (late_back, 2 * M * N * sizeof (float), pattern,
                           2 * M * N * sizeof (float));
        }
    }

  /* recording into a kept recording is refused */
  g_assert_false (df_op_scale (cmd, ch.y, ch.y, 1.0f, 0.0f, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_clear_pointer (&late, df_tensor_free);
  g_clear_pointer (&cmd, df_cmd_free);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);
  chain_clear (&ch);
}

/* A tensor made during the recording, alive at its end and freed while
 * the recording is kept, keeps its memory for the recording. */
static void
test_kept_tensor (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autoptr (DfTensor) h = NULL;
  g_autoptr (DfTensor) late = NULL;
  g_autofree float *pattern = df_test_new_uniform (M * N, 98, -3, 3);
  Chain ch = { 0 };
  uint64_t before, pinned;

  chain_init (&ch);
  before = df_context_get_allocated (ctx);
  cmd = df_cmd_new_replayable (ctx, &error);
  /* y = 0.5 · (x · wᵀ + bias) + 1 through h, which outlives the recording */
  h = df_tensor_new4 (ctx, DF_DTYPE_F32, M, N, 0, 0, &error);
  g_assert_true (df_op_linear (cmd, h, ch.x, ch.w, ch.bias, &error));
  g_assert_true (df_op_scale (cmd, ch.y, h, 0.5f, 1.0f, &error));
  g_assert_true (df_cmd_end (cmd, &error));
  g_assert_no_error (error);
  pinned = df_cmd_get_pinned (cmd);
  g_clear_pointer (&h, df_tensor_free);
  g_assert_cmpuint (df_cmd_get_pinned (cmd), >, pinned);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before + df_cmd_get_pinned (cmd));
  late = df_test_tensor (ctx, DF_DTYPE_F32, pattern, 2, (const int64_t[]){ M, N });

  for (int round = 0; round < 2; round++)
    {
      g_autofree float *want = g_new (float, M * N);
      g_autofree float *full = chain_upload_g (&ch, 40 + (uint64_t) round, want);
      g_autofree float *got = NULL;
      g_autofree float *late_back = NULL;

      g_assert_true (df_cmd_submit_wait (cmd, &error));
      g_assert_no_error (error);
      got = chain_check (&ch, want);
      late_back = df_test_download (late);
      g_assert_cmpmem (late_back, M * N * sizeof (float), pattern, M * N * sizeof (float));
    }

  g_clear_pointer (&cmd, df_cmd_free);
  g_clear_pointer (&late, df_tensor_free);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);
  chain_clear (&ch);
}

/* A replayable DfCmd reset after recording is recorded anew: another
 * chain, other tensors. */
static void
test_reset_rerecord (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autofree float *want_a = NULL;
  g_autofree float *want_b = NULL;
  g_autofree float *got = NULL;
  Chain a = { 0 }, b = { 0 };
  uint64_t before;

  chain_init (&a);
  chain_init (&b);
  want_a = chain_upload (&a, 5);
  want_b = chain_upload (&b, 7);
  before = df_context_get_allocated (ctx);
  cmd = df_cmd_new_replayable (ctx, &error);
  g_assert_no_error (error);
  g_assert_true (chain_record (&a, cmd, &error));
  g_assert_true (df_cmd_end (cmd, &error));
  g_assert_no_error (error);
  g_assert_true (df_cmd_is_recorded (cmd));
  g_assert_cmpuint (df_cmd_get_pinned (cmd), >, 0);
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  got = chain_check (&a, want_a);
  g_clear_pointer (&got, g_free);

  g_assert_true (df_cmd_reset (cmd, &error));
  g_assert_no_error (error);
  g_assert_false (df_cmd_is_recorded (cmd));
  g_assert_cmpuint (df_cmd_get_pinned (cmd), ==, 0);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);
  g_assert_true (chain_record (&b, cmd, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_no_error (error);
  got = chain_check (&b, want_b);

  g_clear_pointer (&cmd, df_cmd_free);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);
  chain_clear (&a);
  chain_clear (&b);
}

/* A recording that fails half-way, or is dropped before its end, leaves
 * nothing pinned and no recording open. */
static void
test_failed_recording (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autoptr (DfCmd) other = NULL;
  g_autoptr (DfTensor) h = NULL;
  g_autofree float *want = NULL;
  g_autofree float *got = NULL;
  Chain ch = { 0 };
  uint64_t before;

  chain_init (&ch);
  want = chain_upload (&ch, 3);
  before = df_context_get_allocated (ctx);

  cmd = df_cmd_new_replayable (ctx, &error);
  g_assert_no_error (error);
  h = df_tensor_new4 (ctx, DF_DTYPE_F32, M, N, 0, 0, &error);
  g_assert_true (df_op_linear (cmd, h, ch.x, ch.w, ch.bias, &error));
  g_clear_pointer (&h, df_tensor_free);
  /* while it is open, a second replayable recording cannot start */
  other = df_cmd_new_replayable (ctx, &error);
  g_assert_null (other);
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* an op that fails: x [M, K] and c [M, N] do not add */
  g_assert_false (df_op_binary (cmd, ch.y, ch.x, ch.c, DF_BINARY_ADD, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (df_cmd_reset (cmd, &error));
  g_assert_false (df_cmd_is_recorded (cmd));
  g_assert_cmpuint (df_cmd_get_pinned (cmd), ==, 0);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);

  /* the same DfCmd records again */
  g_assert_true (chain_record (&ch, cmd, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_no_error (error);
  got = chain_check (&ch, want);
  g_clear_pointer (&cmd, df_cmd_free);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);

  /* one freed in the middle of its recording, with a tensor it made alive */
  other = df_cmd_new_replayable (ctx, &error);
  g_assert_no_error (error);
  h = df_tensor_new4 (ctx, DF_DTYPE_F32, M, N, 0, 0, &error);
  g_assert_true (df_op_linear (other, h, ch.x, ch.w, ch.bias, &error));
  g_clear_pointer (&other, df_cmd_free);
  g_clear_pointer (&h, df_tensor_free);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);
  cmd = df_cmd_new_replayable (ctx, &error);
  g_assert_no_error (error);
  g_assert_true (chain_record (&ch, cmd, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_no_error (error);
  g_clear_pointer (&cmd, df_cmd_free);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, before);
  chain_clear (&ch);
}

/* df_context_trim keeps a block that only a kept recording still uses. */
static void
test_trim (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autofree float *want = NULL;
  Chain ch = { 0 };
  uint64_t reserved;

  df_context_trim (ctx);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, 0);
  g_assert_cmpuint (df_context_get_reserved (ctx), ==, 0);
  chain_init (&ch);
  want = chain_upload (&ch, 11);
  cmd = df_cmd_new_replayable (ctx, &error);
  g_assert_true (chain_record (&ch, cmd, &error));
  g_assert_true (df_cmd_end (cmd, &error));
  g_assert_no_error (error);
  reserved = df_context_get_reserved (ctx);
  g_assert_cmpuint (reserved, >, 0);

  /* only the pinned intermediates are left in the block (the recording
   * is not submitted again: its inputs are gone) */
  chain_clear (&ch);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, df_cmd_get_pinned (cmd));
  df_context_trim (ctx);
  g_assert_cmpuint (df_context_get_reserved (ctx), ==, reserved);
  g_clear_pointer (&cmd, df_cmd_free);
  g_assert_cmpuint (df_context_get_allocated (ctx), ==, 0);
  df_context_trim (ctx);
  g_assert_cmpuint (df_context_get_reserved (ctx), ==, 0);
}

static double
profile_total (DfCmd *cmd, guint *n_shaders)
{
  GHashTableIter iter;
  gpointer value;
  double total = 0;

  g_hash_table_iter_init (&iter, df_cmd_get_profile (cmd));
  while (g_hash_table_iter_next (&iter, NULL, &value))
    total += *(const double *) value;
  *n_shaders = g_hash_table_size (df_cmd_get_profile (cmd));
  return total;
}

/* Timestamps are written on every replay, each adding to the profile. */
static void
test_profile (void)
{
  DfContext *ctx = df_test_context ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DfCmd) cmd = NULL;
  g_autofree float *want = NULL;
  g_autofree float *got = NULL;
  Chain ch = { 0 };
  double first, second;
  guint n_first, n_second;

  g_assert_cmpfloat (df_context_get_info (ctx)->timestamp_period_ns, >, 0);
  chain_init (&ch);
  want = chain_upload (&ch, 21);
  cmd = df_cmd_new_replayable (ctx, &error);
  df_cmd_set_profiling (cmd, TRUE);
  g_assert_true (chain_record (&ch, cmd, &error));
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_no_error (error);
  first = profile_total (cmd, &n_first);
  g_assert_true (df_cmd_submit_wait (cmd, &error));
  g_assert_no_error (error);
  second = profile_total (cmd, &n_second);
  got = chain_check (&ch, want);

  /* the linear op's and the element-wise shaders, timed twice */
  g_assert_cmpuint (n_first, >=, 2);
  g_assert_cmpuint (n_second, ==, n_first);
  g_assert_cmpfloat (first, >, 0);
  g_assert_cmpfloat (second, >, first);
  g_clear_pointer (&cmd, df_cmd_free);
  chain_clear (&ch);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/replay/chain", test_replay);
  g_test_add_func ("/replay/kept-tensor", test_kept_tensor);
  g_test_add_func ("/replay/reset", test_reset_rerecord);
  g_test_add_func ("/replay/failed", test_failed_recording);
  g_test_add_func ("/replay/trim", test_trim);
  g_test_add_func ("/replay/profile", test_profile);
  ret = g_test_run ();
  df_test_context_free ();
  return ret;
}
