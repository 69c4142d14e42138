/* df-sampling.h — noise and schedulers (public API, included by df.h).
 *
 * Plain C, no device.  The noise generator returns the same numbers as
 * PyTorch's CPU generator, and every scheduler follows its diffusers class
 * step for step, so a seed, a sampler and a step count give the latents
 * diffusers gives. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------------
 * Noise: torch.randn (shape, generator=torch.Generator ("cpu").manual_seed
 * (seed), dtype=torch.float32), reproduced.
 *
 * - The engine is mt19937 seeded with the low 32 bits of the seed, as
 *   PyTorch's manual_seed does (seed 2^32 + 5 draws what seed 5 draws).
 * - n ≥ 16: float uniforms u = (draw & 0xffffff) / 2^24, then Box–Muller on
 *   blocks of 16 (u[j] with u[j + 8]); when n is not a multiple of 16 the
 *   last 16 outputs are recomputed from 16 fresh uniforms.  This follows the
 *   vectorised (AVX2) kernel that x86 PyTorch runs; its log/sin/cos differ
 *   from libm's by an ulp, so outputs agree to about 3 ulp.
 * - n < 16: the double-precision path, one 64-bit uniform pair per two
 *   samples, the second sample cached in the generator for the next call;
 *   bit-exact.
 * Consecutive calls continue the stream exactly as with one torch.Generator.
 * ------------------------------------------------------------------------ */

typedef struct _DfRng DfRng;

DfRng *df_rng_new (uint64_t seed);
void df_rng_free (DfRng *rng);
/* Restarts the stream as manual_seed (seed) does (drops the cached sample). */
void df_rng_set_seed (DfRng *rng, uint64_t seed);
uint64_t df_rng_get_seed (const DfRng *rng);
/* One torch.randn call of n elements (any shape with n elements). */
void df_rng_randn (DfRng *rng, float *out, int64_t n);
/* The raw 32-bit mt19937 output (the stream randn consumes). */
uint32_t df_rng_next_u32 (DfRng *rng);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfRng, df_rng_free)

/* ------------------------------------------------------------------------
 * Schedulers.  Each kind is the diffusers class, configured as
 * `Class.from_config (sd15_scheduler_config)` configures it:
 *   euler            EulerDiscreteScheduler           (linspace)
 *   euler_a          EulerAncestralDiscreteScheduler  (linspace; draws noise)
 *   heun             HeunDiscreteScheduler            (linspace; 2 calls/step)
 *   ddim             DDIMScheduler, eta 0             (leading)
 *   lms              LMSDiscreteScheduler, order 4    (linspace)
 *   dpmpp_2m         DPMSolverMultistepScheduler, dpmsolver++, order 2,
 *                    midpoint, lower_order_final      (linspace)
 *   dpmpp_2m_karras  the same with use_karras_sigmas
 *   lcm              LCMScheduler, 50 original steps  (leading; draws noise)
 *
 * The loop the engine runs (one iteration = one UNet evaluation, a "call"):
 *
 *   s = df_sampler_new (kind, prediction, steps, NULL, &error);
 *   first = 0;                     // img2img: df_sampler_set_strength ()
 *   x = noise · df_sampler_init_noise_sigma (s)
 *                                  // img2img: df_sampler_add_noise (s, first, …)
 *   for (i = first; i < df_sampler_n_calls (s); i++)
 *     {
 *       t = df_sampler_timestep (s, i);
 *       in = x; df_sampler_scale_model_input (s, i, in, n);
 *       eps = unet (in, t)  (with guidance)
 *       df_sampler_step (s, i, eps, x, n, rng, &error);   // x updated in place
 *     }
 *
 * n_calls equals n_steps for every kind except heun, whose diffusers
 * timestep list has 2·n_steps − 1 entries (each step but the last needs two
 * evaluations); df_sampler_step_of_call () maps a call to the user-facing
 * step for progress.  Calls must be stepped in order, each once.
 * ------------------------------------------------------------------------ */

typedef enum
{
  DF_SAMPLER_EULER,
  DF_SAMPLER_EULER_A,
  DF_SAMPLER_HEUN,
  DF_SAMPLER_DDIM,
  DF_SAMPLER_LMS,
  DF_SAMPLER_DPMPP_2M,
  DF_SAMPLER_DPMPP_2M_KARRAS,
  DF_SAMPLER_LCM,
  DF_SAMPLER_N_KINDS,
} DfSamplerKind;

/* What the UNet predicts, as scheduler_config.json's "prediction_type"
 * names it.  (Kept apart from the model loader's own enum so this header
 * stands alone; the values are 0 for epsilon and 1 for v.) */
typedef enum
{
  DF_SAMPLER_EPSILON,
  DF_SAMPLER_V_PREDICTION,
} DfSamplerPrediction;

