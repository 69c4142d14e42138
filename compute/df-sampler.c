/* df-sampler.c — diffusers' schedulers in plain C.
 *
 * Every kind follows its diffusers class (see df-sampling.h) operation by
 * operation: schedule tables are built in double where diffusers uses
 * NumPy float64 and stored as float32 where it stores them so; the latent
 * updates are float32 element-wise operations in the same order as the
 * PyTorch expressions, with the per-step scalars computed in float32 as
 * 0-d tensors are.  Latents are flat arrays of n floats (any shape). */
#include <math.h>
#include <string.h>

#include "df.h"

#define LMS_ORDER 4
#define LCM_ORIGINAL_STEPS 50
#define LCM_TIMESTEP_SCALING 10.0
#define LCM_SIGMA_DATA 0.5
#define KARRAS_RHO 7.0

static const char *const kind_names[DF_SAMPLER_N_KINDS] = {
  [DF_SAMPLER_EULER] = "euler",
  [DF_SAMPLER_EULER_A] = "euler_a",
  [DF_SAMPLER_HEUN] = "heun",
  [DF_SAMPLER_DDIM] = "ddim",
  [DF_SAMPLER_LMS] = "lms",
  [DF_SAMPLER_DPMPP_2M] = "dpmpp_2m",
  [DF_SAMPLER_DPMPP_2M_KARRAS] = "dpmpp_2m_karras",
  [DF_SAMPLER_LCM] = "lcm",
};

struct _DfSampler
{
  DfSamplerKind kind;
  DfSamplerPrediction prediction;
  DfSamplerConfig config;
  int n_steps;
  int n_calls;
  int order;                  /* diffusers' scheduler.order: 2 for heun */

  float *alphas_cumprod;      /* [num_train_timesteps] */
  float final_alpha_cumprod;
  float *timesteps;           /* [n_calls] */
  float *sigmas;              /* [n_calls + 1], σ kinds only */
  float init_noise_sigma;

  int next;                   /* the call step () expects */
  int64_t n;                  /* latent size, 0 until the first step */

  /* heun: the state between the two halves of a step */
  gboolean heun_second;
  float heun_dt;
  float *prev_derivative;
  float *saved_sample;

  /* lms: the last LMS_ORDER derivatives, oldest first */
  float *derivatives[LMS_ORDER];
  int n_derivatives;

  /* dpm-solver: the previous converted model output (x0) */
  float *prev_x0;
  int lower_order_nums;

  float *scratch;             /* [n]: noise, x0, derivative */
};

void
df_sampler_config_init (DfSamplerConfig *config)
{
  *config = (DfSamplerConfig) {
    .num_train_timesteps = 1000,
    .beta_start = 0.00085,
    .beta_end = 0.012,
    .beta_schedule = DF_BETAS_SCALED_LINEAR,
    .steps_offset = 1,
    .set_alpha_to_one = FALSE,
    .timestep_spacing = DF_SPACING_DEFAULT,
  };
}

gboolean
df_sampler_kind_from_string (const char *name, DfSamplerKind *kind, GError **error)
{
  for (int k = 0; k < DF_SAMPLER_N_KINDS; k++)
    if (name != NULL && g_ascii_strcasecmp (name, kind_names[k]) == 0)
      {
        *kind = (DfSamplerKind) k;
        return TRUE;
      }

  g_autoptr (GString) valid = g_string_new (NULL);
  for (int k = 0; k < DF_SAMPLER_N_KINDS; k++)
    g_string_append_printf (valid, "%s%s", k ? ", " : "", kind_names[k]);
  g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
               "Unknown sampler “%s”; valid samplers are: %s", name ? name : "(null)",
               valid->str);
  return FALSE;
}

const char *
df_sampler_kind_name (DfSamplerKind kind)
{
  if ((int) kind < 0 || kind >= DF_SAMPLER_N_KINDS)
    return "unknown";
  return kind_names[kind];
}

gboolean
df_sampler_prediction_from_string (const char *name, DfSamplerPrediction *prediction,
                                   GError **error)
{
  if (name != NULL && g_ascii_strcasecmp (name, "epsilon") == 0)
    *prediction = DF_SAMPLER_EPSILON;
  else if (name != NULL && (g_ascii_strcasecmp (name, "v_prediction") == 0
                            || g_ascii_strcasecmp (name, "v") == 0))
    *prediction = DF_SAMPLER_V_PREDICTION;
  else
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Unknown prediction type “%s”; valid types are: epsilon, v_prediction",
                   name ? name : "(null)");
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------
 * Schedule tables
 * ------------------------------------------------------------------------ */

