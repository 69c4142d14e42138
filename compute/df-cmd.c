/* df-cmd.c — recording dispatches: pipelines on first use, push
 * descriptors, the barriers that are needed and no more, submission and
 * GPU timestamps.
 *
 * Hazard tracking: the recording keeps the buffer ranges written and read
 * since the last barrier.  A dispatch that reads or writes a range written
 * before (read-after-write, write-after-write), or writes a range read
 * before (write-after-read), gets one global compute→compute memory
 * barrier first, which clears both lists.  Independent dispatches run
 * without barriers between them.
 *
 * Replay: an ordinary DfCmd records, is submitted once and starts a new
 * recording.  A replayable one (df_cmd_new_replayable) records without
 * ONE_TIME_SUBMIT, and its first submit (or df_cmd_end) ends the recording
 * for good: every later submit runs the same command buffer again, with
 * whatever the caller uploaded into its tensors in between.  From its
 * creation (or df_cmd_reset) to the end of its recording the allocator
 * logs what is freed and made; the intermediates its ops freed are pinned
 * (df-memory.c) from the end of the recording until df_cmd_reset or
 * df_cmd_free, so that tensors made later never share memory with them.
 * Only one such log may be open per context.
 * Profiling works on replays: the query pool is reset inside the command
 * buffer, and every submit adds its timestamps to the profile.  A tensor
 * made during the recording and still alive at its end may be freed
 * while the recording is kept: its memory then stays with the recording. */
#include <string.h>

#include "df-private.h"

#define DF_MAX_QUERIES 4096

typedef struct
{
  VkBuffer buffer;
  VkDeviceSize begin, end;
} Span;

struct _DfCmd
{
  DfContext *ctx;
  VkCommandBuffer cb;
  VkFence fence;
  gboolean recording;
  guint n_dispatches;
  guint n_barriers;   /* between dispatches, in the current recording */

  gboolean replayable;
  gboolean recorded;  /* replayable: the recording ended; submits replay it */
  DfPins *pins;       /* the memory kept for the replays */
  GArray *written; /* Span */
  GArray *read;    /* Span */

  gboolean profiling;
  VkQueryPool queries;
  uint32_t n_queries;
  GPtrArray *labels; /* const char *, one per query after the first */
  GHashTable *profile; /* name → double* ms */
};

DfContext *
df_cmd_get_context (DfCmd *cmd)
{
  return cmd->ctx;
}

uint32_t
df_groups_1d (DfContext *ctx, int64_t n, uint32_t wg)
{
  int64_t groups = (n + wg - 1) / wg;

  return (uint32_t) CLAMP (groups, 1, (int64_t) MIN (ctx->info.max_workgroup_count[0], 65535u));
}

/* ------------------------------------------------------------------------
 * Pipelines
 * ------------------------------------------------------------------------ */

