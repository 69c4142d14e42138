/* df-memory.c — device memory: large blocks sub-allocated first-fit, the
 * staging buffer for uploads and readbacks, and tensors.
 *
 * Every block is one VkDeviceMemory bound to one VkBuffer that covers it;
 * a sub-allocation is an aligned range of that buffer.  Freed ranges go
 * back to the block's free list (merged with their neighbours) and are
 * reused by later tensors; empty blocks are released by df_context_trim().
 * When the device memory is host-visible (lavapipe, integrated GPUs,
 * resizable BAR) tensors are mapped and copied directly; otherwise data
 * goes through a host-visible staging buffer.
 *
 * Pinning: a recording that is kept and submitted again (a replayable
 * DfCmd) still uses the ranges of the intermediates freed while it was
 * recorded, although the free lists already hold them.  While such a
 * recording is open, df_alloc_free() logs every range it gives back; when
 * the recording ends, df_memory_pin() takes what of those ranges is still
 * free out of the free lists again, counted as allocated, so that later
 * tensors cannot land on them; df_memory_unpin() gives them back when the
 * recording is dropped.  A tensor made during the recording and still
 * alive at its end is marked: when it is freed, its range goes to the
 * pins instead of the free list.  Pinned ranges keep their blocks in use,
 * so df_context_trim() leaves those blocks alone.  The pins are the union
 * of the ranges the step's intermediates took one after another, so they
 * can exceed the step's own peak by the holes first fit left between
 * them, but never the blocks that were there. */
#include <string.h>

#include "df-private.h"

#define DF_BLOCK_SIZE ((VkDeviceSize) 256 << 20)
#define DF_STAGING_SIZE ((VkDeviceSize) 32 << 20)
#define DF_ALIGN ((VkDeviceSize) 256)

typedef struct
{
  VkDeviceSize offset;
  VkDeviceSize size;
} Range;

/* A range of a block. */
typedef struct
{
  DfBlock *block;
  VkDeviceSize offset;
  VkDeviceSize size;
} BlockRange;

struct _DfPins
{
  GArray *log;      /* BlockRange: freed while the recording was open */
  GArray *ranges;   /* BlockRange: pinned */
  GHashTable *born; /* DfAlloc*: made while open; after the pin, the marked */
  VkDeviceSize bytes;
};

struct _DfBlock
{
  VkDeviceMemory memory;
  VkBuffer buffer;
  VkDeviceSize size;
  void *mapped;
  GArray *free; /* Range, sorted by offset, never adjacent */
  VkDeviceSize used;
};

static VkDeviceSize
align_up (VkDeviceSize v, VkDeviceSize a)
{
  return (v + a - 1) / a * a;
}

static int
find_memory_type (const VkPhysicalDeviceMemoryProperties *props, uint32_t type_bits,
                  VkMemoryPropertyFlags want)
{
  for (uint32_t i = 0; i < props->memoryTypeCount; i++)
    if ((type_bits & (1u << i)) && (props->memoryTypes[i].propertyFlags & want) == want)
      return (int) i;
  return -1;
}

static void
block_free (DfContext *ctx, DfBlock *b)
{
  if (b == NULL)
    return;
  if (b->mapped)
    vkUnmapMemory (ctx->device, b->memory);
  if (b->buffer != VK_NULL_HANDLE)
    vkDestroyBuffer (ctx->device, b->buffer, NULL);
  if (b->memory != VK_NULL_HANDLE)
    vkFreeMemory (ctx->device, b->memory, NULL);
  if (b->free)
    g_array_unref (b->free);
  g_free (b);
}

