/* test-safetensors.c — the safetensors reader: good files in every
 * accepted dtype, metadata, and a corpus of malformed files that must each
 * be refused with the right error. */
#include <math.h>

#include "df-test-model.h"

static void
test_safetensors_dtypes (void)
{
  static const char *const dtypes[] = { "F32", "F16", "BF16" };
  static const DfFileDType want[] = { DF_FILE_F32, DF_FILE_F16, DF_FILE_BF16 };
  g_autofree char *dir = test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "t.safetensors", NULL);

  for (size_t k = 0; k < G_N_ELEMENTS (dtypes); k++)
    {
      g_autoptr (TestSt) w = test_st_new ();
      g_autoptr (DfSafetensors) st = NULL;
      g_autoptr (GError) error = NULL;
      const DfTensorInfo *a, *b, *s;
      float f[6];
      uint16_t h[6];

      test_st_add (w, "b.weight", dtypes[k], TEST_SHAPE (2, 3));
      test_st_add (w, "a.bias", dtypes[k], TEST_SHAPE (5));
      test_st_add (w, "scalar", dtypes[k], 0, NULL);
      test_st_add (w, "empty", dtypes[k], TEST_SHAPE (0, 4));
      test_st_metadata (w, "format", "pt");
      test_st_write (w, path);

      st = df_safetensors_open (path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (df_safetensors_n_tensors (st), ==, 4);
      g_assert_cmpstr (df_safetensors_get_metadata (st, "format"), ==, "pt");
      g_assert_null (df_safetensors_get_metadata (st, "missing"));
      g_assert_null (df_safetensors_lookup (st, "nope"));

      b = df_safetensors_lookup (st, "b.weight");
      g_assert_nonnull (b);
      g_assert_cmpint (b->dtype, ==, want[k]);
      g_assert_cmpstr (b->dtype_name, ==, dtypes[k]);
      g_assert_cmpint (b->ndim, ==, 2);
      g_assert_cmpint (b->shape[0], ==, 2);
      g_assert_cmpint (b->shape[1], ==, 3);
      g_assert_cmpint (df_tensor_info_numel (b), ==, 6);
      g_assert_cmpuint (b->nbytes, ==, 6 * (want[k] == DF_FILE_F32 ? 4 : 2));

      /* values survive, in both host formats */
      g_assert_true (df_tensor_info_read_f32 (b, f, 6, &error));
      g_assert_no_error (error);
      g_assert_true (df_tensor_info_read_f16 (b, h, 6, &error));
      g_assert_no_error (error);
      for (int i = 0; i < 6; i++)
        {
          g_assert_cmpfloat (f[i], ==, test_st_value (i));
          g_assert_cmpfloat (df_f16_to_f32 (h[i]), ==, test_st_value (i));
        }
      /* a wrong element count is refused */
      g_assert_false (df_tensor_info_read_f32 (b, f, 5, &error));
      g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
      /* a range: elements 2..4, and one past the end refused */
      g_assert_true (df_tensor_info_read_f32_range (b, f, 2, 3, &error));
      g_assert_true (df_tensor_info_read_f16_range (b, h, 2, 3, &error));
      g_assert_no_error (error);
      for (int i = 0; i < 3; i++)
        {
          g_assert_cmpfloat (f[i], ==, test_st_value (2 + i));
          g_assert_cmpfloat (df_f16_to_f32 (h[i]), ==, test_st_value (2 + i));
        }
      g_assert_false (df_tensor_info_read_f16_range (b, h, 4, 3, &error));
      g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);

      a = df_safetensors_lookup (st, "a.bias");
      g_assert_cmpint (a->shape[0], ==, 5);
      /* ordered by data offset: b.weight was written first */
      g_assert_true (df_safetensors_get (st, 0) == b);
      g_assert_true ((const uint8_t *) a->data >= (const uint8_t *) b->data + b->nbytes);

      s = df_safetensors_lookup (st, "scalar");
      g_assert_cmpint (s->ndim, ==, 0);
      g_assert_cmpint (df_tensor_info_numel (s), ==, 1);
      g_assert_cmpint (df_tensor_info_numel (df_safetensors_lookup (st, "empty")), ==, 0);
    }
  test_tmpdir_remove (dir);
}