static DfPipeline *
pipeline_get (DfContext *ctx, const DfDispatch *d, GError **error)
{
  GString *key = g_string_new (NULL);
  DfPipeline *p;
  const DfShaderCode *code = df_shader_get (d->shader);
  VkDescriptorSetLayoutBinding bindings[DF_MAX_BINDINGS];
  VkDescriptorSetLayoutCreateInfo set_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR,
    .bindingCount = (uint32_t) d->n_bindings,
    .pBindings = bindings,
  };
  VkPushConstantRange range = {
    .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    .size = d->push_size,
  };
  VkPipelineLayoutCreateInfo layout_info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1,
    .pushConstantRangeCount = d->push_size > 0 ? 1 : 0,
    .pPushConstantRanges = &range,
  };
  VkShaderModuleCreateInfo module_info = {
    .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
    .codeSize = code->size,
    .pCode = code->code,
  };
  VkSpecializationMapEntry entries[DF_MAX_SPEC];
  VkSpecializationInfo spec = {
    .mapEntryCount = (uint32_t) d->n_spec,
    .pMapEntries = entries,
    .dataSize = sizeof (uint32_t) * (size_t) d->n_spec,
    .pData = d->spec,
  };
  VkComputePipelineCreateInfo pipe_info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .flags = d->full_subgroups ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT : 0,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
      .pName = "main",
      .pSpecializationInfo = &spec,
    },
  };
  VkShaderModule module = VK_NULL_HANDLE;
  VkResult r;

  g_string_append_printf (key, "%d/%d/%u/%d", (int) d->shader, d->n_bindings, d->push_size,
                          d->full_subgroups);
  for (int i = 0; i < d->n_spec; i++)
    g_string_append_printf (key, "/%u", d->spec[i]);
  p = g_hash_table_lookup (ctx->pipelines, key->str);
  if (p != NULL)
    {
      g_string_free (key, TRUE);
      return p;
    }

  for (int i = 0; i < d->n_bindings; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding){
      .binding = (uint32_t) i,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  for (int i = 0; i < d->n_spec; i++)
    entries[i] = (VkSpecializationMapEntry){
      .constantID = (uint32_t) i,
      .offset = (uint32_t) (sizeof (uint32_t) * (size_t) i),
      .size = sizeof (uint32_t),
    };

  p = g_new0 (DfPipeline, 1);
  p->n_bindings = d->n_bindings;
  p->push_size = d->push_size;
  r = vkCreateDescriptorSetLayout (ctx->device, &set_info, NULL, &p->set_layout);
  if (!df_vk_check (r, error))
    goto fail;
  layout_info.pSetLayouts = &p->set_layout;
  r = vkCreatePipelineLayout (ctx->device, &layout_info, NULL, &p->layout);
  if (!df_vk_check (r, error))
    goto fail;
  r = vkCreateShaderModule (ctx->device, &module_info, NULL, &module);
  if (!df_vk_check (r, error))
    goto fail;
  pipe_info.stage.module = module;
  pipe_info.layout = p->layout;
  r = vkCreateComputePipelines (ctx->device, ctx->pipeline_cache, 1, &pipe_info, NULL,
                                &p->pipeline);
  vkDestroyShaderModule (ctx->device, module, NULL);
  if (!df_vk_check (r, error))
    {
      g_prefix_error (error, "Shader %s: ", code->name);
      goto fail;
    }
  g_hash_table_insert (ctx->pipelines, g_string_free (key, FALSE), p);
  return p;

fail:
  if (p->layout)
    vkDestroyPipelineLayout (ctx->device, p->layout, NULL);
  if (p->set_layout)
    vkDestroyDescriptorSetLayout (ctx->device, p->set_layout, NULL);
  g_free (p);
  g_string_free (key, TRUE);
  return NULL;
}

/* ------------------------------------------------------------------------
 * Recording
 * ------------------------------------------------------------------------ */

static gboolean
begin (DfCmd *cmd, GError **error)
{
  VkCommandBufferBeginInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = cmd->replayable ? 0 : VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };

  if (!df_vk_check (vkBeginCommandBuffer (cmd->cb, &info), error))
    return FALSE;
  cmd->recording = TRUE;
  cmd->n_dispatches = 0;
  cmd->n_barriers = 0;
  g_array_set_size (cmd->written, 0);
  g_array_set_size (cmd->read, 0);
  cmd->n_queries = 0;
  g_ptr_array_set_size (cmd->labels, 0);
  if (cmd->profiling && cmd->queries != VK_NULL_HANDLE)
    {
      vkCmdResetQueryPool (cmd->cb, cmd->queries, 0, DF_MAX_QUERIES);
      vkCmdWriteTimestamp (cmd->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, cmd->queries, 0);
      cmd->n_queries = 1;
    }
  return TRUE;
}

/* A replayable recording tracks the memory from its creation or reset:
 * the allocator logs what is freed and made until the recording ends. */
static gboolean
open_log (DfCmd *cmd, GError **error)
{
  if (cmd->ctx->logging != NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Another replayable recording is open on this device");
      return FALSE;
    }
  df_memory_log (cmd->ctx, cmd->pins);
  return TRUE;
}

