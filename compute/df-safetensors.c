/* df-safetensors.c — a strict, memory-mapped safetensors reader.
 *
 * Nothing in a file is trusted: every length, offset and shape is checked
 * before a pointer into the mapping is handed out, and every failure is a
 * GError that names the file. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "df.h"

struct _DfSafetensors
{
  char *path;         /* for messages */
  GMappedFile *map;   /* NULL when opened from bytes */
  GBytes *bytes;      /* the whole file */
  DfTensorInfo *tensors; /* n, sorted by data offset */
  int n;
  GHashTable *by_name;   /* name → DfTensorInfo* */
  GHashTable *metadata;  /* string → string */
  GStringChunk *strings; /* names and dtype names */
};

/* Every dtype of the safetensors format, with its element size. */
static const struct
{
  const char *name;
  size_t size;
  DfFileDType dtype;
} file_dtypes[] = {
  { "F32", 4, DF_FILE_F32 },     { "F16", 2, DF_FILE_F16 },     { "BF16", 2, DF_FILE_BF16 },
  { "F64", 8, DF_FILE_OTHER },   { "I64", 8, DF_FILE_OTHER },   { "U64", 8, DF_FILE_OTHER },
  { "I32", 4, DF_FILE_OTHER },   { "U32", 4, DF_FILE_OTHER },   { "I16", 2, DF_FILE_OTHER },
  { "U16", 2, DF_FILE_OTHER },   { "I8", 1, DF_FILE_OTHER },    { "U8", 1, DF_FILE_OTHER },
  { "BOOL", 1, DF_FILE_OTHER },  { "F8_E4M3", 1, DF_FILE_OTHER }, { "F8_E5M2", 1, DF_FILE_OTHER },
};

const char *
df_file_dtype_name (DfFileDType dtype)
{
  switch (dtype)
    {
    case DF_FILE_F32:
      return "F32";
    case DF_FILE_F16:
      return "F16";
    case DF_FILE_BF16:
      return "BF16";
    case DF_FILE_OTHER:
    default:
      return "other";
    }
}

int64_t
df_tensor_info_numel (const DfTensorInfo *info)
{
  int64_t n = 1;

  for (int i = 0; i < info->ndim; i++)
    n *= info->shape[i];
  return n;
}

static gboolean
check_read (const DfTensorInfo *info, int64_t n, GError **error)
{
  if (info->dtype == DF_FILE_OTHER)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "tensor “%s” has dtype %s; only F32, F16 and BF16 can be read", info->name,
                   info->dtype_name);
      return FALSE;
    }
  if (n != df_tensor_info_numel (info))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "tensor “%s” has %" G_GINT64_FORMAT " elements, not %" G_GINT64_FORMAT,
                   info->name, df_tensor_info_numel (info), n);
      return FALSE;
    }
  return TRUE;
}

/* Elements first .. first + n − 1 exist and can be read. */
static gboolean
check_range (const DfTensorInfo *info, int64_t first, int64_t n, GError **error)
{
  if (!check_read (info, df_tensor_info_numel (info), error))
    return FALSE;
  if (first < 0 || n < 0 || first + n > df_tensor_info_numel (info))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "tensor “%s” has %" G_GINT64_FORMAT " elements, not %" G_GINT64_FORMAT
                   " from %" G_GINT64_FORMAT, info->name, df_tensor_info_numel (info), n, first);
      return FALSE;
    }
  return TRUE;
}

/* Bytes per element of a readable file dtype. */
static size_t
file_dtype_size (DfFileDType dtype)
{
  return dtype == DF_FILE_F32 ? 4 : 2;
}

gboolean
df_tensor_info_read_f32 (const DfTensorInfo *info, float *dst, int64_t n, GError **error)
{
  return check_read (info, n, error) && df_tensor_info_read_f32_range (info, dst, 0, n, error);
}

gboolean
df_tensor_info_read_f16 (const DfTensorInfo *info, uint16_t *dst, int64_t n, GError **error)
{
  return check_read (info, n, error) && df_tensor_info_read_f16_range (info, dst, 0, n, error);
}

/* The data is not aligned in general (the header length is arbitrary), so
 * elements are read with memcpy. */