/* betas = torch.linspace (…, float32) [** 2]; alphas_cumprod = torch.cumprod
 * (1 − betas), which accumulates in double and stores float. */
static void
make_alphas_cumprod (DfSampler *s)
{
  const DfSamplerConfig *c = &s->config;
  int T = c->num_train_timesteps;
  double lo = c->beta_start, hi = c->beta_end;
  double prod = 1.0;

  if (c->beta_schedule == DF_BETAS_SCALED_LINEAR)
    {
      lo = sqrt (lo);
      hi = sqrt (hi);
    }
  s->alphas_cumprod = g_new (float, T);
  for (int i = 0; i < T; i++)
    {
      float b = (float) (T > 1 ? lo + (hi - lo) * i / (T - 1) : lo);
      if (c->beta_schedule == DF_BETAS_SCALED_LINEAR)
        b = b * b;
      prod *= (double) (1.0f - b);
      s->alphas_cumprod[i] = (float) prod;
    }
  s->final_alpha_cumprod = c->set_alpha_to_one ? 1.0f : s->alphas_cumprod[0];
}

/* ((1 − ᾱ) / ᾱ) ** 0.5 of training timestep t, float32 as diffusers has it. */
static float
train_sigma (const DfSampler *s, int t)
{
  float a = s->alphas_cumprod[t];
  return sqrtf ((1.0f - a) / a);
}

/* np.linspace (start, stop, num)[i]: i·step + start, the last one exact. */
static double
np_linspace (double start, double stop, int num, int i)
{
  if (num > 1 && i == num - 1)
    return stop;
  double step = (stop - start) / (num > 1 ? num - 1 : 1);
  return i * step + start;
}

/* np.interp (x, arange (T), train sigmas) */
static double
interp_sigma (const DfSampler *s, double x)
{
  int T = s->config.num_train_timesteps;

  if (x <= 0)
    return train_sigma (s, 0);
  if (x >= T - 1)
    return train_sigma (s, T - 1);
  int j = (int) floor (x);
  double y0 = train_sigma (s, j), y1 = train_sigma (s, j + 1);
  double slope = (y1 - y0) / 1.0;
  return slope * (x - j) + y0;
}

/* Timesteps of the σ kinds (Euler, Euler a, Heun, LMS), in float. */
static void
sigma_kind_timesteps (const DfSampler *s, DfTimestepSpacing spacing, double *ts)
{
  const DfSamplerConfig *c = &s->config;
  int T = c->num_train_timesteps, n = s->n_steps;

  for (int i = 0; i < n; i++)
    {
      double t;
      if (spacing == DF_SPACING_LEADING)
        t = (double) ((n - 1 - i) * (T / n)) + c->steps_offset;
      else if (spacing == DF_SPACING_TRAILING)
        t = rint (T - i * ((double) T / n)) - 1;
      else
        t = (float) np_linspace (0, T - 1, n, n - 1 - i);
      ts[i] = (float) t;
    }
}

/* DDIM's integer timesteps. */
static void
ddim_timesteps (const DfSampler *s, DfTimestepSpacing spacing, double *ts)
{
  const DfSamplerConfig *c = &s->config;
  int T = c->num_train_timesteps, n = s->n_steps;

  for (int i = 0; i < n; i++)
    {
      if (spacing == DF_SPACING_LINSPACE)
        ts[i] = rint (np_linspace (0, T - 1, n, n - 1 - i));
      else if (spacing == DF_SPACING_TRAILING)
        ts[i] = rint (T - i * ((double) T / n)) - 1;
      else
        ts[i] = (double) ((n - 1 - i) * (T / n)) + c->steps_offset;
    }
}

/* DPMSolverMultistep's integer timesteps (lambda_min_clipped = −∞, so the
 * last timestep is T). */
static void
dpm_timesteps (const DfSampler *s, DfTimestepSpacing spacing, double *ts)
{
  const DfSamplerConfig *c = &s->config;
  int T = c->num_train_timesteps, n = s->n_steps;

  for (int i = 0; i < n; i++)
    {
      if (spacing == DF_SPACING_LEADING)
        ts[i] = (double) ((n - i) * (T / (n + 1))) + c->steps_offset;
      else if (spacing == DF_SPACING_TRAILING)
        ts[i] = rint (T - i * ((double) T / n)) - 1;
      else
        ts[i] = rint (np_linspace (0, T - 1, n + 1, n - i));
    }
}