typedef enum
{
  DF_SPACING_DEFAULT,  /* the class's own default, as listed above */
  DF_SPACING_LINSPACE,
  DF_SPACING_LEADING,
  DF_SPACING_TRAILING,
} DfTimestepSpacing;

typedef enum
{
  DF_BETAS_SCALED_LINEAR,  /* linspace (√start, √end)², SD 1.x and 2.x */
  DF_BETAS_LINEAR,
} DfBetaSchedule;

/* The scheduler_config.json fields we follow; df_sampler_config_init ()
 * fills SD 1.5's values. */
typedef struct
{
  int num_train_timesteps;  /* 1000 */
  double beta_start;        /* 0.00085 */
  double beta_end;          /* 0.012 */
  DfBetaSchedule beta_schedule;
  int steps_offset;         /* 1 */
  gboolean set_alpha_to_one; /* FALSE */
  DfTimestepSpacing timestep_spacing; /* DF_SPACING_DEFAULT */
} DfSamplerConfig;

void df_sampler_config_init (DfSamplerConfig *config);

/* Names: "euler", "euler_a", "heun", "ddim", "lms", "dpmpp_2m",
 * "dpmpp_2m_karras", "lcm".  An unknown name is DF_ERROR_INVALID_ARGUMENT
 * with a message that lists the valid ones. */
gboolean df_sampler_kind_from_string (const char *name, DfSamplerKind *kind, GError **error);
const char *df_sampler_kind_name (DfSamplerKind kind);
/* "epsilon" or "v_prediction" (also "v"). */
gboolean df_sampler_prediction_from_string (const char *name,
                                            DfSamplerPrediction *prediction, GError **error);

typedef struct _DfSampler DfSampler;

/* config NULL means SD 1.5's.  n_steps ≥ 1 (lcm: at most 50). */
DfSampler *df_sampler_new (DfSamplerKind kind, DfSamplerPrediction prediction, int n_steps,
                           const DfSamplerConfig *config, GError **error);
void df_sampler_free (DfSampler *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DfSampler, df_sampler_free)

DfSamplerKind df_sampler_get_kind (const DfSampler *s);
int df_sampler_n_steps (const DfSampler *s);
/* UNet evaluations for a whole run (diffusers' len (scheduler.timesteps)). */
int df_sampler_n_calls (const DfSampler *s);
/* The 0-based user-facing step a call belongs to. */
int df_sampler_step_of_call (const DfSampler *s, int i);
/* Whether step () draws noise from the DfRng (euler_a, lcm). */
gboolean df_sampler_needs_rng (const DfSampler *s);

/* The timestep to feed the UNet at call i (diffusers' timesteps[i]). */
float df_sampler_timestep (const DfSampler *s, int i);
/* The σ of call i for σ-parameterised kinds (sigmas[i]; i may be
 * n_calls, the final σ), else 0. */
float df_sampler_sigma (const DfSampler *s, int i);
float df_sampler_init_noise_sigma (const DfSampler *s);
/* alphas_cumprod[t] of the training schedule, t in [0, num_train_timesteps). */
float df_sampler_alpha_cumprod (const DfSampler *s, int t);

/* x[0..n) scaled in place for the UNet input at call i (Euler-type kinds
 * divide by √(σ² + 1); others leave x alone). */
void df_sampler_scale_model_input (const DfSampler *s, int i, float *x, int64_t n);

/* One update: model_output (what the UNet predicted at call i, after
 * guidance) and latents x[0..n) → x in place.  rng is needed when
 * df_sampler_needs_rng (); it draws one df_rng_randn (rng, …, n) then, as
 * diffusers' randn_tensor does.  Fails (DF_ERROR_INVALID_ARGUMENT) when i is
 * not the next call, n changes between calls, or rng is missing. */
gboolean df_sampler_step (DfSampler *s, int i, const float *model_output, float *x, int64_t n,
                          DfRng *rng, GError **error);

/* img2img: the first call for a strength in (0, 1], as diffusers'
 * img2img pipeline slices the schedule (t_start = n_steps −
 * min (⌊n_steps·strength⌋, n_steps), first call = t_start · order), and
 * makes that call the next one to step.  Returns n_calls when strength is
 * too small to leave any step. */
int df_sampler_set_strength (DfSampler *s, double strength);

/* x = add_noise (x, noise, timesteps[i]) in place: x + σ_i·noise for Euler,
 * Heun and LMS; α_i·x + σ_i·noise with α_i = 1/√(σ_i² + 1) for DPM-Solver;
 * √ᾱ_t·x + √(1 − ᾱ_t)·noise for DDIM and LCM. */
void df_sampler_add_noise (const DfSampler *s, int i, float *x, const float *noise, int64_t n);

G_END_DECLS
