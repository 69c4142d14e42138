/* df-engine.c — the engine worker thread (layer 7).
 *
 * One long-lived thread owns the Vulkan context, the model and the
 * pipeline; requests (GTasks made on the caller's thread) wait in a
 * GAsyncQueue and run one at a time.  Nothing Vulkan happens on the
 * caller's thread.
 *
 * Progress: the worker keeps only the newest report of a job (older ones
 * are dropped, with their previews) and schedules at most one idle in the
 * caller's main context to deliver it.  Completion is delivered by an idle
 * too, which first marks the job finished, so a progress idle that runs
 * after it delivers nothing: progress never follows the completion
 * callback. */
#include <string.h>

#include "df-engine.h"

typedef enum
{
  REQ_LOAD,
  REQ_GENERATE,
  REQ_QUIT,
} ReqKind;

typedef struct
{
  ReqKind kind;
  GTask *task;          /* owned; NULL for REQ_QUIT */
  GMainContext *caller; /* owned */

  /* load */
  char *path;
  char *vocab_path;

  /* generate */
  DfJob *job;
  DfProgressFunc progress;
  gpointer progress_data;

  /* progress slot, shared with the caller's thread */
  GMutex lock;
  DfProgress pending;
  DfImage *pending_preview;
  gboolean has_pending;
  gboolean idle_scheduled;
  gboolean finished; /* caller's thread only */

  /* the result, handed to the caller's thread */
  GPtrArray *images;
  GArray *seeds;
  GError *error;
  gboolean ok;

  gint ref_count;
} Request;

struct _DfEngine
{
  GThread *thread;
  GAsyncQueue *queue; /* Request* */
  char *selector;

  GMutex lock;
  GCancellable *current; /* the running request's cancellable, if any */
  gboolean quitting;

  /* worker's own */
  DfContext *ctx;
  GError *ctx_error;
  DfModel *model;
  DfPipeline *pipeline;
};

static Request *
request_ref (Request *r)
{
  g_atomic_int_inc (&r->ref_count);
  return r;
}

static void
request_unref (Request *r)
{
  if (!g_atomic_int_dec_and_test (&r->ref_count))
    return;
  g_clear_object (&r->task);
  g_clear_pointer (&r->caller, g_main_context_unref);
  g_free (r->path);
  g_free (r->vocab_path);
  df_job_free (r->job);
  df_image_free (r->pending_preview);
  g_clear_pointer (&r->images, g_ptr_array_unref);
  g_clear_pointer (&r->seeds, g_array_unref);
  g_clear_error (&r->error);
  g_mutex_clear (&r->lock);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_unref)

static Request *
request_new (ReqKind kind, GCancellable *cancellable, GAsyncReadyCallback callback,
             gpointer user_data, gpointer tag)
{
  Request *r = g_new0 (Request, 1);

  r->ref_count = 1;
  r->kind = kind;
  g_mutex_init (&r->lock);
  r->caller = g_main_context_ref_thread_default ();
  if (kind != REQ_QUIT)
    {
      r->task = g_task_new (NULL, cancellable, callback, user_data);
      g_task_set_source_tag (r->task, tag);
    }
  return r;
}

/* ------------------------------------------------------------------------
 * Delivery on the caller's thread
 * ------------------------------------------------------------------------ */

