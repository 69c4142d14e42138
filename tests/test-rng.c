/* test-rng.c — the noise generator against torch.randn with a seeded CPU
 * generator (tests/data/sampling/rng.{json,f32}, made by
 * tests/reference/make_sampling_golden.py). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "df-test.h"

typedef struct
{
  JsonParser *parser;
  float *data;
  gsize n_floats;
} Golden;

static void
golden_load (Golden *g)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = df_test_data_path ("sampling/rng.json");
  g_autofree char *bin = df_test_data_path ("sampling/rng.f32");
  gsize bytes = 0;

  g->parser = json_parser_new ();
  json_parser_load_from_file (g->parser, json, &error);
  g_assert_no_error (error);
  g_file_get_contents (bin, (char **) &g->data, &bytes, &error);
  g_assert_no_error (error);
  g->n_floats = bytes / sizeof (float);
}

static void
golden_clear (Golden *g)
{
  g_clear_object (&g->parser);
  g_clear_pointer (&g->data, g_free);
}

static const float *
golden_slice (const Golden *g, JsonObject *ref, int64_t *n)
{
  int64_t offset = json_object_get_int_member (ref, "offset");
  *n = json_object_get_int_member (ref, "length");
  g_assert_cmpint (offset + *n, <=, (int64_t) g->n_floats);
  return g->data + offset;
}

/* The 16-at-a-time path uses libm's logf/cosf/sinf where x86 PyTorch uses
 * its vectorised (SLEEF) ones: a few ulp apart.  The < 16 path is exact. */
static void
compare_draw (const float *got, const float *want, int64_t n, int *exact, int *total,
              double *worst_ulp)
{
  for (int64_t i = 0; i < n; i++)
    {
      if (n < 16)
        g_assert_cmpfloat (got[i], ==, want[i]);
      double d = fabs ((double) got[i] - want[i]);
      double ulp = FLT_EPSILON * MAX (fabs (want[i]), 1e-3);
      if (!(d <= 8 * ulp))
        g_error ("element %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT ": %.9g, want %.9g",
                 (gint64) i, (gint64) n, (double) got[i], (double) want[i]);
      *worst_ulp = MAX (*worst_ulp, d / ulp);
      *exact += got[i] == want[i];
      (*total)++;
    }
}

static void
test_rng_golden (void)
{
  Golden g = { 0 };
  int exact = 0, total = 0, n_cases = 0;
  double worst_ulp = 0;

  golden_load (&g);
  JsonArray *cases = json_object_get_array_member (
    json_node_get_object (json_parser_get_root (g.parser)), "cases");

  for (guint c = 0; c < json_array_get_length (cases); c++)
    {
      JsonObject *cs = json_array_get_object_element (cases, c);
      uint64_t seed = g_ascii_strtoull (json_object_get_string_member (cs, "seed"), NULL, 10);
      JsonArray *draws = json_object_get_array_member (cs, "draws");
      g_autoptr (DfRng) rng = df_rng_new (seed);

      g_assert_cmpuint (df_rng_get_seed (rng), ==, seed);
      for (guint d = 0; d < json_array_get_length (draws); d++)
        {
          int64_t n;
          const float *want = golden_slice (&g, json_array_get_object_element (draws, d), &n);
          g_autofree float *got = g_new (float, n);

          df_rng_randn (rng, got, n);
          compare_draw (got, want, n, &exact, &total, &worst_ulp);
        }
      n_cases++;
    }
  g_assert_cmpint (n_cases, >=, 30);
  if (g_test_verbose ())
    g_test_message ("%d of %d samples bit-exact, worst %.2f ulp", exact, total, worst_ulp);
  /* the same algorithm, not merely the same distribution */
  g_assert_cmpfloat ((double) exact / total, >, 0.6);
  golden_clear (&g);
}

static void
test_rng_mt19937 (void)
{
  /* The C++ standard fixes the 10000th output of mt19937 seeded 5489. */
  g_autoptr (DfRng) rng = df_rng_new (5489);
  uint32_t x = 0;

  for (int i = 0; i < 10000; i++)
    x = df_rng_next_u32 (rng);
  g_assert_cmpuint (x, ==, 4123659995u);
}

static void
test_rng_seed (void)
{
  /* manual_seed keeps the low 32 bits */
  g_autoptr (DfRng) a = df_rng_new (5);
  g_autoptr (DfRng) b = df_rng_new ((UINT64_C (1) << 32) + 5);
  g_autoptr (DfRng) c = df_rng_new (6);
  float xa[20], xb[20], xc[20];

  df_rng_randn (a, xa, 20);
  df_rng_randn (b, xb, 20);
  df_rng_randn (c, xc, 20);
  g_assert_cmpmem (xa, sizeof xa, xb, sizeof xb);
  g_assert_true (memcmp (xa, xc, sizeof xa) != 0);

  /* set_seed restarts the stream and forgets the cached sample */
  float y[3], z[3];
  df_rng_randn (a, y, 3);
  df_rng_set_seed (a, 5);
  df_rng_randn (a, y, 3);
  df_rng_set_seed (c, 5);
  df_rng_randn (c, z, 3);
  g_assert_cmpmem (y, sizeof y, z, sizeof z);

  /* n = 0 draws nothing */
  df_rng_randn (a, NULL, 0);
}

static void
test_rng_moments (void)
{
  g_autoptr (DfRng) rng = df_rng_new (1234);
  int64_t n = 1 << 16;
  g_autofree float *x = g_new (float, n);
  double sum = 0, sq = 0;

  df_rng_randn (rng, x, n);
  for (int64_t i = 0; i < n; i++)
    {
      g_assert_true (isfinite (x[i]));
      sum += x[i];
      sq += (double) x[i] * x[i];
    }
  g_assert_cmpfloat (fabs (sum / n), <, 0.02);
  g_assert_cmpfloat (fabs (sq / n - 1.0), <, 0.02);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rng/golden", test_rng_golden);
  g_test_add_func ("/rng/mt19937", test_rng_mt19937);
  g_test_add_func ("/rng/seed", test_rng_seed);
  g_test_add_func ("/rng/moments", test_rng_moments);
  return g_test_run ();
}