static DfBlock *
block_new (DfContext *ctx, VkDeviceSize size, uint32_t type, gboolean map, GError **error)
{
  DfBlock *b = g_new0 (DfBlock, 1);
  VkBufferCreateInfo buffer_info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = size,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
             | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  VkMemoryAllocateInfo alloc_info = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
  VkMemoryRequirements req;
  Range all = { 0, size };

  b->size = size;
  b->free = g_array_new (FALSE, FALSE, sizeof (Range));
  g_array_append_val (b->free, all);

  if (!df_vk_check (vkCreateBuffer (ctx->device, &buffer_info, NULL, &b->buffer), error))
    goto fail;
  vkGetBufferMemoryRequirements (ctx->device, b->buffer, &req);
  if (!(req.memoryTypeBits & (1u << type)))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_DEVICE,
                   "No suitable memory type for storage buffers");
      goto fail;
    }
  alloc_info.allocationSize = req.size;
  alloc_info.memoryTypeIndex = type;
  if (!df_vk_check (vkAllocateMemory (ctx->device, &alloc_info, NULL, &b->memory), error))
    {
      g_prefix_error (error, "Could not allocate %" G_GUINT64_FORMAT " MiB of device memory: ",
                      (guint64) (size >> 20));
      goto fail;
    }
  if (!df_vk_check (vkBindBufferMemory (ctx->device, b->buffer, b->memory, 0), error))
    goto fail;
  if (map && !df_vk_check (vkMapMemory (ctx->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped),
                           error))
    goto fail;
  return b;

fail:
  block_free (ctx, b);
  return NULL;
}

gboolean
df_memory_init (DfContext *ctx, GError **error)
{
  VkPhysicalDeviceMemoryProperties props;
  const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  const VkMemoryPropertyFlags host
      = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  VkBufferCreateInfo probe_info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = 4096,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
             | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
  };
  VkBuffer probe;
  VkMemoryRequirements req;
  int both, dev, stage;
  VkDeviceSize largest_local = 0;

  vkGetPhysicalDeviceMemoryProperties (ctx->physical, &props);
  if (!df_vk_check (vkCreateBuffer (ctx->device, &probe_info, NULL, &probe), error))
    return FALSE;
  vkGetBufferMemoryRequirements (ctx->device, probe, &req);
  vkDestroyBuffer (ctx->device, probe, NULL);

  for (uint32_t h = 0; h < props.memoryHeapCount; h++)
    if (props.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      largest_local = MAX (largest_local, props.memoryHeaps[h].size);

  both = find_memory_type (&props, req.memoryTypeBits, local | host);
  dev = find_memory_type (&props, req.memoryTypeBits, local);
  stage = find_memory_type (&props, req.memoryTypeBits, host);
  if (stage < 0 || (dev < 0 && both < 0))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_DEVICE,
                   "“%s” has no suitable memory types for compute buffers", ctx->info.name);
      return FALSE;
    }
  /* Mappable device memory is used for tensors only when its heap is the
   * big one (unified memory, lavapipe, resizable BAR), not a 256 MiB BAR
   * window. */
  if (both >= 0
      && props.memoryHeaps[props.memoryTypes[both].heapIndex].size >= largest_local)
    {
      ctx->memory_type_device = (uint32_t) both;
      ctx->device_memory_mappable = TRUE;
    }
  else
    {
      ctx->memory_type_device = (uint32_t) (dev >= 0 ? dev : both);
      ctx->device_memory_mappable = FALSE;
    }
  ctx->memory_type_staging = (uint32_t) stage;
  ctx->staging_size = DF_STAGING_SIZE;
  /* testing aid: DIFFUSE_TEST_STAGING=<bytes> moves every transfer through
   * a staging buffer of that size, as on GPUs without mappable memory */
  if (g_getenv ("DIFFUSE_TEST_STAGING") != NULL)
    {
      ctx->device_memory_mappable = FALSE;
      ctx->staging_size = MAX (g_ascii_strtoull (g_getenv ("DIFFUSE_TEST_STAGING"), NULL, 10), 64);
      ctx->staging_size -= ctx->staging_size % 16;
    }
  return TRUE;
}

static VkDeviceSize
alloc_alignment (DfContext *ctx)
{
  return MAX (DF_ALIGN, ctx->info.min_storage_buffer_offset_alignment);
}