/* _sigma_to_t: the fractional training timestep of σ, by linear
 * interpolation of log σ against the float32 log_sigmas table. */
static double
sigma_to_t (const DfSampler *s, const float *log_sigmas, double sigma)
{
  int T = s->config.num_train_timesteps;
  double log_sigma = log (MAX (sigma, 1e-10));
  int low = 0;

  for (int i = 0; i < T; i++)
    if (log_sigma - (double) log_sigmas[i] >= 0)
      low = i;
  low = MIN (low, T - 2);
  double lo = log_sigmas[low], hi = log_sigmas[low + 1];
  double w = CLAMP ((lo - log_sigma) / (lo - hi), 0.0, 1.0);
  return (1 - w) * low + w * (low + 1);
}

/* DPM-Solver with use_karras_sigmas: ρ = 7 schedule between the smallest
 * and largest training σ, timesteps mapped back through sigma_to_t. */
static void
karras_schedule (DfSampler *s, double *ts, double *sig)
{
  int T = s->config.num_train_timesteps, n = s->n_steps;
  g_autofree float *log_sigmas = g_new (float, T);

  for (int t = 0; t < T; t++)
    log_sigmas[t] = logf (train_sigma (s, t));

  double sigma_min = train_sigma (s, 0), sigma_max = train_sigma (s, T - 1);
  double min_inv_rho = pow (sigma_min, 1 / KARRAS_RHO);
  double max_inv_rho = pow (sigma_max, 1 / KARRAS_RHO);

  for (int i = 0; i < n; i++)
    {
      double ramp = np_linspace (0, 1, n, i);
      sig[i] = pow (max_inv_rho + ramp * (min_inv_rho - max_inv_rho), KARRAS_RHO);
      ts[i] = rint (sigma_to_t (s, log_sigmas, sig[i]));
    }
}

/* LCMScheduler.set_timesteps (strength 1): every k-th training step of the
 * 50-step distillation schedule, then num_inference_steps of them taken at
 * floor (linspace (0, 50, n, endpoint=False)). */
static gboolean
lcm_timesteps (const DfSampler *s, double *ts, GError **error)
{
  int T = s->config.num_train_timesteps, n = s->n_steps;
  int original = LCM_ORIGINAL_STEPS, k = T / original;

  if (n > original || original > T)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "The lcm sampler takes at most %d steps, not %d", MIN (original, T), n);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      int index = (int) floor ((double) i * original / n);
      ts[i] = (double) ((original - index) * k - 1);
    }
  return TRUE;
}

static gboolean
is_sigma_kind (DfSamplerKind kind)
{
  return kind == DF_SAMPLER_EULER || kind == DF_SAMPLER_EULER_A || kind == DF_SAMPLER_HEUN
         || kind == DF_SAMPLER_LMS;
}

static gboolean
is_dpm_kind (DfSamplerKind kind)
{
  return kind == DF_SAMPLER_DPMPP_2M || kind == DF_SAMPLER_DPMPP_2M_KARRAS;
}

