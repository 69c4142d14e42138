/* test-sampler.c — the schedulers against diffusers, step for step
 * (tests/data/sampling/schedulers.{json,f32}, made by
 * tests/reference/make_sampling_golden.py): timesteps, sigmas,
 * init_noise_sigma, and every latent of a synthetic run whose "UNet" is a
 * closed form of its input and timestep, for txt2img and img2img. */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "df-test.h"

/* Per-step latents: float32 element-wise code in the same order as the
 * PyTorch expressions; what differs is the noise (a few ulp, see
 * test-rng.c) and libm against PyTorch's vectorised math. */
#define LATENT_TOL 1e-5
#define TABLE_TOL 1e-6

typedef struct
{
  JsonParser *parser;
  JsonObject *root;
  float *data;
  gsize n_floats;
} Golden;

static Golden golden;

static void
golden_load (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = df_test_data_path ("sampling/schedulers.json");
  g_autofree char *bin = df_test_data_path ("sampling/schedulers.f32");
  gsize bytes = 0;

  golden.parser = json_parser_new ();
  json_parser_load_from_file (golden.parser, json, &error);
  g_assert_no_error (error);
  golden.root = json_node_get_object (json_parser_get_root (golden.parser));
  g_file_get_contents (bin, (char **) &golden.data, &bytes, &error);
  g_assert_no_error (error);
  golden.n_floats = bytes / sizeof (float);
}

static const float *
golden_slice (JsonObject *obj, const char *member, int64_t *n)
{
  JsonObject *ref = json_object_get_object_member (obj, member);
  int64_t offset = json_object_get_int_member (ref, "offset");

  *n = json_object_get_int_member (ref, "length");
  g_assert_cmpint (offset + *n, <=, (int64_t) golden.n_floats);
  return golden.data + offset;
}

static void
assert_rel (double got, double want, double tol, const char *what, int i)
{
  if (!(fabs (got - want) <= tol * MAX (fabs (want), 1e-6)))
    g_error ("%s[%d] = %.9g, want %.9g", what, i, got, want);
}

/* The stand-in UNet of the reference script: 0.1·x + 0.02·sin(3x) +
 * 0.01·t/1000, in float32 as torch computes it. */
static void
fake_model (const float *x, float t, float *out, int64_t n)
{
  float c = (float) (0.01 * (double) t / 1000.0);

  for (int64_t k = 0; k < n; k++)
    out[k] = 0.1f * x[k] + 0.02f * sinf (3.0f * x[k]) + c;
}

static void
test_sampler_alphas_cumprod (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfSampler) s = df_sampler_new (DF_SAMPLER_EULER, DF_SAMPLER_EPSILON, 10, NULL,
                                            &error);
  int64_t n;
  const float *want = golden_slice (golden.root, "alphas_cumprod", &n);

  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 1000);
  for (int t = 0; t < n; t++)
    assert_rel (df_sampler_alpha_cumprod (s, t), want[t], TABLE_TOL, "alphas_cumprod", t);
}

