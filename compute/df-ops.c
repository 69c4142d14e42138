/* df-ops.c — shape checks shared by the ops, and the simplest op, fill,
 * which shows the pattern every op follows:
 *   1. check dtypes and shapes, failing with DF_ERROR_INVALID_ARGUMENT;
 *   2. fill the push constants (the struct comes from shaders/push.h);
 *   3. record one DfDispatch. */
#include "df-private.h"
#include "df-ref.h"

/* Default workgroup size of the element-wise kernels. */
#define DF_WG_1D 256

const char *
df_shape_str (const DfTensor *t)
{
  static GPrivate key = G_PRIVATE_INIT (g_free);
  char *buf = g_private_get (&key);
  size_t len = 0;

  if (buf == NULL)
    {
      buf = g_malloc (128);
      g_private_set (&key, buf);
    }
  buf[0] = '\0';
  len += (size_t) g_snprintf (buf, 128, "[");
  for (int i = 0; i < t->ndim && len < 100; i++)
    len += (size_t) g_snprintf (buf + len, 128 - len, "%s%" G_GINT64_FORMAT, i ? ", " : "",
                                t->shape[i]);
  g_snprintf (buf + len, 128 - len, "]");
  return buf;
}

gboolean
df_check_dtype (const char *op, const DfTensor *t, DfDType dtype, GError **error)
{
  if (t->dtype == dtype)
    return TRUE;
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "%s: expected a %s tensor, got %s",
               op, df_dtype_name (dtype), df_dtype_name (t->dtype));
  return FALSE;
}

gboolean
df_check_float_same (const char *op, const DfTensor *ref, const DfTensor *t, GError **error)
{
  if (ref->dtype == DF_DTYPE_U32)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "%s: expected a floating-point tensor, got u32", op);
      return FALSE;
    }
  return df_check_dtype (op, t, ref->dtype, error);
}

gboolean
df_shape_equal (const DfTensor *t, int ndim, const int64_t *shape)
{
  gboolean same = t->ndim == ndim;

  for (int i = 0; same && i < ndim; i++)
    same = t->shape[i] == shape[i];
  return same;
}

gboolean
df_check_shape (const char *op, const DfTensor *t, int ndim, const int64_t *shape,
                GError **error)
{
  if (df_shape_equal (t, ndim, shape))
    return TRUE;
  {
    DfTensor want = { .ndim = ndim };
    g_autofree char *got = g_strdup (df_shape_str (t));
    for (int i = 0; i < ndim; i++)
      want.shape[i] = shape[i];
    g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                 "%s: expected a tensor of shape %s, got %s", op, df_shape_str (&want), got);
  }
  return FALSE;
}

gboolean
df_check_numel (const char *op, const DfTensor *t, int64_t numel, GError **error)
{
  if (df_tensor_numel (t) == numel)
    return TRUE;
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
               "%s: expected %" G_GINT64_FORMAT " elements, got %s", op, numel,
               df_shape_str (t));
  return FALSE;
}

/* ------------------------------------------------------------------------
 * fill
 * ------------------------------------------------------------------------ */

DF_PUSH_STRUCT (DfPushFill, DF_PUSH_FILL);

void
df_ref_fill (float *y, int64_t n, float value)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = value;
}

gboolean
df_op_fill (DfCmd *cmd, DfTensor *y, float value, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  int64_t n = df_tensor_numel (y);
  DfPushFill push = { .n = (uint32_t) n, .value = value };
  DfDispatch d = {
    .shader = DF_SHADER_FOR (fill, y->dtype),
    .spec = { DF_WG_1D, 1, 1 },
    .n_spec = 3,
    .bindings = { y },
    .n_bindings = 1,
    .write_mask = 1u << 0,
    .push = &push,
    .push_size = sizeof push,
    .groups = { df_groups_1d (ctx, n, DF_WG_1D), 1, 1 },
  };

  if (y->dtype == DF_DTYPE_U32)
    return df_check_dtype ("fill", y, DF_DTYPE_F32, error);
  if (n > G_MAXUINT32)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "fill: tensor %s is too large",
                   df_shape_str (y));
      return FALSE;
    }
  return df_cmd_dispatch (cmd, &d, error);
}