DfSampler *
df_sampler_new (DfSamplerKind kind, DfSamplerPrediction prediction, int n_steps,
                const DfSamplerConfig *config, GError **error)
{
  if ((int) kind < 0 || kind >= DF_SAMPLER_N_KINDS)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "Unknown sampler kind %d",
                   (int) kind);
      return NULL;
    }
  if (prediction != DF_SAMPLER_EPSILON && prediction != DF_SAMPLER_V_PREDICTION)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT, "Unknown prediction type %d",
                   (int) prediction);
      return NULL;
    }

  DfSamplerConfig defaults;
  df_sampler_config_init (&defaults);
  if (config == NULL)
    config = &defaults;

  int T = config->num_train_timesteps;
  if (T < 2 || T > 100000 || !(config->beta_start > 0) || !(config->beta_end < 1)
      || !(config->beta_start <= config->beta_end))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Invalid scheduler configuration (%d training steps, betas %g to %g)", T,
                   config->beta_start, config->beta_end);
      return NULL;
    }
  if (n_steps < 1 || n_steps > T)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "The number of steps must be between 1 and %d, not %d", T, n_steps);
      return NULL;
    }

  g_autoptr (DfSampler) s = g_new0 (DfSampler, 1);
  s->kind = kind;
  s->prediction = prediction;
  s->config = *config;
  s->n_steps = n_steps;
  s->order = kind == DF_SAMPLER_HEUN ? 2 : 1;
  make_alphas_cumprod (s);

  DfTimestepSpacing spacing = config->timestep_spacing;
  if (spacing == DF_SPACING_DEFAULT)
    spacing = (kind == DF_SAMPLER_DDIM || kind == DF_SAMPLER_LCM) ? DF_SPACING_LEADING
                                                                  : DF_SPACING_LINSPACE;

  g_autofree double *ts = g_new0 (double, n_steps);
  g_autofree double *sig = g_new0 (double, n_steps);

  if (is_sigma_kind (kind))
    {
      sigma_kind_timesteps (s, spacing, ts);
      for (int i = 0; i < n_steps; i++)
        sig[i] = interp_sigma (s, ts[i]);
    }
  else if (kind == DF_SAMPLER_DDIM)
    ddim_timesteps (s, spacing, ts);
  else if (kind == DF_SAMPLER_DPMPP_2M)
    {
      dpm_timesteps (s, spacing, ts);
      for (int i = 0; i < n_steps; i++)
        sig[i] = interp_sigma (s, ts[i]);
    }
  else if (kind == DF_SAMPLER_DPMPP_2M_KARRAS)
    karras_schedule (s, ts, sig);
  else if (!lcm_timesteps (s, ts, error))
    return NULL;

  if (kind == DF_SAMPLER_HEUN)
    {
      /* [t0, t1, t1, …, tn−1, tn−1] and [σ0, σ1, σ1, …, σn−1, σn−1, 0] */
      s->n_calls = 2 * n_steps - 1;
      s->timesteps = g_new (float, s->n_calls);
      s->sigmas = g_new (float, s->n_calls + 1);
      s->timesteps[0] = (float) ts[0];
      s->sigmas[0] = (float) sig[0];
      for (int i = 1; i < n_steps; i++)
        {
          s->timesteps[2 * i - 1] = s->timesteps[2 * i] = (float) ts[i];
          s->sigmas[2 * i - 1] = s->sigmas[2 * i] = (float) sig[i];
        }
      s->sigmas[s->n_calls] = 0.0f;
    }
  else
    {
      s->n_calls = n_steps;
      s->timesteps = g_new (float, n_steps);
      for (int i = 0; i < n_steps; i++)
        s->timesteps[i] = (float) ts[i];
      if (is_sigma_kind (kind) || is_dpm_kind (kind))
        {
          s->sigmas = g_new (float, n_steps + 1);
          for (int i = 0; i < n_steps; i++)
            s->sigmas[i] = (float) sig[i];
          s->sigmas[n_steps] = 0.0f; /* final_sigmas_type "zero" */
        }
    }

  /* Timesteps index alphas_cumprod; leading spacing with a large offset
   * could leave the table. */
  for (int i = 0; i < s->n_calls; i++)
    if (!(s->timesteps[i] >= 0 && s->timesteps[i] <= T - 1))
      {
        g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                     "Timestep %g of the %s schedule is outside [0, %d)",
                     (double) s->timesteps[i], kind_names[kind], T);
        return NULL;
      }

  s->init_noise_sigma = 1.0f;
  if (is_sigma_kind (kind))
    {
      float max_sigma = 0.0f;
      for (int i = 0; i <= s->n_calls; i++)
        max_sigma = MAX (max_sigma, s->sigmas[i]);
      s->init_noise_sigma = (spacing == DF_SPACING_LINSPACE || spacing == DF_SPACING_TRAILING)
                              ? max_sigma
                              : sqrtf (max_sigma * max_sigma + 1.0f);
    }

  return g_steal_pointer (&s);
}

static void
clear_state (DfSampler *s)
{
  g_clear_pointer (&s->prev_derivative, g_free);
  g_clear_pointer (&s->saved_sample, g_free);
  for (int k = 0; k < LMS_ORDER; k++)
    g_clear_pointer (&s->derivatives[k], g_free);
  g_clear_pointer (&s->prev_x0, g_free);
  g_clear_pointer (&s->scratch, g_free);
  s->n_derivatives = 0;
  s->lower_order_nums = 0;
  s->heun_second = FALSE;
  s->heun_dt = 0.0f;
  s->n = 0;
}