/* I64 and friends: refused by default, kept as DF_FILE_OTHER on request
 * and then unreadable as floats. */
static void
test_safetensors_other_dtypes (void)
{
  g_autoptr (TestSt) w = test_st_new ();
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (DfSafetensors) st = NULL;
  g_autoptr (GError) error = NULL;
  const DfTensorInfo *ids;
  float f[3];

  test_st_add (w, "w", "F16", TEST_SHAPE (4));
  test_st_add (w, "position_ids", "I64", TEST_SHAPE (1, 3));
  bytes = test_st_bytes (w);

  st = df_safetensors_open_bytes (bytes, "mem.safetensors", DF_SAFETENSORS_DEFAULT, &error);
  g_assert_null (st);
  g_assert_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL);
  g_assert_nonnull (strstr (error->message, "mem.safetensors"));
  g_assert_nonnull (strstr (error->message, "“position_ids” has dtype I64"));
  g_clear_error (&error);

  st = df_safetensors_open_bytes (bytes, "mem.safetensors", DF_SAFETENSORS_ALLOW_OTHER_DTYPES,
                                  &error);
  g_assert_no_error (error);
  ids = df_safetensors_lookup (st, "position_ids");
  g_assert_cmpint (ids->dtype, ==, DF_FILE_OTHER);
  g_assert_cmpstr (ids->dtype_name, ==, "I64");
  g_assert_cmpuint (ids->nbytes, ==, 24);
  g_assert_false (df_tensor_info_read_f32 (ids, f, 3, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_MODEL);
}

/* Every malformed file is refused, from a file and from memory, with the
 * file named and the reason stated. */
static void
check_malformed (const TestBadCase *c, GBytes *bytes, const char *path, const char *file)
{
  g_autoptr (GError) error = NULL;
  DfSafetensors *st;

  if (g_test_verbose ())
    g_test_message ("case %s", c->name);
  st = df_safetensors_open (path, &error);
  if (st != NULL)
    g_error ("%s: accepted", c->name);
  if (error->code != (int) c->code || strstr (error->message, c->phrase) == NULL
      || strstr (error->message, file) == NULL)
    g_error ("%s: wrong error %d “%s” (want %d with “%s”)", c->name, error->code,
             error->message, c->code, c->phrase);
  g_assert_true (g_error_matches (error, DF_ERROR, c->code));
  g_clear_error (&error);

  st = df_safetensors_open_bytes (bytes, c->name, DF_SAFETENSORS_DEFAULT, &error);
  g_assert_null (st);
  g_assert_true (g_error_matches (error, DF_ERROR, c->code));
}

static void
test_safetensors_malformed (void)
{
  test_bad_cases_foreach (check_malformed);
}

/* Valid corner cases that must be accepted. */
static void
test_safetensors_accepts (void)
{
  static const char *const good[] = {
    "{}",
    "{\"__metadata__\":{}}",
    /* holes between tensors and trailing bytes are allowed */
    "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4]}}",
    /* member order within a tensor does not matter; whitespace padding */
    "{\"a\":{\"data_offsets\":[0,4],\"shape\":[2],\"dtype\":\"BF16\"}}        ",
    /* two empty tensors at the same offset share no bytes */
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}}",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GBytes) bytes = test_header_bytes (strlen (good[i]), good[i], strlen (good[i]), 8);
      g_autoptr (GError) error = NULL;
      g_autoptr (DfSafetensors) st
        = df_safetensors_open_bytes (bytes, "good", DF_SAFETENSORS_DEFAULT, &error);

      if (st == NULL)
        g_error ("case %zu refused: %s", i, error->message);
    }
}

static void
test_safetensors_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "absent.safetensors", NULL);

  g_assert_null (df_safetensors_open (path, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_IO);
  g_clear_error (&error);
  g_assert_null (df_safetensors_open (dir, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_IO);
  test_tmpdir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/dtypes", test_safetensors_dtypes);
  g_test_add_func ("/safetensors/other-dtypes", test_safetensors_other_dtypes);
  g_test_add_func ("/safetensors/malformed", test_safetensors_malformed);
  g_test_add_func ("/safetensors/accepts", test_safetensors_accepts);
  g_test_add_func ("/safetensors/missing-file", test_safetensors_missing_file);
  return g_test_run ();
}