gboolean
df_tensor_info_read_f32_range (const DfTensorInfo *info, float *dst, int64_t first, int64_t n,
                               GError **error)
{
  const uint8_t *src;

  if (!check_range (info, first, n, error))
    return FALSE;
  src = (const uint8_t *) info->data + (size_t) first * file_dtype_size (info->dtype);
  if (info->dtype == DF_FILE_F32 && n > 0)
    {
      memcpy (dst, src, (size_t) n * 4);
      return TRUE;
    }
  for (int64_t i = 0; i < n; i++)
    {
      uint16_t h;

      memcpy (&h, src + 2 * i, 2);
      h = GUINT16_FROM_LE (h);
      dst[i] = info->dtype == DF_FILE_F16 ? df_f16_to_f32 (h) : df_bf16_to_f32 (h);
    }
  return TRUE;
}

gboolean
df_tensor_info_read_f16_range (const DfTensorInfo *info, uint16_t *dst, int64_t first,
                               int64_t n, GError **error)
{
  const uint8_t *src;

  if (!check_range (info, first, n, error))
    return FALSE;
  src = (const uint8_t *) info->data + (size_t) first * file_dtype_size (info->dtype);
  if (info->dtype == DF_FILE_F16 && n > 0)
    {
      memcpy (dst, src, (size_t) n * 2);
      return TRUE;
    }
  for (int64_t i = 0; i < n; i++)
    {
      float f;

      if (info->dtype == DF_FILE_F32)
        memcpy (&f, src + 4 * i, 4);
      else
        {
          uint16_t b;

          memcpy (&b, src + 2 * i, 2);
          f = df_bf16_to_f32 (GUINT16_FROM_LE (b));
        }
      dst[i] = df_f32_to_f16 (f);
    }
  return TRUE;
}

void
df_safetensors_free (DfSafetensors *st)
{
  if (st == NULL)
    return;
  g_free (st->path);
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  g_clear_pointer (&st->metadata, g_hash_table_unref);
  g_clear_pointer (&st->strings, g_string_chunk_free);
  g_free (st->tensors);
  g_clear_pointer (&st->bytes, g_bytes_unref);
  g_clear_pointer (&st->map, g_mapped_file_unref);
  g_free (st);
}

const char *
df_safetensors_get_path (DfSafetensors *st)
{
  return st->path;
}

int
df_safetensors_n_tensors (DfSafetensors *st)
{
  return st->n;
}

const DfTensorInfo *
df_safetensors_get (DfSafetensors *st, int index)
{
  g_return_val_if_fail (index >= 0 && index < st->n, NULL);
  return &st->tensors[index];
}

const DfTensorInfo *
df_safetensors_lookup (DfSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->by_name, name);
}

const char *
df_safetensors_get_metadata (DfSafetensors *st, const char *key)
{
  return g_hash_table_lookup (st->metadata, key);
}

GHashTable *
df_safetensors_get_metadata_table (DfSafetensors *st)
{
  return st->metadata;
}

/* ------------------------------------------------------------------------
 * Duplicate names.  JsonParser keeps the last of two members with the same
 * name without a word, so we count the members it reports per object and
 * compare with the object's final size; top-level names are also kept to
 * say which one is duplicated.
 * ------------------------------------------------------------------------ */

typedef struct
{
  GArray *counts;        /* members seen, one per open object */
  GHashTable *top_names; /* names of the outermost object */
  char *duplicate;       /* the first duplicated name, if any */
  gboolean found;
} DupCheck;

static void
on_object_start (JsonParser *parser, gpointer data)
{
  DupCheck *d = data;
  int zero = 0;

  g_array_append_val (d->counts, zero);
}

static void
on_object_member (JsonParser *parser, JsonObject *object, const char *name, gpointer data)
{
  DupCheck *d = data;

  if (d->counts->len == 0)
    return;
  g_array_index (d->counts, int, d->counts->len - 1)++;
  if (d->counts->len == 1 && !d->found)
    {
      if (g_hash_table_contains (d->top_names, name))
        {
          d->found = TRUE;
          d->duplicate = g_strdup (name);
        }
      else
        g_hash_table_add (d->top_names, g_strdup (name));
    }
}