void
df_sampler_free (DfSampler *s)
{
  if (s == NULL)
    return;
  clear_state (s);
  g_free (s->alphas_cumprod);
  g_free (s->timesteps);
  g_free (s->sigmas);
  g_free (s);
}

DfSamplerKind
df_sampler_get_kind (const DfSampler *s)
{
  return s->kind;
}

int
df_sampler_n_steps (const DfSampler *s)
{
  return s->n_steps;
}

int
df_sampler_n_calls (const DfSampler *s)
{
  return s->n_calls;
}

int
df_sampler_step_of_call (const DfSampler *s, int i)
{
  if (s->kind == DF_SAMPLER_HEUN)
    return CLAMP (i / 2, 0, s->n_steps - 1);
  return CLAMP (i, 0, s->n_steps - 1);
}

gboolean
df_sampler_needs_rng (const DfSampler *s)
{
  return s->kind == DF_SAMPLER_EULER_A || s->kind == DF_SAMPLER_LCM;
}

float
df_sampler_timestep (const DfSampler *s, int i)
{
  g_return_val_if_fail (i >= 0 && i < s->n_calls, 0.0f);
  return s->timesteps[i];
}

float
df_sampler_sigma (const DfSampler *s, int i)
{
  if (s->sigmas == NULL || i < 0 || i > s->n_calls)
    return 0.0f;
  return s->sigmas[i];
}

float
df_sampler_init_noise_sigma (const DfSampler *s)
{
  return s->init_noise_sigma;
}

float
df_sampler_alpha_cumprod (const DfSampler *s, int t)
{
  g_return_val_if_fail (t >= 0 && t < s->config.num_train_timesteps, 0.0f);
  return s->alphas_cumprod[t];
}

void
df_sampler_scale_model_input (const DfSampler *s, int i, float *x, int64_t n)
{
  g_return_if_fail (i >= 0 && i < s->n_calls);

  if (!is_sigma_kind (s->kind))
    return;
  float sigma = s->sigmas[i];
  float d = sqrtf (sigma * sigma + 1.0f);
  for (int64_t k = 0; k < n; k++)
    x[k] = x[k] / d;
}

/* ------------------------------------------------------------------------
 * Steps
 * ------------------------------------------------------------------------ */

/* pred_original_sample of the σ kinds, for σ = sigma:
 * epsilon: x − σ·m;  v: m·(−σ/√(σ²+1)) + x/(σ²+1). */
static void
sigma_x0 (const DfSampler *s, float sigma, const float *m, const float *x, float *x0, int64_t n)
{
  if (s->prediction == DF_SAMPLER_EPSILON)
    {
      for (int64_t k = 0; k < n; k++)
        x0[k] = x[k] - sigma * m[k];
    }
  else
    {
      float c_out = -sigma / sqrtf (sigma * sigma + 1.0f);
      float c_in = sigma * sigma + 1.0f;
      for (int64_t k = 0; k < n; k++)
        x0[k] = m[k] * c_out + x[k] / c_in;
    }
}

static void
step_euler (DfSampler *s, int i, const float *m, float *x, int64_t n)
{
  float sigma = s->sigmas[i];
  float dt = s->sigmas[i + 1] - sigma;
  float *x0 = s->scratch;

  sigma_x0 (s, sigma, m, x, x0, n);
  for (int64_t k = 0; k < n; k++)
    {
      float derivative = (x[k] - x0[k]) / sigma;
      x[k] = x[k] + derivative * dt;
    }
}

static void
step_euler_a (DfSampler *s, int i, const float *m, float *x, int64_t n, DfRng *rng)
{
  float sigma = s->sigmas[i];
  float from = sigma, to = s->sigmas[i + 1];
  float up = sqrtf (to * to * (from * from - to * to) / (from * from));
  float down = sqrtf (to * to - up * up);
  float dt = down - sigma;
  float *x0 = s->scratch;

  sigma_x0 (s, sigma, m, x, x0, n);
  for (int64_t k = 0; k < n; k++)
    {
      float derivative = (x[k] - x0[k]) / sigma;
      x[k] = x[k] + derivative * dt;
    }
  /* randn_tensor (model_output.shape, generator) — after the update, so the
   * scratch x0 can hold the noise. */
  float *noise = s->scratch;
  df_rng_randn (rng, noise, n);
  for (int64_t k = 0; k < n; k++)
    x[k] = x[k] + noise[k] * up;
}

