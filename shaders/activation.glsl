/* Activation functions shared by unary.comp, geglu.comp and group_norm.comp,
 * on vec4 (scalar callers pass vec4 (v) and take .x).  fp32 throughout. */
#ifndef DF_ACTIVATION_GLSL
#define DF_ACTIVATION_GLSL

/* DfUnary in compute/df.h */
#define DF_UNARY_SILU 0u
#define DF_UNARY_GELU 1u
#define DF_UNARY_QUICK_GELU 2u

/* GLSL has no erf.  Abramowitz & Stegun 7.1.26: for x ≥ 0,
 * erf(x) = 1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·exp(−x²),
 * t = 1 / (1 + p·x), absolute error ≤ 1.5e-7; odd in x. */
vec4
df_erf (vec4 x)
{
  const float p = 0.3275911;
  const float a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741;
  const float a4 = -1.453152027, a5 = 1.061405429;
  vec4 ax = abs (x);
  vec4 t = 1.0 / (1.0 + p * ax);
  vec4 poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))));
  return sign (x) * (1.0 - poly * exp (-ax * ax));
}

vec4
df_sigmoid (vec4 x)
{
  /* exp overflows to +inf for x < −88, giving 0 as it should */
  return 1.0 / (1.0 + exp (-x));
}

vec4
df_silu (vec4 x)
{
  return x * df_sigmoid (x);
}

/* exact GELU: x·Φ(x) = x/2·(1 + erf(x/√2)) */
vec4
df_gelu (vec4 x)
{
  return 0.5 * x * (1.0 + df_erf (x * 0.70710678118654752));
}

/* CLIP's approximation: x·σ(1.702·x) */
vec4
df_quick_gelu (vec4 x)
{
  return x * df_sigmoid (1.702 * x);
}

vec4
df_unary (uint op, vec4 x)
{
  if (op == DF_UNARY_SILU)
    return df_silu (x);
  if (op == DF_UNARY_GELU)
    return df_gelu (x);
  return df_quick_gelu (x);
}

#endif /* DF_ACTIVATION_GLSL */
