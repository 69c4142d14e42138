/* df-rng.c — PyTorch's CPU normal generator (mt19937 + Box–Muller).
 *
 * See df-sampling.h for what is reproduced.  The constants are those of
 * the reference mt19937 (Matsumoto & Nishimura 1998). */
#include <math.h>

#include "df.h"

#define MT_N 624
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER_MASK 0x80000000u
#define MT_LOWER_MASK 0x7fffffffu

struct _DfRng
{
  uint64_t seed;
  uint32_t state[MT_N];
  int next;                  /* index into state; MT_N means regenerate */
  gboolean has_cached_normal;
  double cached_normal;      /* second Box–Muller sample of the double path */
};

void
df_rng_set_seed (DfRng *rng, uint64_t seed)
{
  /* PyTorch's mt19937 keeps only the low 32 bits of a manual_seed. */
  rng->seed = seed;
  rng->state[0] = (uint32_t) (seed & 0xffffffffu);
  for (int i = 1; i < MT_N; i++)
    {
      uint32_t prev = rng->state[i - 1];
      rng->state[i] = 1812433253u * (prev ^ (prev >> 30)) + (uint32_t) i;
    }
  rng->next = MT_N;
  rng->has_cached_normal = FALSE;
  rng->cached_normal = 0.0;
}

DfRng *
df_rng_new (uint64_t seed)
{
  DfRng *rng = g_new0 (DfRng, 1);

  df_rng_set_seed (rng, seed);
  return rng;
}

void
df_rng_free (DfRng *rng)
{
  g_free (rng);
}

uint64_t
df_rng_get_seed (const DfRng *rng)
{
  return rng->seed;
}

static void
mt_twist (DfRng *rng)
{
  uint32_t *mt = rng->state;

  for (int k = 0; k < MT_N; k++)
    {
      uint32_t y = (mt[k] & MT_UPPER_MASK) | (mt[(k + 1) % MT_N] & MT_LOWER_MASK);
      mt[k] = mt[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
  rng->next = 0;
}

uint32_t
df_rng_next_u32 (DfRng *rng)
{
  if (rng->next >= MT_N)
    mt_twist (rng);

  uint32_t y = rng->state[rng->next++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

/* uniform_real_distribution<float>(0, 1): 24 random bits, exact in float. */
static float
uniform_f32 (DfRng *rng)
{
  return (float) (df_rng_next_u32 (rng) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* uniform_real_distribution<double>(0, 1): 53 bits of the 64-bit draw made
 * of two 32-bit draws, the first one high. */
static double
uniform_f64 (DfRng *rng)
{
  uint64_t hi = df_rng_next_u32 (rng);
  uint64_t lo = df_rng_next_u32 (rng);
  uint64_t v = (hi << 32) | lo;

  return (double) (v & ((UINT64_C (1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* normal_distribution<double> with the cached second sample. */
static double
normal_f64 (DfRng *rng)
{
  if (rng->has_cached_normal)
    {
      rng->has_cached_normal = FALSE;
      return rng->cached_normal;
    }

  double u1 = uniform_f64 (rng);
  double u2 = uniform_f64 (rng);
  double r = sqrt (-2.0 * log1p (-u2));
  double theta = 2.0 * G_PI * u1;

  rng->cached_normal = r * sin (theta);
  rng->has_cached_normal = TRUE;
  return r * cos (theta);
}

/* Box–Muller on 16 uniforms in place: u[j] with u[j + 8], j < 8, as the
 * vectorised kernel does it (θ = float 2π times u, in float). */
static void
normal_fill_16 (float *d)
{
  const float two_pi = (float) (2.0 * G_PI);

  for (int j = 0; j < 8; j++)
    {
      float u1 = 1.0f - d[j]; /* [0, 1) → (0, 1] for the log */
      float u2 = d[j + 8];
      float radius = sqrtf (-2.0f * logf (u1));
      float theta = two_pi * u2;

      d[j] = radius * cosf (theta);
      d[j + 8] = radius * sinf (theta);
    }
}

void
df_rng_randn (DfRng *rng, float *out, int64_t n)
{
  if (n <= 0)
    return;

  if (n < 16)
    {
      for (int64_t i = 0; i < n; i++)
        out[i] = (float) normal_f64 (rng);
      return;
    }

  for (int64_t i = 0; i < n; i++)
    out[i] = uniform_f32 (rng);
  for (int64_t i = 0; i + 16 <= n; i += 16)
    normal_fill_16 (out + i);
  if (n % 16 != 0)
    {
      /* The tail: the last 16 outputs again, from 16 fresh uniforms. */
      float *tail = out + n - 16;

      for (int i = 0; i < 16; i++)
        tail[i] = uniform_f32 (rng);
      normal_fill_16 (tail);
    }
}