static void
step_heun (DfSampler *s, int i, const float *m, float *x, int64_t n)
{
  float *x0 = s->scratch;

  if (!s->heun_second)
    {
      float sigma = s->sigmas[i], sigma_next = s->sigmas[i + 1];
      float dt = sigma_next - sigma;

      sigma_x0 (s, sigma, m, x, x0, n);
      for (int64_t k = 0; k < n; k++)
        {
          float derivative = (x[k] - x0[k]) / sigma;
          s->prev_derivative[k] = derivative;
          s->saved_sample[k] = x[k];
          x[k] = x[k] + derivative * dt;
        }
      s->heun_dt = dt;
      s->heun_second = TRUE;
    }
  else
    {
      float sigma_next = s->sigmas[i];
      float dt = s->heun_dt;

      sigma_x0 (s, sigma_next, m, x, x0, n);
      for (int64_t k = 0; k < n; k++)
        {
          float derivative = (x[k] - x0[k]) / sigma_next;
          derivative = (s->prev_derivative[k] + derivative) / 2.0f;
          x[k] = s->saved_sample[k] + derivative * dt;
        }
      s->heun_second = FALSE;
    }
}

/* ∫ from σ_t to σ_{t+1} of the Lagrange basis polynomial of node
 * current_order over the nodes σ_{t−k}, k < order (degree ≤ 3), by
 * three-point Gauss–Legendre, exact for degree ≤ 5 (diffusers uses
 * scipy's quad, exact to rounding here). */
static double
lms_coefficient (const DfSampler *s, int order, int t, int current_order)
{
  static const double nodes[3] = { -0.7745966692414834, 0.0, 0.7745966692414834 };
  static const double weights[3] = { 5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0 };
  double a = s->sigmas[t], b = s->sigmas[t + 1];
  double sum = 0.0;

  for (int q = 0; q < 3; q++)
    {
      double tau = 0.5 * (b - a) * nodes[q] + 0.5 * (a + b);
      double prod = 1.0;
      for (int k = 0; k < order; k++)
        {
          if (k == current_order)
            continue;
          double node = s->sigmas[t - k];
          prod *= (tau - node) / ((double) s->sigmas[t - current_order] - node);
        }
      sum += weights[q] * prod;
    }
  return 0.5 * (b - a) * sum;
}

static void
step_lms (DfSampler *s, int i, const float *m, float *x, int64_t n)
{
  float sigma = s->sigmas[i];
  float *x0 = s->scratch;

  /* derivatives keeps the newest LMS_ORDER, oldest first */
  if (s->n_derivatives == LMS_ORDER)
    {
      float *oldest = s->derivatives[0];
      memmove (s->derivatives, s->derivatives + 1, (LMS_ORDER - 1) * sizeof (float *));
      s->derivatives[LMS_ORDER - 1] = oldest;
      s->n_derivatives--;
    }
  float *d = s->derivatives[s->n_derivatives++];

  sigma_x0 (s, sigma, m, x, x0, n);
  for (int64_t k = 0; k < n; k++)
    d[k] = (x[k] - x0[k]) / sigma;

  /* order from the step index, as diffusers has it; zip () with the
   * reversed derivatives takes the shorter of the two */
  int order = MIN (i + 1, LMS_ORDER);
  int terms = MIN (order, s->n_derivatives);
  float coeffs[LMS_ORDER];
  for (int c = 0; c < terms; c++)
    coeffs[c] = (float) lms_coefficient (s, order, i, c);

  for (int64_t k = 0; k < n; k++)
    {
      float sum = 0.0f;
      for (int c = 0; c < terms; c++)
        sum = sum + coeffs[c] * s->derivatives[s->n_derivatives - 1 - c][k];
      x[k] = x[k] + sum;
    }
}

static void
step_ddim (DfSampler *s, int i, const float *m, float *x, int64_t n)
{
  int T = s->config.num_train_timesteps;
  int t = (int) s->timesteps[i];
  int prev_t = t - T / s->n_steps;
  float a = s->alphas_cumprod[t];
  float a_prev = prev_t >= 0 ? s->alphas_cumprod[prev_t] : s->final_alpha_cumprod;
  float beta = 1.0f - a;
  float sqrt_a = sqrtf (a), sqrt_beta = sqrtf (beta);
  float sqrt_a_prev = sqrtf (a_prev);
  float dir = sqrtf (1.0f - a_prev - 0.0f); /* η = 0: σ_t = 0 */

  for (int64_t k = 0; k < n; k++)
    {
      float x0, eps;
      if (s->prediction == DF_SAMPLER_EPSILON)
        {
          x0 = (x[k] - sqrt_beta * m[k]) / sqrt_a;
          eps = m[k];
        }
      else
        {
          x0 = sqrt_a * x[k] - sqrt_beta * m[k];
          eps = sqrt_a * m[k] + sqrt_beta * x[k];
        }
      x[k] = sqrt_a_prev * x0 + dir * eps;
    }
}