static void
run_case (JsonObject *run)
{
  g_autoptr (GError) error = NULL;
  const char *name = json_object_get_string_member (run, "sampler");
  const char *pred_name = json_object_get_string_member (run, "prediction");
  int steps = (int) json_object_get_int_member (run, "steps");
  DfSamplerKind kind;
  DfSamplerPrediction prediction;

  g_assert_true (df_sampler_kind_from_string (name, &kind, &error));
  g_assert_no_error (error);
  g_assert_true (df_sampler_prediction_from_string (pred_name, &prediction, &error));
  g_assert_no_error (error);

  g_autoptr (DfSampler) s = df_sampler_new (kind, prediction, steps, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (df_sampler_kind_name (df_sampler_get_kind (s)), ==, name);
  g_assert_cmpint (df_sampler_n_steps (s), ==, steps);

  /* the schedule */
  JsonArray *ts = json_object_get_array_member (run, "timesteps");
  int n_calls = df_sampler_n_calls (s);
  g_assert_cmpint (n_calls, ==, (int) json_array_get_length (ts));
  for (int i = 0; i < n_calls; i++)
    g_assert_cmpfloat (df_sampler_timestep (s, i), ==,
                       (float) json_array_get_double_element (ts, i));
  g_assert_cmpint (df_sampler_step_of_call (s, n_calls - 1), ==, steps - 1);
  if (json_object_has_member (run, "sigmas"))
    {
      JsonArray *sig = json_object_get_array_member (run, "sigmas");
      g_assert_cmpint ((int) json_array_get_length (sig), ==, n_calls + 1);
      for (int i = 0; i <= n_calls; i++)
        assert_rel (df_sampler_sigma (s, i), json_array_get_double_element (sig, i), TABLE_TOL,
                    "sigmas", i);
    }
  assert_rel (df_sampler_init_noise_sigma (s),
              json_object_get_double_member (run, "init_noise_sigma"), TABLE_TOL,
              "init_noise_sigma", 0);

  /* the run: latents[0] is the starting latent, latents[k] after k steps */
  int64_t total;
  const float *latents = golden_slice (run, "latents", &total);
  int first = (int) json_object_get_int_member (run, "first");
  int64_t n = total / (n_calls - first + 1);
  g_assert_cmpint (n * (n_calls - first + 1), ==, total);

  g_autoptr (DfRng) rng = df_rng_new (0);
  g_autofree float *x = g_new (float, n);
  g_autofree float *in = g_new (float, n);
  g_autofree float *out = g_new (float, n);

  if (json_object_has_member (run, "strength"))
    {
      int64_t n_init;
      const float *init = golden_slice (run, "init", &n_init);
      g_autofree float *noise = g_new (float, n);

      g_assert_cmpint (n_init, ==, n);
      g_assert_cmpint (df_sampler_set_strength (s, json_object_get_double_member (run, "strength")),
                       ==, first);
      memcpy (x, init, n * sizeof (float));
      df_rng_randn (rng, noise, n);
      df_sampler_add_noise (s, first, x, noise, n);
    }
  else
    {
      float sigma = df_sampler_init_noise_sigma (s);

      g_assert_cmpint (first, ==, 0);
      df_rng_randn (rng, x, n);
      for (int64_t k = 0; k < n; k++)
        x[k] = x[k] * sigma;
    }
  df_test_assert_close (x, latents, n, LATENT_TOL);

  for (int i = first; i < n_calls; i++)
    {
      float t = df_sampler_timestep (s, i);

      memcpy (in, x, n * sizeof (float));
      df_sampler_scale_model_input (s, i, in, n);
      fake_model (in, t, out, n);
      g_assert_true (df_sampler_step (s, i, out, x, n, rng, &error));
      g_assert_no_error (error);
      if (df_test_rel_error (x, latents + (i - first + 1) * n, n) > LATENT_TOL)
        g_error ("%s %s %d steps%s: call %d (t = %g): normalised error %.3g", name, pred_name,
                 steps, first ? " img2img" : "", i, (double) t,
                 df_test_rel_error (x, latents + (i - first + 1) * n, n));
    }
  if (g_test_verbose ())
    g_test_message ("%s %s %d steps first %d: final normalised error %.3g", name, pred_name,
                    steps, first, df_test_rel_error (x, latents + (n_calls - first) * n, n));

  /* a further step is refused, not run */
  g_assert_false (df_sampler_step (s, n_calls, out, x, n, rng, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
}

static void
test_sampler_runs (gconstpointer data)
{
  const char *which = data;
  JsonArray *runs = json_object_get_array_member (golden.root, "runs");
  int count = 0;

  for (guint r = 0; r < json_array_get_length (runs); r++)
    {
      JsonObject *run = json_array_get_object_element (runs, r);
      if (g_strcmp0 (json_object_get_string_member (run, "sampler"), which) != 0)
        continue;
      run_case (run);
      count++;
    }
  /* epsilon, v-prediction and img2img at least */
  g_assert_cmpint (count, >=, 3);
}

static void
test_sampler_bad_name (void)
{
  g_autoptr (GError) error = NULL;
  DfSamplerKind kind = DF_SAMPLER_DDIM;
  DfSamplerPrediction prediction = DF_SAMPLER_V_PREDICTION;

  g_assert_false (df_sampler_kind_from_string ("euler_ancestral", &kind, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "euler_ancestral"));
  for (int k = 0; k < DF_SAMPLER_N_KINDS; k++)
    g_assert_nonnull (strstr (error->message, df_sampler_kind_name ((DfSamplerKind) k)));
  g_assert_cmpint (kind, ==, DF_SAMPLER_DDIM);
  g_clear_error (&error);

  g_assert_false (df_sampler_kind_from_string (NULL, &kind, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (df_sampler_kind_from_string ("DPMPP_2M_Karras", &kind, &error));
  g_assert_cmpint (kind, ==, DF_SAMPLER_DPMPP_2M_KARRAS);

  g_assert_false (df_sampler_prediction_from_string ("sample", &prediction, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "v_prediction"));
  g_assert_cmpint (prediction, ==, DF_SAMPLER_V_PREDICTION);
}

static void
test_sampler_refusals (void)
{
  g_autoptr (GError) error = NULL;
  float x[8] = { 0 }, m[8] = { 0 };

  g_assert_null (df_sampler_new (DF_SAMPLER_EULER, DF_SAMPLER_EPSILON, 0, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (df_sampler_new (DF_SAMPLER_LCM, DF_SAMPLER_EPSILON, 60, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (df_sampler_new ((DfSamplerKind) 99, DF_SAMPLER_EPSILON, 10, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  DfSamplerConfig config;
  df_sampler_config_init (&config);
  config.beta_end = 1.5;
  g_assert_null (df_sampler_new (DF_SAMPLER_DDIM, DF_SAMPLER_EPSILON, 10, &config, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* euler_a draws noise: no generator, no step */
  g_autoptr (DfSampler) a = df_sampler_new (DF_SAMPLER_EULER_A, DF_SAMPLER_EPSILON, 5, NULL,
                                            &error);
  g_assert_no_error (error);
  g_assert_true (df_sampler_needs_rng (a));
  g_assert_false (df_sampler_step (a, 0, m, x, 8, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* calls in order, one latent size */
  g_autoptr (DfSampler) e = df_sampler_new (DF_SAMPLER_EULER, DF_SAMPLER_EPSILON, 5, NULL,
                                            &error);
  g_assert_false (df_sampler_needs_rng (e));
  g_assert_false (df_sampler_step (e, 1, m, x, 8, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (df_sampler_step (e, 0, m, x, 8, NULL, &error));
  g_assert_false (df_sampler_step (e, 1, m, x, 4, NULL, &error));
  g_assert_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* a strength too small for any step leaves nothing to run */
  g_assert_cmpint (df_sampler_set_strength (e, 0.1), ==, df_sampler_n_calls (e));
  g_assert_cmpint (df_sampler_set_strength (e, 1.0), ==, 0);
}

static void
test_sampler_heun_calls (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DfSampler) s = df_sampler_new (DF_SAMPLER_HEUN, DF_SAMPLER_EPSILON, 10, NULL,
                                            &error);

  g_assert_no_error (error);
  g_assert_cmpint (df_sampler_n_calls (s), ==, 19);
  g_assert_cmpint (df_sampler_step_of_call (s, 0), ==, 0);
  g_assert_cmpint (df_sampler_step_of_call (s, 1), ==, 0);
  g_assert_cmpint (df_sampler_step_of_call (s, 2), ==, 1);
  g_assert_cmpint (df_sampler_step_of_call (s, 18), ==, 9);
  /* strength 0.6 of 10 steps starts at step 4, call 8 */
  g_assert_cmpint (df_sampler_set_strength (s, 0.6), ==, 8);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  golden_load ();

  g_test_add_func ("/sampler/alphas-cumprod", test_sampler_alphas_cumprod);
  for (int k = 0; k < DF_SAMPLER_N_KINDS; k++)
    {
      const char *name = df_sampler_kind_name ((DfSamplerKind) k);
      g_autofree char *path = g_strdup_printf ("/sampler/run/%s", name);
      g_test_add_data_func (path, name, test_sampler_runs);
    }
  g_test_add_func ("/sampler/bad-name", test_sampler_bad_name);
  g_test_add_func ("/sampler/refusals", test_sampler_refusals);
  g_test_add_func ("/sampler/heun-calls", test_sampler_heun_calls);

  int status = g_test_run ();
  g_clear_object (&golden.parser);
  g_free (golden.data);
  return status;
}
