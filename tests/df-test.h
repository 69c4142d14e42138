/* df-test.h — helpers shared by the tests. */
#pragma once

#include <glib.h>

#include "df.h"

G_BEGIN_DECLS

/* The Vulkan context shared by all tests of one process; the test fails
 * (it is not skipped) when no device opens. */
DfContext *df_test_context (void);
void df_test_context_free (void);

/* Deterministic pseudo-random floats uniform in [lo, hi). */
void df_test_fill_uniform (float *x, int64_t n, uint64_t seed, float lo, float hi);
float *df_test_new_uniform (int64_t n, uint64_t seed, float lo, float hi);

/* Rounds every value to fp16 and back, so CPU references see the same
 * inputs as fp16 storage does. */
void df_test_round_f16 (float *x, int64_t n);

/* An op's input: uniform in [lo, hi), rounded to fp16 when @dtype is. */
float *df_test_new_input (DfDType dtype, int64_t n, uint64_t seed, float lo, float hi);

/* max |got − want| / max(max |want|, 1e-6): the normalised error. */
double df_test_rel_error (const float *got, const float *want, int64_t n);

/* Asserts the normalised error is within tol; prints it when the test runs
 * verbosely. */
#define df_test_assert_close(got, want, n, tol)                                         \
  G_STMT_START                                                                          \
  {                                                                                     \
    double df_err_ = df_test_rel_error ((got), (want), (n));                            \
    if (g_test_verbose ())                                                              \
      g_test_message ("%s: normalised error %.3g (tolerance %.3g)", G_STRLOC, df_err_, \
                      (double) (tol));                                                  \
    if (!(df_err_ <= (tol)))                                                            \
      g_error ("%s: normalised error %.3g exceeds %.3g", G_STRLOC, df_err_,            \
               (double) (tol));                                                         \
  }                                                                                     \
  G_STMT_END

/* A tensor of the given dtype holding the fp32 data (converted). */
DfTensor *df_test_tensor (DfContext *ctx, DfDType dtype, const float *data, int ndim,
                          const int64_t *shape);
/* Downloads a tensor as fp32 into a new array. */
float *df_test_download (const DfTensor *t);

/* The tensor @name of @st (which must hold it) as fp32 host data; its
 * shape into ndim and shape unless ndim is NULL. */
float *df_test_read_tensor (DfSafetensors *st, const char *name, int *ndim, int64_t *shape);
/* The tensor @name of @st on the device as @dtype. */
DfTensor *df_test_upload_tensor (DfContext *ctx, DfSafetensors *st, DfDType dtype,
                                 const char *name);
/* A tensor of @dtype shaped like the tensor @name of @st, for an output to
 * compare with it; its fp32 data into *data. */
DfTensor *df_test_tensor_like (DfContext *ctx, DfSafetensors *st, DfDType dtype, const char *name,
                               float **data);

/* Path of a file under tests/data (DIFFUSE_TEST_DATA). */
char *df_test_data_path (const char *name);

G_END_DECLS
