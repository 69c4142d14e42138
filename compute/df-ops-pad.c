/* df-ops-pad.c — zero padding of image tensors (the VAE encoder pads right
 * and bottom before its stride-2 convolutions). */
#include "df-private.h"
#include "df-ref.h"

#define DF_WG_PAD 256

DF_PUSH_STRUCT (DfPushPad2d, DF_PUSH_PAD2D);

void
df_ref_pad2d (float *y, const float *x, int64_t planes, int64_t h, int64_t w, int64_t ho,
              int64_t wo, int64_t top, int64_t left)
{
  for (int64_t p = 0; p < planes; p++)
    for (int64_t r = 0; r < ho; r++)
      for (int64_t c = 0; c < wo; c++)
        {
          int64_t sr = r - top, sc = c - left;
          y[(p * ho + r) * wo + c]
              = (sr >= 0 && sr < h && sc >= 0 && sc < w) ? x[(p * h + sr) * w + sc] : 0.0f;
        }
}

gboolean
df_op_pad2d (DfCmd *cmd, DfTensor *y, const DfTensor *x, int top, int left, GError **error)
{
  DfContext *ctx = df_cmd_get_context (cmd);
  DfPushPad2d push;
  DfDispatch d = {
    .spec = { DF_WG_PAD, 1, 1 },
    .n_spec = 3,
    .bindings = { x, y },
    .n_bindings = 2,
    .write_mask = 1u << 1,
    .push = &push,
    .push_size = sizeof push,
  };

  if (!df_check_float_same ("pad2d", x, y, error))
    return FALSE;
  if (x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] || x->shape[1] != y->shape[1]
      || top < 0 || left < 0 || y->shape[2] < x->shape[2] + top
      || y->shape[3] < x->shape[3] + left || df_tensor_numel (y) > G_MAXUINT32)
    {
      g_autofree char *xs = g_strdup (df_shape_str (x));
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "pad2d: cannot place %s at (%d, %d) in %s", xs, top, left, df_shape_str (y));
      return FALSE;
    }
  push = (DfPushPad2d){
    .planes = (uint32_t) (x->shape[0] * x->shape[1]),
    .h = (uint32_t) x->shape[2],
    .w = (uint32_t) x->shape[3],
    .ho = (uint32_t) y->shape[2],
    .wo = (uint32_t) y->shape[3],
    .top = (uint32_t) top,
    .left = (uint32_t) left,
  };
  d.shader = DF_SHADER_FOR (pad, y->dtype);
  d.groups[0] = df_groups_1d (ctx, df_tensor_numel (y), DF_WG_PAD);
  d.groups[1] = d.groups[2] = 1;
  return df_cmd_dispatch (cmd, &d, error);
}