static void
on_object_end (JsonParser *parser, JsonObject *object, gpointer data)
{
  DupCheck *d = data;

  if (d->counts->len == 0)
    return;
  if ((guint) g_array_index (d->counts, int, d->counts->len - 1) != json_object_get_size (object))
    d->found = TRUE;
  g_array_set_size (d->counts, d->counts->len - 1);
}

/* ------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------ */

G_GNUC_PRINTF (3, 4) static void
invalid (GError **error, const char *path, const char *format, ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_MODEL, "%s: invalid safetensors file: %s", path,
               what);
}

/* A JSON number that is an integer in [0, max]. */
static gboolean
get_uint (JsonNode *node, uint64_t max, uint64_t *out)
{
  int64_t v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (node);
  if (v < 0 || (uint64_t) v > max)
    return FALSE;
  *out = (uint64_t) v;
  return TRUE;
}

static int
compare_offsets (const void *a, const void *b)
{
  const DfTensorInfo *x = a, *y = b;
  const uint8_t *px = x->data, *py = y->data;

  if (px != py)
    return px < py ? -1 : 1;
  if (x->nbytes != y->nbytes)
    return x->nbytes < y->nbytes ? -1 : 1;
  return 0;
}

static gboolean
parse_tensor (DfSafetensors *st, const char *name, JsonNode *node, const uint8_t *data,
              uint64_t data_size, DfSafetensorsFlags flags, DfTensorInfo *t, GError **error)
{
  JsonObject *obj;
  JsonNode *dtype_node, *shape_node, *offsets_node;
  JsonArray *shape, *offsets;
  const char *dtype_name;
  size_t elem_size = 0;
  uint64_t begin, end, count;
  int found = -1;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, st->path, "tensor “%s” is not a JSON object", name);
      return FALSE;
    }
  obj = json_node_get_object (node);
  dtype_node = json_object_get_member (obj, "dtype");
  shape_node = json_object_get_member (obj, "shape");
  offsets_node = json_object_get_member (obj, "data_offsets");
  if (dtype_node == NULL || shape_node == NULL || offsets_node == NULL)
    {
      invalid (error, st->path, "tensor “%s” lacks %s", name,
               dtype_node == NULL ? "“dtype”"
               : shape_node == NULL ? "“shape”"
                                    : "“data_offsets”");
      return FALSE;
    }
  if (json_object_get_size (obj) != 3)
    {
      invalid (error, st->path, "tensor “%s” has members besides dtype, shape and data_offsets",
               name);
      return FALSE;
    }

  /* dtype */
  if (!JSON_NODE_HOLDS_VALUE (dtype_node) || json_node_get_value_type (dtype_node) != G_TYPE_STRING)
    {
      invalid (error, st->path, "tensor “%s” has a dtype that is not a string", name);
      return FALSE;
    }
  dtype_name = json_node_get_string (dtype_node);
  for (size_t i = 0; i < G_N_ELEMENTS (file_dtypes); i++)
    if (strcmp (dtype_name, file_dtypes[i].name) == 0)
      found = (int) i;
  if (found < 0)
    {
      g_autofree char *shown = g_strndup (dtype_name, 32);

      invalid (error, st->path, "tensor “%s” has an unknown dtype “%s”", name,
               g_utf8_validate (shown, -1, NULL) ? shown : "?");
      return FALSE;
    }
  elem_size = file_dtypes[found].size;
  t->dtype = file_dtypes[found].dtype;
  t->dtype_name = file_dtypes[found].name;
  if (t->dtype == DF_FILE_OTHER && !(flags & DF_SAFETENSORS_ALLOW_OTHER_DTYPES))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL,
                   "%s: tensor “%s” has dtype %s; only F32, F16 and BF16 are supported", st->path,
                   name, dtype_name);
      return FALSE;
    }

  /* shape: non-negative integers; the element count must not overflow */
  if (!JSON_NODE_HOLDS_ARRAY (shape_node))
    {
      invalid (error, st->path, "tensor “%s” has a shape that is not an array", name);
      return FALSE;
    }
  shape = json_node_get_array (shape_node);
  if (json_array_get_length (shape) > DF_FILE_MAX_DIMS)
    {
      invalid (error, st->path, "tensor “%s” has %u dimensions, more than %d", name,
               json_array_get_length (shape), DF_FILE_MAX_DIMS);
      return FALSE;
    }
  t->ndim = (int) json_array_get_length (shape);
  count = 1;
  for (int i = 0; i < t->ndim; i++)
    {
      uint64_t dim;

      if (!get_uint (json_array_get_element (shape, i), G_MAXINT64, &dim))
        {
          invalid (error, st->path,
                   "tensor “%s” has a shape entry that is not a non-negative integer", name);
          return FALSE;
        }
      t->shape[i] = (int64_t) dim;
      if (!g_uint64_checked_mul (&count, count, dim) || count > G_MAXINT64)
        {
          invalid (error, st->path, "tensor “%s” has a shape too large", name);
          return FALSE;
        }
    }

  /* data_offsets: two integers, begin ≤ end ≤ data size */
  if (!JSON_NODE_HOLDS_ARRAY (offsets_node)
      || json_array_get_length (json_node_get_array (offsets_node)) != 2)
    {
      invalid (error, st->path, "tensor “%s” has data_offsets that are not two integers", name);
      return FALSE;
    }
  offsets = json_node_get_array (offsets_node);
  if (!get_uint (json_array_get_element (offsets, 0), G_MAXINT64, &begin)
      || !get_uint (json_array_get_element (offsets, 1), G_MAXINT64, &end))
    {
      invalid (error, st->path, "tensor “%s” has data_offsets that are not non-negative integers",
               name);
      return FALSE;
    }
  if (begin > end)
    {
      invalid (error, st->path, "tensor “%s” has data_offsets that begin after they end", name);
      return FALSE;
    }
  if (end > data_size)
    {
      invalid (error, st->path,
               "tensor “%s” has data_offsets out of range (end %" G_GUINT64_FORMAT
               " beyond the %" G_GUINT64_FORMAT " data bytes)",
               name, end, data_size);
      return FALSE;
    }
  if (!g_uint64_checked_mul (&count, count, elem_size) || count != end - begin)
    {
      invalid (error, st->path,
               "tensor “%s” has a byte size of %" G_GUINT64_FORMAT
               " that does not match its shape and dtype",
               name, end - begin);
      return FALSE;
    }

  t->name = g_string_chunk_insert_const (st->strings, name);
  t->data = data + begin;
  t->nbytes = (size_t) (end - begin);
  return TRUE;
}