static DfCmd *
cmd_new (DfContext *ctx, gboolean replayable, GError **error)
{
  g_autoptr (DfCmd) cmd = g_new0 (DfCmd, 1);
  VkCommandBufferAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = ctx->pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };

  cmd->ctx = ctx;
  cmd->written = g_array_new (FALSE, FALSE, sizeof (Span));
  cmd->read = g_array_new (FALSE, FALSE, sizeof (Span));
  cmd->labels = g_ptr_array_new ();
  cmd->profile = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  cmd->replayable = replayable;
  cmd->pins = df_pins_new ();
  if (!df_vk_check (vkAllocateCommandBuffers (ctx->device, &alloc, &cmd->cb), error))
    return NULL;
  if (!df_vk_check (vkCreateFence (ctx->device, &fence_info, NULL, &cmd->fence), error))
    return NULL;
  if (replayable ? !open_log (cmd, error) : !begin (cmd, error))
    return NULL;
  return g_steal_pointer (&cmd);
}

DfCmd *
df_cmd_new (DfContext *ctx, GError **error)
{
  return cmd_new (ctx, FALSE, error);
}

DfCmd *
df_cmd_new_replayable (DfContext *ctx, GError **error)
{
  return cmd_new (ctx, TRUE, error);
}

/* Ends the recording, if one is open, and releases what it pinned. */
static void
discard (DfCmd *cmd)
{
  if (cmd->recording && cmd->cb != VK_NULL_HANDLE)
    vkEndCommandBuffer (cmd->cb);
  cmd->recording = FALSE;
  cmd->recorded = FALSE;
  if (cmd->pins != NULL)
    {
      if (cmd->ctx->logging == cmd->pins)
        df_memory_log (cmd->ctx, NULL);
      df_memory_unpin (cmd->ctx, cmd->pins);
    }
}

gboolean
df_cmd_reset (DfCmd *cmd, GError **error)
{
  g_return_val_if_fail (cmd != NULL, FALSE);

  discard (cmd);
  vkResetCommandBuffer (cmd->cb, 0);
  cmd->n_dispatches = 0;
  cmd->n_barriers = 0;
  return !cmd->replayable || open_log (cmd, error);
}

gboolean
df_cmd_is_recorded (DfCmd *cmd)
{
  g_return_val_if_fail (cmd != NULL, FALSE);

  return cmd->recorded;
}

guint
df_cmd_get_dispatches (DfCmd *cmd, guint *barriers)
{
  g_return_val_if_fail (cmd != NULL, 0);

  if (barriers != NULL)
    *barriers = cmd->n_barriers;
  return cmd->n_dispatches;
}

uint64_t
df_cmd_get_pinned (DfCmd *cmd)
{
  g_return_val_if_fail (cmd != NULL, 0);

  return df_pins_get_bytes (cmd->pins);
}

void
df_cmd_free (DfCmd *cmd)
{
  VkDevice device;

  if (cmd == NULL)
    return;
  device = cmd->ctx->device;
  discard (cmd);
  if (cmd->cb != VK_NULL_HANDLE)
    vkFreeCommandBuffers (device, cmd->ctx->pool, 1, &cmd->cb);
  if (cmd->fence != VK_NULL_HANDLE)
    vkDestroyFence (device, cmd->fence, NULL);
  if (cmd->queries != VK_NULL_HANDLE)
    vkDestroyQueryPool (device, cmd->queries, NULL);
  g_clear_pointer (&cmd->written, g_array_unref);
  g_clear_pointer (&cmd->read, g_array_unref);
  g_clear_pointer (&cmd->labels, g_ptr_array_unref);
  g_clear_pointer (&cmd->profile, g_hash_table_unref);
  df_pins_free (cmd->ctx, g_steal_pointer (&cmd->pins));
  g_free (cmd);
}