/* First fit in one block; returns the offset or G_MAXUINT64. */
static VkDeviceSize
block_take (DfBlock *b, VkDeviceSize size)
{
  for (guint i = 0; i < b->free->len; i++)
    {
      Range *r = &g_array_index (b->free, Range, i);
      if (r->size < size)
        continue;
      VkDeviceSize offset = r->offset;
      r->offset += size;
      r->size -= size;
      if (r->size == 0)
        g_array_remove_index (b->free, i);
      b->used += size;
      return offset;
    }
  return G_MAXUINT64;
}

static void
block_give (DfBlock *b, VkDeviceSize offset, VkDeviceSize size)
{
  guint i = 0;
  Range r = { offset, size };

  while (i < b->free->len && g_array_index (b->free, Range, i).offset < offset)
    i++;
  g_array_insert_val (b->free, i, r);
  /* merge with the next, then with the previous */
  if (i + 1 < b->free->len)
    {
      Range *cur = &g_array_index (b->free, Range, i);
      Range *next = &g_array_index (b->free, Range, i + 1);
      if (cur->offset + cur->size == next->offset)
        {
          cur->size += next->size;
          g_array_remove_index (b->free, i + 1);
        }
    }
  if (i > 0)
    {
      Range *prev = &g_array_index (b->free, Range, i - 1);
      Range *cur = &g_array_index (b->free, Range, i);
      if (prev->offset + prev->size == cur->offset)
        {
          prev->size += cur->size;
          g_array_remove_index (b->free, i);
        }
    }
  b->used -= size;
}

DfAlloc *
df_alloc_new (DfContext *ctx, VkDeviceSize size, GError **error)
{
  VkDeviceSize reserved = align_up (MAX (size, 4), alloc_alignment (ctx));
  DfAlloc *a = NULL;
  DfBlock *b;
  VkDeviceSize offset = G_MAXUINT64;

  g_mutex_lock (&ctx->lock);
  for (guint i = 0; i < ctx->blocks->len && offset == G_MAXUINT64; i++)
    {
      b = g_ptr_array_index (ctx->blocks, i);
      offset = block_take (b, reserved);
    }
  if (offset == G_MAXUINT64)
    {
      b = block_new (ctx, MAX (DF_BLOCK_SIZE, reserved), ctx->memory_type_device,
                     ctx->device_memory_mappable, error);
      if (b == NULL)
        goto out;
      g_ptr_array_add (ctx->blocks, b);
      offset = block_take (b, reserved);
    }
  a = g_new0 (DfAlloc, 1);
  a->block = b;
  a->buffer = b->buffer;
  a->offset = offset;
  a->size = size;
  a->reserved = reserved;
  a->mapped = b->mapped ? (char *) b->mapped + offset : NULL;
  if (ctx->logging != NULL)
    g_hash_table_add (ctx->logging->born, a);
  ctx->allocated += reserved;
  ctx->peak_allocated = MAX (ctx->peak_allocated, ctx->allocated);
out:
  g_mutex_unlock (&ctx->lock);
  return a;
}

void
df_alloc_free (DfContext *ctx, DfAlloc *a)
{
  if (a == NULL)
    return;
  g_mutex_lock (&ctx->lock);
  if (a->pins != NULL)
    {
      /* a kept recording still uses it: the bytes stay allocated */
      g_hash_table_remove (a->pins->born, a);
      g_array_append_val (a->pins->ranges, ((BlockRange) { a->block, a->offset, a->reserved }));
      a->pins->bytes += a->reserved;
    }
  else
    {
      block_give (a->block, a->offset, a->reserved);
      ctx->allocated -= a->reserved;
      if (ctx->logging != NULL)
        {
          g_hash_table_remove (ctx->logging->born, a);
          g_array_append_val (ctx->logging->log,
                              ((BlockRange) { a->block, a->offset, a->reserved }));
        }
    }
  g_mutex_unlock (&ctx->lock);
  g_free (a);
}

/* ------------------------------------------------------------------------
 * Pinning for replayable recordings
 * ------------------------------------------------------------------------ */

