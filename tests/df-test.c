/* df-test.c — helpers shared by the tests. */
#include <dlfcn.h>
#include <math.h>

#include "df-test.h"

static DfContext *test_ctx;

/* Loads Mesa's lavapipe (where installed) before any test runs and keeps
 * it loaded until exit.  LeakSanitizer reports after the Vulkan loader
 * has unloaded the driver, so the known one-off allocation that LLVM
 * never frees would show as an unknown module; kept loaded it is named,
 * and CI suppresses it by library name (.ci/lsan.supp). */
__attribute__ ((constructor)) static void
keep_driver_loaded (void)
{
  dlopen ("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
}

DfContext *
df_test_context (void)
{
  g_autoptr (GError) error = NULL;

  if (test_ctx != NULL)
    return test_ctx;
  test_ctx = df_context_new (NULL, &error);
  if (test_ctx == NULL)
    g_error ("no Vulkan device for the tests: %s", error->message);
  if (g_test_verbose ())
    g_test_message ("device: %s", df_context_get_info (test_ctx)->name);
  return test_ctx;
}

void
df_test_context_free (void)
{
  g_clear_pointer (&test_ctx, df_context_free);
}

/* splitmix64 */
static uint64_t
next_u64 (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void
df_test_fill_uniform (float *x, int64_t n, uint64_t seed, float lo, float hi)
{
  uint64_t state = seed;

  for (int64_t i = 0; i < n; i++)
    {
      double u = (double) (next_u64 (&state) >> 11) / 9007199254740992.0;
      x[i] = (float) (lo + (hi - lo) * u);
    }
}

float *
df_test_new_uniform (int64_t n, uint64_t seed, float lo, float hi)
{
  float *x = g_new (float, MAX (n, 1));

  df_test_fill_uniform (x, n, seed, lo, hi);
  return x;
}

float *
df_test_new_input (DfDType dtype, int64_t n, uint64_t seed, float lo, float hi)
{
  float *x = df_test_new_uniform (n, seed, lo, hi);

  if (dtype == DF_DTYPE_F16)
    df_test_round_f16 (x, n);
  return x;
}

void
df_test_round_f16 (float *x, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    x[i] = df_f16_to_f32 (df_f32_to_f16 (x[i]));
}

double
df_test_rel_error (const float *got, const float *want, int64_t n)
{
  double max_diff = 0, max_ref = 0;

  for (int64_t i = 0; i < n; i++)
    {
      double d = fabs ((double) got[i] - (double) want[i]);
      if (isnan (d))
        return INFINITY;
      max_diff = MAX (max_diff, d);
      max_ref = MAX (max_ref, fabs ((double) want[i]));
    }
  return max_diff / MAX (max_ref, 1e-6);
}

DfTensor *
df_test_tensor (DfContext *ctx, DfDType dtype, const float *data, int ndim, const int64_t *shape)
{
  g_autoptr (GError) error = NULL;
  DfTensor *t = df_tensor_new (ctx, dtype, ndim, shape, &error);

  g_assert_no_error (error);
  if (data != NULL)
    {
      df_tensor_upload_f32 (t, data, df_tensor_numel (t), &error);
      g_assert_no_error (error);
    }
  return t;
}

float *
df_test_download (const DfTensor *t)
{
  g_autoptr (GError) error = NULL;
  float *x = g_new (float, MAX (df_tensor_numel (t), 1));

  df_tensor_download_f32 (t, x, df_tensor_numel (t), &error);
  g_assert_no_error (error);
  return x;
}

float *
df_test_read_tensor (DfSafetensors *st, const char *name, int *ndim, int64_t *shape)
{
  g_autoptr (GError) error = NULL;
  const DfTensorInfo *info = df_safetensors_lookup (st, name);
  float *data;

  g_assert_nonnull (info);
  data = g_new (float, df_tensor_info_numel (info));
  g_assert_true (df_tensor_info_read_f32 (info, data, df_tensor_info_numel (info), &error));
  g_assert_no_error (error);
  if (ndim != NULL)
    {
      *ndim = info->ndim;
      for (int i = 0; i < info->ndim; i++)
        shape[i] = info->shape[i];
    }
  return data;
}

DfTensor *
df_test_upload_tensor (DfContext *ctx, DfSafetensors *st, DfDType dtype, const char *name)
{
  int ndim;
  int64_t shape[DF_FILE_MAX_DIMS];
  g_autofree float *x = df_test_read_tensor (st, name, &ndim, shape);

  return df_test_tensor (ctx, dtype, x, ndim, shape);
}

DfTensor *
df_test_tensor_like (DfContext *ctx, DfSafetensors *st, DfDType dtype, const char *name,
                     float **data)
{
  int ndim;
  int64_t shape[DF_FILE_MAX_DIMS];

  *data = df_test_read_tensor (st, name, &ndim, shape);
  return df_test_tensor (ctx, dtype, NULL, ndim, shape);
}

char *
df_test_data_path (const char *name)
{
  const char *dir = g_getenv ("DIFFUSE_TEST_DATA");

  g_assert_nonnull (dir);
  return g_build_filename (dir, name, NULL);
}