/* _sigma_to_alpha_sigma_t and λ = log α − log σ, in float32. */
static void
dpm_alpha_sigma (float sigma, float *alpha_t, float *sigma_t, float *lambda)
{
  *alpha_t = 1.0f / sqrtf (sigma * sigma + 1.0f);
  *sigma_t = sigma * *alpha_t;
  *lambda = logf (*alpha_t) - logf (*sigma_t);
}

static void
step_dpm (DfSampler *s, int i, const float *m, float *x, int64_t n)
{
  /* Always first order at the last step (final_sigmas_type "zero"), and
   * while there is no previous output (the first step of a run). */
  gboolean first_order = s->lower_order_nums < 1 || i == s->n_calls - 1;
  float alpha_s0, sigma_s0, lambda_s0, alpha_t, sigma_t, lambda_t;
  float *x0 = s->scratch;

  dpm_alpha_sigma (s->sigmas[i], &alpha_s0, &sigma_s0, &lambda_s0);
  dpm_alpha_sigma (s->sigmas[i + 1], &alpha_t, &sigma_t, &lambda_t);

  /* convert_model_output (dpmsolver++): the data prediction x0 */
  if (s->prediction == DF_SAMPLER_EPSILON)
    for (int64_t k = 0; k < n; k++)
      x0[k] = (x[k] - sigma_s0 * m[k]) / alpha_s0;
  else
    for (int64_t k = 0; k < n; k++)
      x0[k] = alpha_s0 * x[k] - sigma_s0 * m[k];

  float h = lambda_t - lambda_s0;
  float c_x = sigma_t / sigma_s0;
  float c_d0 = alpha_t * (expf (-h) - 1.0f);

  if (first_order)
    {
      for (int64_t k = 0; k < n; k++)
        x[k] = c_x * x[k] - c_d0 * x0[k];
    }
  else
    {
      float alpha_s1, sigma_s1, lambda_s1;
      dpm_alpha_sigma (s->sigmas[i - 1], &alpha_s1, &sigma_s1, &lambda_s1);
      float h_0 = lambda_s0 - lambda_s1;
      float r0 = h_0 / h;
      float inv_r0 = 1.0f / r0;
      float c_d1 = 0.5f * c_d0;

      for (int64_t k = 0; k < n; k++)
        {
          float d1 = inv_r0 * (x0[k] - s->prev_x0[k]);
          x[k] = c_x * x[k] - c_d0 * x0[k] - c_d1 * d1;
        }
    }

  memcpy (s->prev_x0, x0, (size_t) n * sizeof (float));
  if (s->lower_order_nums < 2)
    s->lower_order_nums++;
}

static void
step_lcm (DfSampler *s, int i, const float *m, float *x, int64_t n, DfRng *rng)
{
  int t = (int) s->timesteps[i];
  int prev_t = i + 1 < s->n_calls ? (int) s->timesteps[i + 1] : t;
  float a = s->alphas_cumprod[t];
  float a_prev = prev_t >= 0 ? s->alphas_cumprod[prev_t] : s->final_alpha_cumprod;
  float beta = 1.0f - a, beta_prev = 1.0f - a_prev;
  float sqrt_a = sqrtf (a), sqrt_beta = sqrtf (beta);

  /* get_scalings_for_boundary_condition_discrete */
  double scaled = t * LCM_TIMESTEP_SCALING;
  double sd2 = LCM_SIGMA_DATA * LCM_SIGMA_DATA;
  float c_skip = (float) (sd2 / (scaled * scaled + sd2));
  float c_out = (float) (scaled / sqrt (scaled * scaled + sd2));
  gboolean last = i == s->n_steps - 1;

  for (int64_t k = 0; k < n; k++)
    {
      float x0;
      if (s->prediction == DF_SAMPLER_EPSILON)
        x0 = (x[k] - sqrt_beta * m[k]) / sqrt_a;
      else
        x0 = sqrt_a * x[k] - sqrt_beta * m[k];
      x[k] = c_out * x0 + c_skip * x[k]; /* denoised */
    }
  if (last)
    return;

  float *noise = s->scratch;
  float sqrt_a_prev = sqrtf (a_prev), sqrt_beta_prev = sqrtf (beta_prev);
  df_rng_randn (rng, noise, n);
  for (int64_t k = 0; k < n; k++)
    x[k] = sqrt_a_prev * x[k] + sqrt_beta_prev * noise[k];
}