DfPins *
df_pins_new (void)
{
  DfPins *pins = g_new0 (DfPins, 1);

  pins->log = g_array_new (FALSE, FALSE, sizeof (BlockRange));
  pins->ranges = g_array_new (FALSE, FALSE, sizeof (BlockRange));
  pins->born = g_hash_table_new (NULL, NULL);
  return pins;
}

void
df_pins_free (DfContext *ctx, DfPins *pins)
{
  if (pins == NULL)
    return;
  g_mutex_lock (&ctx->lock);
  if (ctx->logging == pins)
    ctx->logging = NULL;
  g_mutex_unlock (&ctx->lock);
  df_memory_unpin (ctx, pins);
  g_array_unref (pins->log);
  g_array_unref (pins->ranges);
  g_hash_table_unref (pins->born);
  g_free (pins);
}

VkDeviceSize
df_pins_get_bytes (DfPins *pins)
{
  return pins->bytes;
}

void
df_memory_log (DfContext *ctx, DfPins *pins)
{
  g_mutex_lock (&ctx->lock);
  g_assert (pins == NULL || ctx->logging == NULL);
  ctx->logging = pins;
  g_mutex_unlock (&ctx->lock);
}

static int
compare_ranges (gconstpointer a, gconstpointer b)
{
  const BlockRange *x = a, *y = b;
  uintptr_t bx = (uintptr_t) x->block, by = (uintptr_t) y->block;

  if (bx != by)
    return bx < by ? -1 : 1;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Takes the free parts of [begin, end) out of the block's free list and
 * appends them to @pinned; returns the bytes taken. */
static VkDeviceSize
block_claim (DfBlock *b, VkDeviceSize begin, VkDeviceSize end, GArray *pinned)
{
  VkDeviceSize taken = 0;
  guint i = 0;

  while (i < b->free->len)
    {
      Range r = g_array_index (b->free, Range, i);
      VkDeviceSize lo = MAX (r.offset, begin), hi = MIN (r.offset + r.size, end);
      Range left = { r.offset, lo - r.offset }, right = { hi, r.offset + r.size - hi };

      if (r.offset >= end)
        break;
      if (lo >= hi)
        {
          i++;
          continue;
        }
      g_array_remove_index (b->free, i);
      if (right.size > 0)
        g_array_insert_val (b->free, i, right);
      if (left.size > 0)
        g_array_insert_val (b->free, i++, left);
      if (right.size > 0)
        i++;
      b->used += hi - lo;
      taken += hi - lo;
      g_array_append_val (pinned, ((BlockRange) { b, lo, hi - lo }));
    }
  return taken;
}

VkDeviceSize
df_memory_pin (DfContext *ctx, DfPins *pins)
{
  GArray *log = pins->log;
  VkDeviceSize taken = 0;
  GHashTableIter iter;
  gpointer a;

  g_mutex_lock (&ctx->lock);
  if (ctx->logging == pins)
    ctx->logging = NULL;
  g_array_sort (log, compare_ranges);
  /* the union of the logged ranges, block by block */
  for (guint i = 0; i < log->len;)
    {
      BlockRange u = g_array_index (log, BlockRange, i);
      VkDeviceSize end = u.offset + u.size;

      for (i++; i < log->len; i++)
        {
          const BlockRange *next = &g_array_index (log, BlockRange, i);
          if (next->block != u.block || next->offset > end)
            break;
          end = MAX (end, next->offset + next->size);
        }
      taken += block_claim (u.block, u.offset, end, pins->ranges);
    }
  g_array_set_size (log, 0);
  /* tensors made while recording and still alive */
  g_hash_table_iter_init (&iter, pins->born);
  while (g_hash_table_iter_next (&iter, &a, NULL))
    ((DfAlloc *) a)->pins = pins;
  pins->bytes += taken;
  ctx->allocated += taken;
  ctx->peak_allocated = MAX (ctx->peak_allocated, ctx->allocated);
  g_mutex_unlock (&ctx->lock);
  return pins->bytes;
}

void
df_memory_unpin (DfContext *ctx, DfPins *pins)
{
  GHashTableIter iter;
  gpointer a;

  g_mutex_lock (&ctx->lock);
  for (guint i = 0; i < pins->ranges->len; i++)
    {
      const BlockRange *r = &g_array_index (pins->ranges, BlockRange, i);
      block_give (r->block, r->offset, r->size);
      ctx->allocated -= r->size;
    }
  g_array_set_size (pins->ranges, 0);
  g_array_set_size (pins->log, 0);
  g_hash_table_iter_init (&iter, pins->born);
  while (g_hash_table_iter_next (&iter, &a, NULL))
    ((DfAlloc *) a)->pins = NULL;
  g_hash_table_remove_all (pins->born);
  pins->bytes = 0;
  g_mutex_unlock (&ctx->lock);
}

/* Blocks are released only here, never in df_alloc_free(): a recording may
 * still refer to a freed range whose block would otherwise vanish before
 * the submit.  Call with no recording in flight.  Blocks that a kept
 * (replayable) recording uses hold its pinned ranges and stay; while a
 * replayable recording is open nothing is released, as its log of freed
 * ranges names the blocks. */
void
df_context_trim (DfContext *ctx)
{
  g_mutex_lock (&ctx->lock);
  for (guint i = ctx->blocks->len; i > 0 && ctx->logging == NULL; i--)
    {
      DfBlock *b = g_ptr_array_index (ctx->blocks, i - 1);
      if (b->used == 0)
        {
          g_ptr_array_remove_index (ctx->blocks, i - 1);
          block_free (ctx, b);
        }
    }
  g_mutex_unlock (&ctx->lock);
}

uint64_t
df_context_get_reserved (DfContext *ctx)
{
  uint64_t total = 0;

  g_mutex_lock (&ctx->lock);
  for (guint i = 0; i < ctx->blocks->len; i++)
    total += ((DfBlock *) g_ptr_array_index (ctx->blocks, i))->size;
  g_mutex_unlock (&ctx->lock);
  return total;
}

void
df_memory_cleanup (DfContext *ctx)
{
  if (ctx->staging)
    {
      block_free (ctx, ctx->staging);
      ctx->staging = NULL;
    }
  for (guint i = 0; i < ctx->blocks->len; i++)
    block_free (ctx, g_ptr_array_index (ctx->blocks, i));
  g_ptr_array_set_size (ctx->blocks, 0);
}

uint64_t
df_context_get_allocated (DfContext *ctx)
{
  return ctx->allocated;
}

uint64_t
df_context_get_peak_allocated (DfContext *ctx)
{
  return ctx->peak_allocated;
}

void
df_context_reset_peak (DfContext *ctx)
{
  ctx->peak_allocated = ctx->allocated;
}

/* ------------------------------------------------------------------------
 * Transfers
 * ------------------------------------------------------------------------ */

static DfBlock *
staging (DfContext *ctx, GError **error)
{
  if (ctx->staging == NULL)
    ctx->staging = block_new (ctx, ctx->staging_size, ctx->memory_type_staging, TRUE, error);
  return ctx->staging;
}

static gboolean
check_transfer (const DfTensor *t, size_t bytes, GError **error)
{
  if (bytes <= df_tensor_bytes (t))
    return TRUE;
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
               "Transfer of %zu bytes into a tensor of %zu bytes", bytes, df_tensor_bytes (t));
  return FALSE;
}