static gboolean
parse_metadata (DfSafetensors *st, JsonNode *node, GError **error)
{
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      invalid (error, st->path, "__metadata__ is not a JSON object");
      return FALSE;
    }
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &key, &value))
    {
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        {
          invalid (error, st->path, "__metadata__ value of “%s” is not a string", key);
          return FALSE;
        }
      g_hash_table_insert (st->metadata, g_strdup (key), g_strdup (json_node_get_string (value)));
    }
  return TRUE;
}

static gboolean
parse (DfSafetensors *st, DfSafetensorsFlags flags, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  DupCheck dup = { 0 };
  const uint8_t *file;
  size_t size;
  uint64_t header_len;
  JsonNode *root;
  JsonObject *obj;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  gboolean ok;

  file = g_bytes_get_data (st->bytes, &size);
  if (size < 8)
    {
      invalid (error, st->path, "%s (%zu bytes, no header length)",
               size == 0 ? "empty file" : "truncated file", size);
      return FALSE;
    }
  memcpy (&header_len, file, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > DF_SAFETENSORS_MAX_HEADER)
    {
      invalid (error, st->path,
               "header length %" G_GUINT64_FORMAT " is too big (the limit is %u bytes)",
               header_len, DF_SAFETENSORS_MAX_HEADER);
      return FALSE;
    }
  if (header_len > size - 8)
    {
      invalid (error, st->path,
               "header length %" G_GUINT64_FORMAT " is beyond the end of the file (%zu bytes)",
               header_len, size);
      return FALSE;
    }
  if (header_len < 2)
    {
      invalid (error, st->path, "header too short to be a JSON object");
      return FALSE;
    }
  if (memchr (file + 8, 0, header_len) != NULL)
    {
      invalid (error, st->path, "header contains a NUL byte");
      return FALSE;
    }
  if (!g_utf8_validate ((const char *) file + 8, (gssize) header_len, NULL))
    {
      invalid (error, st->path, "header is not valid UTF-8");
      return FALSE;
    }

  parser = json_parser_new_immutable ();
  dup.counts = g_array_new (FALSE, FALSE, sizeof (int));
  dup.top_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_signal_connect (parser, "object-start", G_CALLBACK (on_object_start), &dup);
  g_signal_connect (parser, "object-member", G_CALLBACK (on_object_member), &dup);
  g_signal_connect (parser, "object-end", G_CALLBACK (on_object_end), &dup);
  ok = json_parser_load_from_data (parser, (const char *) file + 8, (gssize) header_len,
                                   &json_error);
  g_array_unref (dup.counts);
  g_hash_table_unref (dup.top_names);
  if (!ok)
    {
      g_free (dup.duplicate);
      invalid (error, st->path, "header is not valid JSON (%s)", json_error->message);
      return FALSE;
    }
  if (dup.found)
    {
      if (dup.duplicate != NULL)
        invalid (error, st->path, "duplicate tensor name “%s”", dup.duplicate);
      else
        invalid (error, st->path, "duplicate key in the header");
      g_free (dup.duplicate);
      return FALSE;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      invalid (error, st->path, "header is not a JSON object");
      return FALSE;
    }
  obj = json_node_get_object (root);

  st->tensors = g_new0 (DfTensorInfo, json_object_get_size (obj));
  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &name, &node))
    {
      if (strcmp (name, "__metadata__") == 0)
        {
          if (!parse_metadata (st, node, error))
            return FALSE;
          continue;
        }
      if (!parse_tensor (st, name, node, file + 8 + header_len, size - 8 - header_len, flags,
                         &st->tensors[st->n], error))
        return FALSE;
      st->n++;
    }

  /* No two tensors may share bytes (empty tensors share nothing). */
  if (st->n > 1)
    qsort (st->tensors, st->n, sizeof (DfTensorInfo), compare_offsets);
  for (int i = 1; i < st->n; i++)
    {
      const DfTensorInfo *a = &st->tensors[i - 1], *b = &st->tensors[i];

      if ((const uint8_t *) a->data + a->nbytes > (const uint8_t *) b->data && b->nbytes > 0)
        {
          invalid (error, st->path, "tensors “%s” and “%s” overlap", a->name, b->name);
          return FALSE;
        }
    }
  for (int i = 0; i < st->n; i++)
    g_hash_table_insert (st->by_name, (gpointer) st->tensors[i].name, &st->tensors[i]);
  return TRUE;
}

DfSafetensors *
df_safetensors_open_bytes (GBytes *bytes, const char *name, DfSafetensorsFlags flags,
                           GError **error)
{
  g_autoptr (DfSafetensors) st = g_new0 (DfSafetensors, 1);

  st->path = g_strdup (name);
  st->bytes = g_bytes_ref (bytes);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  st->strings = g_string_chunk_new (4096);
  if (!parse (st, flags, error))
    return NULL;
  return g_steal_pointer (&st);
}

DfSafetensors *
df_safetensors_open_full (const char *path, DfSafetensorsFlags flags, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GMappedFile) map = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *display = g_filename_display_name (path);
  DfSafetensors *st;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "%s: is a folder, not a safetensors file",
                   display);
      return NULL;
    }
  map = g_mapped_file_new (path, FALSE, &local);
  if (map == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_IO, "%s", local->message);
      return NULL;
    }
  bytes = g_mapped_file_get_bytes (map);
  st = df_safetensors_open_bytes (bytes, display, flags, error);
  if (st != NULL)
    st->map = g_steal_pointer (&map);
  return st;
}

DfSafetensors *
df_safetensors_open (const char *path, GError **error)
{
  return df_safetensors_open_full (path, DF_SAFETENSORS_DEFAULT, error);
}
