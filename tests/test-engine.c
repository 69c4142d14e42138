/* test-engine.c — the engine worker driven from a GMainLoop, as the app
 * drives it: a broken model is an error and the engine goes on; the tiny
 * model loads and generates with progress delivered on the calling thread,
 * never after the result; a cancel ends a job and the next one works. */
#include "df-engine.h"
#include "df-test.h"

typedef struct
{
  GMainLoop *loop;
  GThread *main_thread;
  gboolean ok;
  GError *error;
  GPtrArray *images;
  GArray *seeds;
  int progress_calls;
  int previews;
  gboolean done;
  gboolean progress_after_done;
  GCancellable *cancel_on_progress;
} State;

static void
state_reset (State *s)
{
  g_clear_error (&s->error);
  g_clear_pointer (&s->images, g_ptr_array_unref);
  g_clear_pointer (&s->seeds, g_array_unref);
  s->ok = FALSE;
  s->progress_calls = 0;
  s->previews = 0;
  s->done = FALSE;
  s->progress_after_done = FALSE;
  s->cancel_on_progress = NULL;
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer data)
{
  State *s = data;

  (void) source;
  g_assert_true (g_thread_self () == s->main_thread);
  s->ok = df_engine_load_model_finish (NULL, result, &s->error);
  s->done = TRUE;
  g_main_loop_quit (s->loop);
}

static void
on_progress (const DfProgress *pr, gpointer data)
{
  State *s = data;

  g_assert_true (g_thread_self () == s->main_thread);
  g_assert_cmpint (pr->step, >=, 1);
  g_assert_cmpint (pr->step, <=, pr->total);
  if (s->done)
    s->progress_after_done = TRUE;
  s->progress_calls++;
  s->previews += pr->preview != NULL;
  if (s->cancel_on_progress != NULL)
    g_cancellable_cancel (s->cancel_on_progress);
}

static void
on_generated (GObject *source, GAsyncResult *result, gpointer data)
{
  State *s = data;

  (void) source;
  g_assert_true (g_thread_self () == s->main_thread);
  s->images = df_engine_generate_finish (NULL, result, &s->seeds, &s->error);
  s->ok = s->images != NULL;
  s->done = TRUE;
  g_main_loop_quit (s->loop);
}

/* Runs the loop a little longer, so a late progress idle would show. */
static void
drain (State *s)
{
  GMainContext *ctx = g_main_loop_get_context (s->loop);

  for (int i = 0; i < 20; i++)
    g_main_context_iteration (ctx, FALSE);
}

static void
load (DfEngine *engine, State *s, const char *path)
{
  g_autofree char *vocab = df_test_data_path ("pipeline/tokenizer");

  state_reset (s);
  df_engine_load_model_async (engine, path, vocab, NULL, on_loaded, s);
  g_main_loop_run (s->loop);
}

static void
generate (DfEngine *engine, State *s, const DfJob *job, GCancellable *cancellable)
{
  df_engine_generate_async (engine, job, on_progress, s, cancellable, on_generated, s);
  g_main_loop_run (s->loop);
  drain (s);
}

static DfJob *
tiny_job (int steps)
{
  DfJob *job = df_job_new ();

  g_free (job->prompt);
  job->prompt = g_strdup ("a photo of a cat");
  job->width = job->height = 16;
  job->steps = steps;
  job->sampler = DF_SAMPLER_EULER;
  job->seed = 5;
  job->batch_count = 2;
  return job;
}

static void
test_engine (void)
{
  State s = { 0 };
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *broken = df_test_data_path ("pipeline/tokenizer");
  g_autofree char *tiny = df_test_data_path ("tiny/sd1");
  g_autoptr (DfJob) job = tiny_job (3);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  DfEngine *engine = df_engine_new (NULL);

  s.loop = loop;
  s.main_thread = g_thread_self ();

  /* generating before any model is an error, not a crash */
  state_reset (&s);
  generate (engine, &s, job, NULL);
  g_assert_false (s.ok);
  g_assert_error (s.error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);

  /* a folder that is no model: an error, and the engine goes on */
  load (engine, &s, broken);
  g_assert_false (s.ok);
  g_assert_nonnull (s.error);
  g_assert_true (s.error->domain == DF_ERROR);

  load (engine, &s, tiny);
  g_assert_no_error (s.error);
  g_assert_true (s.ok);

  state_reset (&s);
  generate (engine, &s, job, NULL);
  g_assert_no_error (s.error);
  g_assert_cmpuint (s.images->len, ==, 2);
  g_assert_cmpuint (g_array_index (s.seeds, uint64_t, 1), ==, 6);
  g_assert_cmpint (((DfImage *) g_ptr_array_index (s.images, 0))->width, ==, 16);
  /* coalesced: at least one report, at most one per step and image */
  g_assert_cmpint (s.progress_calls, >=, 1);
  g_assert_cmpint (s.progress_calls, <=, 6);
  g_assert_cmpint (s.previews, ==, s.progress_calls);
  g_assert_false (s.progress_after_done);

  /* cancel at the first report: the job ends cancelled */
  state_reset (&s);
  s.cancel_on_progress = cancellable;
  job->steps = 8;
  generate (engine, &s, job, cancellable);
  g_assert_false (s.ok);
  g_assert_error (s.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (s.progress_after_done);

  /* and the engine still works */
  state_reset (&s);
  job->steps = 2;
  job->batch_count = 1;
  generate (engine, &s, job, NULL);
  g_assert_no_error (s.error);
  g_assert_cmpuint (s.images->len, ==, 1);

  df_engine_free (engine);
  state_reset (&s);
}

/* A device that does not exist: every request gets the error. */
static void
test_no_device (void)
{
  State s = { 0 };
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *tiny = df_test_data_path ("tiny/sd1");
  DfEngine *engine = df_engine_new ("no such device at all");

  s.loop = loop;
  s.main_thread = g_thread_self ();
  load (engine, &s, tiny);
  g_assert_false (s.ok);
  g_assert_error (s.error, DF_ERROR, DF_ERROR_NO_DEVICE);
  df_engine_free (engine);
  state_reset (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/generate-cancel", test_engine);
  g_test_add_func ("/engine/no-device", test_no_device);
  return g_test_run ();
}