/* Uploads are written by @fill straight into memory the device reads: the
 * tensor's own memory when it is mapped, else the staging buffer, one
 * chunk at a time, each copied to the tensor by the device. */
gboolean
df_tensor_upload_with (DfTensor *t, size_t bytes, DfFillFunc fill, gpointer user_data,
                       GError **error)
{
  DfAlloc *a = t->alloc;
  DfContext *ctx = t->ctx;
  DfBlock *st;

  if (!check_transfer (t, bytes, error))
    return FALSE;
  if (a->mapped)
    return fill ((char *) a->mapped + t->offset, 0, bytes, user_data, error);
  st = staging (ctx, error);
  if (st == NULL)
    return FALSE;
  for (size_t done = 0; done < bytes;)
    {
      size_t chunk = MIN (bytes - done, (size_t) st->size);
      if (!fill (st->mapped, done, chunk, user_data, error)
          || !df_context_copy_buffer (ctx, st->buffer, 0, a->buffer, a->offset + t->offset + done,
                                      chunk, error))
        return FALSE;
      done += chunk;
    }
  return TRUE;
}

static gboolean
fill_copy (void *dst, size_t offset, size_t len, gpointer host, GError **error)
{
  memcpy (dst, (const char *) host + offset, len);
  return TRUE;
}