static gboolean
deliver_progress (gpointer data)
{
  Request *r = data;
  DfProgress pr;
  g_autoptr (DfImage) preview = NULL;
  gboolean has;

  g_mutex_lock (&r->lock);
  has = r->has_pending;
  pr = r->pending;
  preview = g_steal_pointer (&r->pending_preview);
  r->has_pending = FALSE;
  r->idle_scheduled = FALSE;
  g_mutex_unlock (&r->lock);

  if (has && !r->finished && r->progress != NULL)
    {
      pr.preview = preview;
      r->progress (&pr, r->progress_data);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
deliver_result (gpointer data)
{
  Request *r = data;

  r->finished = TRUE;
  if (!r->ok)
    g_task_return_error (r->task, g_steal_pointer (&r->error));
  else if (r->kind == REQ_LOAD)
    g_task_return_boolean (r->task, TRUE);
  else
    {
      /* the seeds travel as the task's data */
      g_task_set_task_data (r->task, g_steal_pointer (&r->seeds), (GDestroyNotify) g_array_unref);
      g_task_return_pointer (r->task, g_steal_pointer (&r->images),
                             (GDestroyNotify) g_ptr_array_unref);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule (Request *r, GSourceFunc func)
{
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, request_ref (r), (GDestroyNotify) request_unref);
  g_source_set_static_name (source, "[diffuse] engine delivery");
  g_source_attach (source, r->caller);
}

/* Worker thread: keep the newest report, drop the stale one. */
static void
on_worker_progress (const DfProgress *pr, gpointer data)
{
  Request *r = data;
  DfImage *copy = pr->preview != NULL ? df_image_copy (pr->preview, NULL) : NULL;
  gboolean need_idle;

  g_mutex_lock (&r->lock);
  df_image_free (r->pending_preview);
  r->pending = *pr;
  r->pending.preview = NULL;
  r->pending_preview = copy;
  r->has_pending = TRUE;
  need_idle = !r->idle_scheduled;
  r->idle_scheduled = TRUE;
  g_mutex_unlock (&r->lock);
  if (need_idle)
    schedule (r, deliver_progress);
}

/* ------------------------------------------------------------------------
 * The worker
 * ------------------------------------------------------------------------ */

static gboolean
worker_load (DfEngine *e, Request *r, GCancellable *cancellable, GError **error)
{
  g_autoptr (DfModel) model = NULL;
  g_autoptr (DfPipeline) pipeline = NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  /* scaled-down test models open too: a model whose text encoder and UNet
   * agree is one we can run, whatever its width */
  if ((model = df_model_open_full (r->path, DF_MODEL_OPEN_ANY_SIZE, error)) == NULL)
    return FALSE;
  /* drop the old model first: two in device memory may not fit */
  g_clear_pointer (&e->pipeline, df_pipeline_free);
  g_clear_pointer (&e->model, df_model_free);
  df_context_trim (e->ctx);
  if ((pipeline = df_pipeline_new (e->ctx, model, r->vocab_path, error)) == NULL)
    return FALSE;
  e->model = g_steal_pointer (&model);
  e->pipeline = g_steal_pointer (&pipeline);
  return TRUE;
}

static gboolean
worker_generate (DfEngine *e, Request *r, GCancellable *cancellable, GError **error)
{
  if (e->pipeline == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "no model is loaded");
      return FALSE;
    }
  r->images = df_pipeline_run (e->pipeline, r->job, on_worker_progress, r, cancellable,
                               &r->seeds, error);
  return r->images != NULL;
}

static gpointer
worker (gpointer data)
{
  DfEngine *e = data;

  e->ctx = df_context_new (e->selector, &e->ctx_error);
  for (;;)
    {
      g_autoptr (Request) r = g_async_queue_pop (e->queue);
      GCancellable *cancellable;
      gboolean quitting;

      if (r->kind == REQ_QUIT)
        break;
      cancellable = g_task_get_cancellable (r->task);
      g_mutex_lock (&e->lock);
      quitting = e->quitting;
      g_set_object (&e->current, cancellable);
      g_mutex_unlock (&e->lock);

      if (quitting)
        g_set_error (&r->error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the engine is shutting down");
      else if (e->ctx == NULL)
        r->error = g_error_copy (e->ctx_error);
      else if (r->kind == REQ_LOAD)
        r->ok = worker_load (e, r, cancellable, &r->error);
      else
        r->ok = worker_generate (e, r, cancellable, &r->error);

      g_mutex_lock (&e->lock);
      g_clear_object (&e->current);
      g_mutex_unlock (&e->lock);
      schedule (r, deliver_result);
    }

  g_clear_pointer (&e->pipeline, df_pipeline_free);
  g_clear_pointer (&e->model, df_model_free);
  g_clear_pointer (&e->ctx, df_context_free);
  return NULL;
}

DfEngine *
df_engine_new (const char *device_selector)
{
  DfEngine *e = g_new0 (DfEngine, 1);

  e->selector = g_strdup (device_selector);
  e->queue = g_async_queue_new ();
  g_mutex_init (&e->lock);
  e->thread = g_thread_new ("diffuse-engine", worker, e);
  return e;
}

void
df_engine_free (DfEngine *e)
{
  if (e == NULL)
    return;
  g_mutex_lock (&e->lock);
  e->quitting = TRUE;
  if (e->current != NULL)
    g_cancellable_cancel (e->current);
  g_mutex_unlock (&e->lock);
  /* requests still queued end cancelled; their callbacks run in the
   * caller's main context as usual */
  g_async_queue_push (e->queue, request_new (REQ_QUIT, NULL, NULL, NULL, NULL));
  g_thread_join (e->thread);
  g_clear_error (&e->ctx_error);
  g_async_queue_unref (e->queue);
  g_mutex_clear (&e->lock);
  g_free (e->selector);
  g_free (e);
}

void
df_engine_load_model_async (DfEngine *engine, const char *path, const char *vocab_path,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  Request *r;

  g_return_if_fail (engine != NULL && path != NULL);

  r = request_new (REQ_LOAD, cancellable, callback, user_data, df_engine_load_model_async);
  r->path = g_strdup (path);
  r->vocab_path = g_strdup (vocab_path);
  g_async_queue_push (engine->queue, r);
}

gboolean
df_engine_load_model_finish (DfEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == df_engine_load_model_async,
                        FALSE);

  (void) engine;
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
df_engine_generate_async (DfEngine *engine, const DfJob *job, DfProgressFunc progress,
                          gpointer progress_data, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  Request *r;

  g_return_if_fail (engine != NULL && job != NULL);

  r = request_new (REQ_GENERATE, cancellable, callback, user_data, df_engine_generate_async);
  r->job = df_job_copy (job);
  r->progress = progress;
  r->progress_data = progress_data;
  g_async_queue_push (engine->queue, r);
}

GPtrArray *
df_engine_generate_finish (DfEngine *engine, GAsyncResult *result, GArray **seeds_out,
                           GError **error)
{
  GPtrArray *images;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == df_engine_generate_async,
                        NULL);

  (void) engine;
  images = g_task_propagate_pointer (G_TASK (result), error);
  if (images != NULL && seeds_out != NULL)
    {
      GArray *seeds = g_task_get_task_data (G_TASK (result));

      *seeds_out = seeds != NULL ? g_array_ref (seeds) : NULL;
    }
  return images;
}