void
df_cmd_set_profiling (DfCmd *cmd, gboolean enabled)
{
  VkQueryPoolCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
    .queryType = VK_QUERY_TYPE_TIMESTAMP,
    .queryCount = DF_MAX_QUERIES,
  };

  if (enabled && cmd->ctx->info.timestamp_period_ns <= 0)
    enabled = FALSE;
  if (enabled && cmd->queries == VK_NULL_HANDLE
      && vkCreateQueryPool (cmd->ctx->device, &info, NULL, &cmd->queries) != VK_SUCCESS)
    enabled = FALSE;
  cmd->profiling = enabled;
  /* takes effect at the next recording if this one has begun */
  if (enabled && cmd->recording && cmd->n_dispatches == 0 && cmd->n_queries == 0)
    {
      vkCmdResetQueryPool (cmd->cb, cmd->queries, 0, DF_MAX_QUERIES);
      vkCmdWriteTimestamp (cmd->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, cmd->queries, 0);
      cmd->n_queries = 1;
    }
}

static gboolean
overlaps (GArray *spans, const Span *s)
{
  for (guint i = 0; i < spans->len; i++)
    {
      const Span *o = &g_array_index (spans, Span, i);
      if (o->buffer == s->buffer && o->begin < s->end && s->begin < o->end)
        return TRUE;
    }
  return FALSE;
}

static void
barrier (DfCmd *cmd)
{
  VkMemoryBarrier b = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
  };

  vkCmdPipelineBarrier (cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &b, 0, NULL, 0, NULL);
  cmd->n_barriers++;
  g_array_set_size (cmd->written, 0);
  g_array_set_size (cmd->read, 0);
}

gboolean
df_cmd_dispatch (DfCmd *cmd, const DfDispatch *d, GError **error)
{
  DfContext *ctx = cmd->ctx;
  DfPipeline *p;
  VkDescriptorBufferInfo infos[DF_MAX_BINDINGS];
  VkWriteDescriptorSet writes[DF_MAX_BINDINGS];
  Span spans[DF_MAX_BINDINGS];
  gboolean need_barrier = FALSE;

  g_assert (d->n_bindings > 0 && d->n_bindings <= DF_MAX_BINDINGS);
  g_assert (d->n_spec >= 0 && d->n_spec <= DF_MAX_SPEC);
  g_assert (d->push_size <= 128 && d->push_size % 4 == 0);

  if (cmd->recorded)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "%s: the command buffer is recorded for replay; reset it first",
                   df_shader_get (d->shader)->name);
      return FALSE;
    }
  if (!cmd->recording && !begin (cmd, error))
    return FALSE;
  for (int i = 0; i < 3; i++)
    if (d->groups[i] == 0 || d->groups[i] > ctx->info.max_workgroup_count[i])
      {
        g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                     "%s: %u workgroups along axis %d exceed the device limit %u",
                     df_shader_get (d->shader)->name, d->groups[i], i,
                     ctx->info.max_workgroup_count[i]);
        return FALSE;
      }

  for (int i = 0; i < d->n_bindings; i++)
    {
      const DfTensor *t = d->bindings[i];
      const DfAlloc *a;
      VkDeviceSize bytes;

      g_assert (t != NULL && t->ctx == ctx);
      a = t->alloc;
      bytes = df_tensor_bytes (t);
      if (bytes > ctx->info.max_storage_buffer_range)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                       "%s: tensor %s is %" G_GUINT64_FORMAT " MiB, over the device's "
                       "limit of %" G_GUINT64_FORMAT " MiB per buffer binding",
                       df_shader_get (d->shader)->name, df_shape_str (t),
                       (guint64) (bytes >> 20),
                       (guint64) (ctx->info.max_storage_buffer_range >> 20));
          return FALSE;
        }
      infos[i] = (VkDescriptorBufferInfo){ a->buffer, a->offset + t->offset, bytes };
      writes[i] = (VkWriteDescriptorSet){
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstBinding = (uint32_t) i,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &infos[i],
      };
      spans[i] = (Span){ a->buffer, a->offset + t->offset, a->offset + t->offset + bytes };
      if (overlaps (cmd->written, &spans[i])
          || ((d->write_mask & (1u << i)) && overlaps (cmd->read, &spans[i])))
        need_barrier = TRUE;
    }

  p = pipeline_get (ctx, d, error);
  if (p == NULL)
    return FALSE;
  g_assert (p->n_bindings == d->n_bindings && p->push_size == d->push_size);

  if (need_barrier)
    barrier (cmd);
  for (int i = 0; i < d->n_bindings; i++)
    g_array_append_val ((d->write_mask & (1u << i)) ? cmd->written : cmd->read, spans[i]);

  vkCmdBindPipeline (cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
  ctx->push_descriptor_set (cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0,
                            (uint32_t) d->n_bindings, writes);
  if (d->push_size > 0)
    vkCmdPushConstants (cmd->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_size,
                        d->push);
  vkCmdDispatch (cmd->cb, d->groups[0], d->groups[1], d->groups[2]);
  cmd->n_dispatches++;

  if (cmd->profiling && cmd->n_queries > 0 && cmd->n_queries < DF_MAX_QUERIES)
    {
      vkCmdWriteTimestamp (cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, cmd->queries,
                           cmd->n_queries++);
      g_ptr_array_add (cmd->labels, (gpointer) df_shader_get (d->shader)->name);
    }
  return TRUE;
}

