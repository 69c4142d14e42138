/* df-half.c — fp16 and bf16 conversions on the host, and dtype helpers. */
#include <string.h>

#include "df-private.h"

size_t
df_dtype_size (DfDType dtype)
{
  switch (dtype)
    {
    case DF_DTYPE_F32:
    case DF_DTYPE_U32:
      return 4;
    case DF_DTYPE_F16:
      return 2;
    }
  g_assert_not_reached ();
}

const char *
df_dtype_name (DfDType dtype)
{
  switch (dtype)
    {
    case DF_DTYPE_F32:
      return "f32";
    case DF_DTYPE_F16:
      return "f16";
    case DF_DTYPE_U32:
      return "u32";
    }
  g_assert_not_reached ();
}

static uint32_t
f32_bits (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  return u;
}

static float
bits_f32 (uint32_t u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* IEEE 754 binary32 → binary16, round to nearest even, with overflow to
 * infinity, subnormals and NaN kept a (quiet) NaN. */
uint16_t
df_f32_to_f16 (float f)
{
  uint32_t x = f32_bits (f);
  uint16_t sign = (uint16_t) ((x >> 16) & 0x8000u);
  uint32_t abs = x & 0x7fffffffu;

  if (abs >= 0x7f800000u) /* inf or NaN */
    return sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (abs >= 0x477ff000u) /* rounds to ≥ 65520: overflow */
    return sign | 0x7c00u;
  if (abs < 0x38800000u) /* below the smallest normal half: subnormal or 0 */
    {
      /* value = abs as float; half subnormal unit is 2^-24 */
      float v = bits_f32 (abs) * 16777216.0f; /* × 2^24, exact */
      /* round half to even */
      uint32_t i = (uint32_t) v;
      float frac = v - (float) i;
      if (frac > 0.5f || (frac == 0.5f && (i & 1u)))
        i++;
      return sign | (uint16_t) i;
    }
  /* normal: rebias exponent from 127 to 15, round the 13 dropped bits */
  uint32_t mant = abs & 0x7fffffu;
  uint32_t exp = (abs >> 23) - 112u;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    h++; /* may carry into the exponent, which is right */
  return sign | (uint16_t) h;
}

float
df_f16_to_f32 (uint16_t h)
{
  uint32_t sign = ((uint32_t) h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;

  if (exp == 0)
    {
      float v = (float) mant / 16777216.0f; /* mant × 2^-24 */
      return sign ? -v : v;
    }
  if (exp == 31)
    return bits_f32 (sign | 0x7f800000u | (mant << 13));
  return bits_f32 (sign | ((exp + 112u) << 23) | (mant << 13));
}

float
df_bf16_to_f32 (uint16_t b)
{
  return bits_f32 ((uint32_t) b << 16);
}
