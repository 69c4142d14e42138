#version 450
/* timestep_embedding: t [batch] (fp32 always) → y [batch, dim] as
 * diffusers' get_timestep_embedding with max_period 10000:
 *   freq_k = exp(−ln(10000)·k / (half − freq_shift)), k < half = dim / 2,
 *   [sin(t·freq), cos(t·freq)], or [cos, sin] when flip, and a zero
 *   column at the end when dim is odd.
 * t·freq reaches ~1000 rad, far outside the range where GLSL's sin, cos
 * and exp are specified to be accurate, so this file brings its own with
 * explicit range reduction; every step rounds as PyTorch's fp32 does. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_TIMESTEP_EMBEDDING } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer T { float t[]; };

/* exp(x) = 2^k · exp(r), r = x − k·ln2 in [−ln2/2, ln2/2]; ln2 split in a
 * part with few mantissa bits (k·LN2_HI is exact) and the rest; Taylor to
 * r⁷ (remainder < 6e-9 relative). */
float
df_exp_accurate (float x)
{
  const float LN2_HI = 0.693359375;     /* 9 significant bits */
  const float LN2_LO = -2.12194440e-4;  /* ln 2 − LN2_HI */
  precise float k = round (x * 1.44269504088896341);
  precise float r = fma (-k, LN2_HI, x);
  r = fma (-k, LN2_LO, r);
  precise float e = 1.0 / 5040.0;
  e = fma (e, r, 1.0 / 720.0);
  e = fma (e, r, 1.0 / 120.0);
  e = fma (e, r, 1.0 / 24.0);
  e = fma (e, r, 1.0 / 6.0);
  e = fma (e, r, 0.5);
  e = fma (e, r, 1.0);
  e = fma (e, r, 1.0);
  return ldexp (e, int (k));
}

/* sin and cos of a with |a| up to ~1e4: a = q·π/2 + r with π/2 in three
 * parts (q·PIO2_1 and q·PIO2_2 are exact for |q| < 2^14), then Taylor
 * series on |r| ≤ π/4 (remainders < 2e-9) and the quadrant q mod 4. */
vec2
df_sincos (float a)
{
  const float PIO2_1 = 1.5703125;
  const float PIO2_2 = 4.837512969970703125e-4;
  const float PIO2_3 = 7.54978995489188216e-8;
  precise float q = round (a * 0.636619772367581343);
  precise float r = fma (-q, PIO2_1, a);
  r = fma (-q, PIO2_2, r);
  r = fma (-q, PIO2_3, r);
  precise float r2 = r * r;
  precise float s = -1.0 / 39916800.0;
  s = fma (s, r2, 1.0 / 362880.0);
  s = fma (s, r2, -1.0 / 5040.0);
  s = fma (s, r2, 1.0 / 120.0);
  s = fma (s, r2, -1.0 / 6.0);
  s = fma (s * r2, r, r);
  precise float c = 1.0 / 479001600.0;
  c = fma (c, r2, -1.0 / 3628800.0);
  c = fma (c, r2, 1.0 / 40320.0);
  c = fma (c, r2, -1.0 / 720.0);
  c = fma (c, r2, 1.0 / 24.0);
  c = fma (c, r2, -0.5);
  c = fma (c, r2, 1.0);
  switch (int (q) & 3)
    {
    case 0:
      return vec2 (s, c);
    case 1:
      return vec2 (c, -s);
    case 2:
      return vec2 (-s, -c);
    default:
      return vec2 (-c, s);
    }
}

void
main ()
{
  /* −ln(10000), rounded to fp32 as PyTorch rounds the Python float */
  const float NEG_LN_MAX_PERIOD = -9.21034037197618;

  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += DF_GLOBAL_SIZE_X)
    {
      uint b = i / p.dim, j = i % p.dim;
      if (j >= 2 * p.half_dim)
        {
          y[i] = STORE_T (0.0);
          continue;
        }
      uint k = j % p.half_dim;
      /* the first half is sin unless flipped */
      bool want_cos = (j < p.half_dim) == (p.flip != 0);
      precise float exponent = NEG_LN_MAX_PERIOD * float (k);
      precise float divisor = float (p.half_dim) - p.freq_shift;
      /* GLSL's division is only within 2.5 ulp: one correction step from
       * the exact residual makes it (almost always) correctly rounded */
      precise float quot = exponent / divisor;
      precise float resid = fma (-quot, divisor, exponent);
      quot = fma (resid, 1.0 / divisor, quot);
      precise float arg = t[b] * df_exp_accurate (quot);
      vec2 sc = df_sincos (arg);
      y[i] = STORE_T (want_cos ? sc.y : sc.x);
    }
}