static void
collect_profile (DfCmd *cmd)
{
  g_autofree uint64_t *stamps = NULL;
  double period_ms = cmd->ctx->info.timestamp_period_ns * 1e-6;

  if (cmd->n_queries < 2)
    return;
  stamps = g_new0 (uint64_t, cmd->n_queries);
  if (vkGetQueryPoolResults (cmd->ctx->device, cmd->queries, 0, cmd->n_queries,
                             sizeof (uint64_t) * cmd->n_queries, stamps, sizeof (uint64_t),
                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT)
      != VK_SUCCESS)
    return;
  for (uint32_t i = 1; i < cmd->n_queries; i++)
    {
      const char *name = g_ptr_array_index (cmd->labels, i - 1);
      double *ms = g_hash_table_lookup (cmd->profile, name);
      if (ms == NULL)
        {
          ms = g_new0 (double, 1);
          g_hash_table_insert (cmd->profile, (gpointer) name, ms);
        }
      *ms += (double) (stamps[i] - stamps[i - 1]) * period_ms;
    }
}

/* Closes the recording (begun if need be) with the barrier that makes
 * every shader write visible to the host and to transfers; a replayable
 * recording is then kept and what it freed is pinned. */
static gboolean
end (DfCmd *cmd, GError **error)
{
  VkMemoryBarrier host = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT,
  };

  if (!cmd->recording && !begin (cmd, error))
    return FALSE;
  vkCmdPipelineBarrier (cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                        VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &host,
                        0, NULL, 0, NULL);
  cmd->recording = FALSE;
  if (!df_vk_check (vkEndCommandBuffer (cmd->cb), error))
    {
      if (cmd->replayable)
        discard (cmd);
      return FALSE;
    }
  if (cmd->replayable)
    {
      df_memory_pin (cmd->ctx, cmd->pins);
      cmd->recorded = TRUE;
    }
  return TRUE;
}

gboolean
df_cmd_end (DfCmd *cmd, GError **error)
{
  g_return_val_if_fail (cmd != NULL && cmd->replayable, FALSE);

  return cmd->recorded || end (cmd, error);
}

gboolean
df_cmd_submit_wait (DfCmd *cmd, GError **error)
{
  DfContext *ctx = cmd->ctx;
  VkSubmitInfo submit = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .commandBufferCount = 1,
    .pCommandBuffers = &cmd->cb,
  };
  gboolean ok;

  if (!cmd->recorded && !end (cmd, error))
    return FALSE;
  if (!df_vk_check (vkQueueSubmit (ctx->queue, 1, &submit, cmd->fence), error))
    return FALSE;
  ok = df_vk_check (vkWaitForFences (ctx->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX), error);
  vkResetFences (ctx->device, 1, &cmd->fence);
  if (ok && cmd->profiling)
    collect_profile (cmd);
  if (cmd->replayable)
    return ok;
  vkResetCommandBuffer (cmd->cb, 0);
  if (!ok)
    return FALSE;
  return begin (cmd, error);
}

GHashTable *
df_cmd_get_profile (DfCmd *cmd)
{
  return cmd->profile;
}