static gboolean
download (const DfTensor *t, void *host, size_t bytes, GError **error)
{
  DfAlloc *a = t->alloc;
  DfContext *ctx = t->ctx;
  VkDeviceSize base = a->offset + t->offset;
  DfBlock *st;

  if (!check_transfer (t, bytes, error))
    return FALSE;
  if (a->mapped)
    {
      memcpy (host, (char *) a->mapped + t->offset, bytes);
      return TRUE;
    }
  st = staging (ctx, error);
  if (st == NULL)
    return FALSE;
  for (size_t done = 0; done < bytes;)
    {
      size_t chunk = MIN (bytes - done, (size_t) st->size);
      if (!df_context_copy_buffer (ctx, a->buffer, base + done, st->buffer, 0, chunk, error))
        return FALSE;
      memcpy ((char *) host + done, st->mapped, chunk);
      done += chunk;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------
 * Tensors
 * ------------------------------------------------------------------------ */

int64_t
df_tensor_numel (const DfTensor *t)
{
  int64_t n = 1;

  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

size_t
df_tensor_bytes (const DfTensor *t)
{
  return (size_t) df_tensor_numel (t) * df_dtype_size (t->dtype);
}

static gboolean
valid_shape (int ndim, const int64_t *shape, GError **error)
{
  int64_t n = 1;

  if (ndim < 1 || ndim > DF_MAX_DIMS)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "A tensor has 1 to %d dimensions, not %d", DF_MAX_DIMS, ndim);
      return FALSE;
    }
  for (int i = 0; i < ndim; i++)
    {
      if (shape[i] <= 0 || shape[i] > ((int64_t) 1 << 40) || n > ((int64_t) 1 << 40) / shape[i])
        {
          g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                       "Invalid tensor dimension %" G_GINT64_FORMAT, shape[i]);
          return FALSE;
        }
      n *= shape[i];
    }
  return TRUE;
}

DfTensor *
df_tensor_new (DfContext *ctx, DfDType dtype, int ndim, const int64_t *shape, GError **error)
{
  DfTensor *t;

  if (!valid_shape (ndim, shape, error))
    return NULL;
  if (dtype == DF_DTYPE_F16 && !ctx->info.storage_16bit)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_DEVICE,
                   "“%s” cannot store fp16 tensors (no 16-bit storage)", ctx->info.name);
      return NULL;
    }
  t = g_new0 (DfTensor, 1);
  t->ctx = ctx;
  t->dtype = dtype;
  t->ndim = ndim;
  memcpy (t->shape, shape, sizeof (int64_t) * (size_t) ndim);
  t->alloc = df_alloc_new (ctx, df_tensor_bytes (t), error);
  if (t->alloc == NULL)
    {
      g_free (t);
      return NULL;
    }
  return t;
}

DfTensor *
df_tensor_new4 (DfContext *ctx, DfDType dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                GError **error)
{
  int64_t shape[4] = { d0, d1, d2, d3 };
  int ndim = 4;

  while (ndim > 1 && shape[ndim - 1] == 0)
    ndim--;
  return df_tensor_new (ctx, dtype, ndim, shape, error);
}