gboolean
df_sampler_step (DfSampler *s, int i, const float *model_output, float *x, int64_t n,
                 DfRng *rng, GError **error)
{
  if (i != s->next || i < 0 || i >= s->n_calls)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Sampler call %d out of order (expected %d of %d)", i, s->next, s->n_calls);
      return FALSE;
    }
  if (n <= 0 || (s->n != 0 && n != s->n))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "Sampler latent size %" G_GINT64_FORMAT " does not match %" G_GINT64_FORMAT,
                   (gint64) n, (gint64) s->n);
      return FALSE;
    }
  if (rng == NULL && df_sampler_needs_rng (s))
    {
      g_set_error (error, DF_ERROR, DF_ERROR_INVALID_ARGUMENT,
                   "The %s sampler needs a noise generator", kind_names[s->kind]);
      return FALSE;
    }

  if (s->n == 0)
    {
      s->n = n;
      s->scratch = g_new (float, n);
      if (s->kind == DF_SAMPLER_HEUN)
        {
          s->prev_derivative = g_new (float, n);
          s->saved_sample = g_new (float, n);
        }
      else if (s->kind == DF_SAMPLER_LMS)
        for (int k = 0; k < LMS_ORDER; k++)
          s->derivatives[k] = g_new (float, n);
      else if (is_dpm_kind (s->kind))
        s->prev_x0 = g_new (float, n);
    }

  switch (s->kind)
    {
    case DF_SAMPLER_EULER:
      step_euler (s, i, model_output, x, n);
      break;
    case DF_SAMPLER_EULER_A:
      step_euler_a (s, i, model_output, x, n, rng);
      break;
    case DF_SAMPLER_HEUN:
      step_heun (s, i, model_output, x, n);
      break;
    case DF_SAMPLER_DDIM:
      step_ddim (s, i, model_output, x, n);
      break;
    case DF_SAMPLER_LMS:
      step_lms (s, i, model_output, x, n);
      break;
    case DF_SAMPLER_DPMPP_2M:
    case DF_SAMPLER_DPMPP_2M_KARRAS:
      step_dpm (s, i, model_output, x, n);
      break;
    case DF_SAMPLER_LCM:
      step_lcm (s, i, model_output, x, n, rng);
      break;
    case DF_SAMPLER_N_KINDS:
    default:
      g_assert_not_reached ();
    }
  s->next = i + 1;
  return TRUE;
}

int
df_sampler_set_strength (DfSampler *s, double strength)
{
  int n = s->n_steps;
  int init = (int) MIN (floor (n * CLAMP (strength, 0.0, 1.0)), (double) n);
  int t_start = MAX (n - init, 0);
  int first = MIN (t_start * s->order, s->n_calls);

  clear_state (s);
  s->next = first;
  return first;
}

void
df_sampler_add_noise (const DfSampler *s, int i, float *x, const float *noise, int64_t n)
{
  g_return_if_fail (i >= 0 && i < s->n_calls);

  if (is_sigma_kind (s->kind))
    {
      float sigma = s->sigmas[i];
      for (int64_t k = 0; k < n; k++)
        x[k] = x[k] + noise[k] * sigma;
    }
  else if (is_dpm_kind (s->kind))
    {
      float alpha_t, sigma_t, lambda;
      dpm_alpha_sigma (s->sigmas[i], &alpha_t, &sigma_t, &lambda);
      for (int64_t k = 0; k < n; k++)
        x[k] = alpha_t * x[k] + sigma_t * noise[k];
    }
  else
    {
      float a = s->alphas_cumprod[(int) s->timesteps[i]];
      float sqrt_a = sqrtf (a), sqrt_one_minus = sqrtf (1.0f - a);
      for (int64_t k = 0; k < n; k++)
        x[k] = sqrt_a * x[k] + sqrt_one_minus * noise[k];
    }
}