void
df_tensor_free (DfTensor *t)
{
  if (t == NULL)
    return;
  if (!t->view)
    df_alloc_free (t->ctx, t->alloc);
  g_free (t);
}

DfTensor *
df_tensor_view_rows (DfTensor *t, int64_t row0, int64_t n_rows, GError **error)
{
  int64_t c = t->shape[t->ndim - 1];
  int64_t rows = df_tensor_numel (t) / c;
  uint64_t offset = t->offset + (uint64_t) (row0 * c) * df_dtype_size (t->dtype);
  uint64_t align = MAX (t->ctx->info.min_storage_buffer_offset_alignment, 4);
  DfTensor *v;

  if (row0 < 0 || n_rows < 1 || row0 + n_rows > rows || offset % align != 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Cannot view rows %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT " of %s (%"
                   G_GINT64_FORMAT " rows, offsets aligned to %" G_GUINT64_FORMAT " bytes)",
                   row0, row0 + n_rows - 1, df_shape_str (t), rows, (guint64) align);
      return NULL;
    }
  v = g_new0 (DfTensor, 1);
  v->ctx = t->ctx;
  v->alloc = t->alloc;
  v->dtype = t->dtype;
  v->ndim = 2;
  v->shape[0] = n_rows;
  v->shape[1] = c;
  v->offset = offset;
  v->view = TRUE;
  return v;
}

gboolean
df_tensor_reshape (DfTensor *t, int ndim, const int64_t *shape, GError **error)
{
  int64_t n = 1;

  if (!valid_shape (ndim, shape, error))
    return FALSE;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  if (n != df_tensor_numel (t))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Cannot reshape %s (%" G_GINT64_FORMAT " elements) to %" G_GINT64_FORMAT
                   " elements",
                   df_shape_str (t), df_tensor_numel (t), n);
      return FALSE;
    }
  t->ndim = ndim;
  memcpy (t->shape, shape, sizeof (int64_t) * (size_t) ndim);
  return TRUE;
}

gboolean
df_tensor_upload (DfTensor *t, const void *data, size_t bytes, GError **error)
{
  return df_tensor_upload_with (t, bytes, fill_copy, (gpointer) data, error);
}

gboolean
df_tensor_download (const DfTensor *t, void *data, size_t bytes, GError **error)
{
  return download (t, data, bytes, error);
}

gboolean
df_tensor_upload_f32 (DfTensor *t, const float *data, int64_t n, GError **error)
{
  g_autofree uint16_t *half = NULL;

  if (n != df_tensor_numel (t) || t->dtype == DF_DTYPE_U32)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Uploading %" G_GINT64_FORMAT " floats into a %s tensor %s", n,
                   df_dtype_name (t->dtype), df_shape_str (t));
      return FALSE;
    }
  if (t->dtype == DF_DTYPE_F32)
    return df_tensor_upload (t, data, (size_t) n * sizeof (float), error);
  half = g_new (uint16_t, MAX (n, 1));
  for (int64_t i = 0; i < n; i++)
    half[i] = df_f32_to_f16 (data[i]);
  return df_tensor_upload (t, half, (size_t) n * sizeof (uint16_t), error);
}

gboolean
df_tensor_download_f32 (const DfTensor *t, float *data, int64_t n, GError **error)
{
  g_autofree uint16_t *half = NULL;

  if (n != df_tensor_numel (t) || t->dtype == DF_DTYPE_U32)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Downloading %" G_GINT64_FORMAT " floats from a %s tensor %s", n,
                   df_dtype_name (t->dtype), df_shape_str (t));
      return FALSE;
    }
  if (t->dtype == DF_DTYPE_F32)
    return df_tensor_download (t, data, (size_t) n * sizeof (float), error);
  half = g_new (uint16_t, MAX (n, 1));
  if (!df_tensor_download (t, half, (size_t) n * sizeof (uint16_t), error))
    return FALSE;
  for (int64_t i = 0; i < n; i++)
    data[i] = df_f16_to_f32 (half[i]);
  return TRUE;
}
