#version 450
/* conv2d: direct convolution as an implicit GEMM (no im2col buffer), with
 * fp32 accumulation.
 *
 *   x    [N, C, H, W]
 *   w    [O, C, k, k]   k = p.ksize (1 or 3)
 *   bias [O] (read only when p.has_bias)
 *   res  [N, O, Ho, Wo] (read only when p.has_residual; may be y)
 *   y    [N, O, Ho, Wo]
 *
 * y[n, o, pix] = bias[o] + Σ_{c, ky, kx} w[o, c, ky, kx] · x[n, c, iy, ix]
 *               (+ res[n, o, pix])
 * with iy = oy · stride − padding + ky (likewise ix); taps outside the
 * image read zero.  Each invocation computes a TO × TP register tile: TO
 * output channels times TP consecutive output pixels (flattened over the
 * rows), loading TO weights and TP input pixels per (c, ky, kx) step; no
 * shared memory.  The grid is x: pixel tiles, y: channel tiles, z: images
 * (workgroup size 1 along z).
 *
 * DF_VEC4 (stride 1, W and Wo multiples of 4, TP a multiple of 4 that
 * divides Wo): each invocation's TP pixels lie in one output row, so for
 * each kernel row and input channel it reads the input row segment they
 * need once, as NV aligned vec4s, and uses it for all KS kernel columns.
 * On lavapipe, where a load that differs between invocations is a loop
 * over the SIMD lanes, that is KS·TP scalar loads replaced by NV vec4
 * loads.  KS and PAD are specialization constants so the kernel columns
 * unroll; the kernel rows stay a loop (code size, compile time).
 *
 * DF_SHARED (GPUs): an implicit GEMM with shared-memory tiles (see
 * gemm_shared.glsl): A = w as [O, C·k·k], B = the input patches as
 * [C·k·k, Ho·Wo] gathered on the fly, TO × TP per invocation, BK
 * (constant 5) of C·k·k per slice. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#ifndef DF_VEC4
#define DF_VEC4 0
#endif
#ifndef DF_SHARED
#define DF_SHARED 0
#endif
/* DF_COOP (fp16 only): the same implicit GEMM on cooperative-matrix
 * fragments, see gemm_coop.glsl */

DF_WORKGROUP_LAYOUT;

/* Register tile: output channels and output pixels per invocation. */
layout(constant_id = 3) const uint TO = 4;
layout(constant_id = 4) const uint TP = 4;

layout(push_constant) uniform Push { DF_PUSH_CONV2D } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
#if DF_VEC4
layout(std430, binding = 1) readonly buffer X { VEC4_STORE_T x[]; };
#else
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
#endif
layout(std430, binding = 2) readonly buffer W { STORE_T w[]; };
layout(std430, binding = 3) readonly buffer Bias { STORE_T bias[]; };
layout(std430, binding = 4) readonly buffer Res { STORE_T res[]; };

#include "epilogue.glsl"

#if DF_SHARED || DF_COOP

/* A = w as [O, C·k·k]; B = the input patches as [C·k·k, Ho·Wo] */
#define GEMM_A_K_FAST 1
#define GEMM_B_K_FAST 0

uint g_img;

float
gemm_load_a (uint o, uint kk)
{
  const uint kdim = p.c * p.ksize * p.ksize;
  return o < p.o && kk < kdim ? float (w[o * kdim + kk]) : 0.0;
}

float
gemm_load_b (uint kk, uint pix)
{
  const uint taps = p.ksize * p.ksize;
  if (kk >= p.c * taps || pix >= p.ho * p.wo)
    return 0.0;
  const uint c = kk / taps;
  const uint tap = kk % taps;
  const int iy = int (pix / p.wo * p.stride + tap / p.ksize) - p.padding;
  const int ix = int (pix % p.wo * p.stride + tap % p.ksize) - p.padding;
  if (iy < 0 || iy >= int (p.h) || ix < 0 || ix >= int (p.w))
    return 0.0;
  return float (x[((g_img * p.c + c) * p.h + uint (iy)) * p.w + uint (ix)]);
}

#endif

#if DF_COOP

void
gemm_store (uint o, uint pix, float v)
{
  const uint npix = p.ho * p.wo;
  if (o < p.o && pix < npix)
    store_y ((g_img * p.o + o) * npix + pix, v + (p.has_bias != 0 ? float (bias[o]) : 0.0));
}

#include "gemm_coop.glsl"

void
main ()
{
  g_img = gl_WorkGroupID.z;
  gemm_coop (gl_WorkGroupID.y * GEMM_BM, gl_WorkGroupID.x * GEMM_BN, p.c * p.ksize * p.ksize);
}

#elif DF_SHARED

layout(constant_id = 5) const uint BK = 16;
#define WG_X gl_WorkGroupSize.x
#define WG_Y gl_WorkGroupSize.y
#define TM TO
#define TN TP

#include "gemm_shared.glsl"

void
main ()
{
  const uint npix = p.ho * p.wo;
  g_img = gl_WorkGroupID.z;
  const uint o0 = gl_WorkGroupID.y * BM;
  const uint pix0 = gl_WorkGroupID.x * BN;

  gemm_tile (o0, pix0, p.c * p.ksize * p.ksize);

  for (uint i = 0; i < TO; i++)
    {
      const uint o = o0 + gl_LocalInvocationID.y + WG_Y * i;
      for (uint j = 0; j < TP; j++)
        {
          const uint pix = pix0 + gl_LocalInvocationID.x + WG_X * j;
          if (o < p.o && pix < npix)
            store_y ((g_img * p.o + o) * npix + pix,
                     gemm_acc[i][j] + (p.has_bias != 0 ? float (bias[o]) : 0.0));
        }
    }
}

#elif DF_VEC4
/* Kernel size and padding (the push constants hold them too), and input
 * channels per step (CB divides C). */
layout(constant_id = 5) const uint KS = 3;
layout(constant_id = 6) const uint PAD = 1;
layout(constant_id = 7) const uint CB = 1;
/* vec4s of input row read per kernel row: LEFT of them left of the tile's
 * first pixel, enough on the right for the last pixel's last tap */
const uint LEFT = (PAD + 3) / 4;
const uint NV = (4 * LEFT - PAD + TP + KS - 2) / 4 + 1;

void
main ()
{
  const uint npix = p.ho * p.wo;
  /* as below: output channels uniform across a workgroup one high */
  const uint tiles_per_row = p.wo / TP;
  const uint tile = min (gl_GlobalInvocationID.x, p.ho * tiles_per_row - 1);
  const uint oy = tile / tiles_per_row;
  const uint ox0 = tile % tiles_per_row * TP;
  const uint o0 = (gl_WorkGroupSize.y == 1 ? gl_WorkGroupID.y : gl_GlobalInvocationID.y) * TO;
  const uint img = gl_WorkGroupID.z;

  const uint taps = KS * KS;
  const uint w4 = p.w / 4;
  const uint plane4 = p.h * w4;
  /* first vec4 of the row segment, in vec4s from the row start */
  const int q0 = int (ox0 / 4) - int (LEFT);

  uint w_row[TO];
  for (uint i = 0; i < TO; i++)
    w_row[i] = min (o0 + i, p.o - 1) * p.c * taps;

  float acc[TO][TP];
  for (uint i = 0; i < TO; i++)
    for (uint j = 0; j < TP; j++)
      acc[i][j] = 0.0;

  for (uint ky = 0; ky < p.ksize; ky++)
    {
      const int iy = int (oy + ky) - int (PAD);
      const bool row_ok = iy >= 0 && iy < int (p.h);
      /* clamped vec4 index within the plane, and 1 or 0 for padding */
      uint off[NV];
      float inside[NV];
      for (uint q = 0; q < NV; q++)
        {
          const int ix4 = q0 + int (q);
          const bool ok = row_ok && ix4 >= 0 && ix4 < int (w4);
          off[q] = ok ? uint (iy) * w4 + uint (ix4) : 0u;
          inside[q] = ok ? 1.0 : 0.0;
        }
      for (uint c0 = 0; c0 < p.c; c0 += CB)
        {
          float xs[CB][NV * 4];
          for (uint cb = 0; cb < CB; cb++)
            {
              const uint x_base = (img * p.c + c0 + cb) * plane4;
              for (uint q = 0; q < NV; q++)
                {
                  const vec4 v = inside[q] * vec4 (x[x_base + off[q]]);
                  xs[cb][4 * q] = v.x;
                  xs[cb][4 * q + 1] = v.y;
                  xs[cb][4 * q + 2] = v.z;
                  xs[cb][4 * q + 3] = v.w;
                }
            }
          float wv[TO][CB][KS];
          for (uint i = 0; i < TO; i++)
            for (uint cb = 0; cb < CB; cb++)
              for (uint kx = 0; kx < KS; kx++)
                wv[i][cb][kx] = float (w[w_row[i] + (c0 + cb) * taps + ky * KS + kx]);
          /* pixel j's tap kx is input column ox0 + j + kx − PAD.  All CB·KS
           * taps of one accumulator at once: a spilled accumulator is
           * loaded and stored once per CB·KS multiply-adds. */
          for (uint i = 0; i < TO; i++)
            for (uint j = 0; j < TP; j++)
              {
                float sum = acc[i][j];
                for (uint cb = 0; cb < CB; cb++)
                  for (uint kx = 0; kx < KS; kx++)
                    sum = fma (wv[i][cb][kx], xs[cb][4 * LEFT + j + kx - PAD], sum);
                acc[i][j] = sum;
              }
        }
    }

  for (uint i = 0; i < TO; i++)
    {
      const uint o = o0 + i;
      if (o >= p.o)
        break;
      const float add = p.has_bias != 0 ? float (bias[o]) : 0.0;
      if (gl_GlobalInvocationID.x < p.ho * tiles_per_row)
        for (uint j = 0; j < TP; j++)
          store_y ((img * p.o + o) * npix + oy * p.wo + ox0 + j, acc[i][j] + add);
    }
}

#else

void
main ()
{
  const uint npix = p.ho * p.wo;
  /* With a workgroup one invocation high, the output channels (and image)
   * are uniform across the workgroup, so the weight loads are too: one
   * load for all invocations on CPU devices.  No early return for the same
   * reason; out-of-range invocations clamp their loads and store nothing. */
  const uint pix0 = gl_GlobalInvocationID.x * TP;
  const uint o0 = (gl_WorkGroupSize.y == 1 ? gl_WorkGroupID.y : gl_GlobalInvocationID.y) * TO;
  const uint img = gl_WorkGroupID.z;

  const uint plane = p.h * p.w;
  const uint taps = p.ksize * p.ksize;
  const uint x_base = img * p.c * plane;

  /* top-left input tap of each output pixel (may be outside the image) */
  int iy0[TP];
  int ix0[TP];
  for (uint j = 0; j < TP; j++)
    {
      const uint pix = min (pix0 + j, npix - 1);
      iy0[j] = int (pix / p.wo * p.stride) - p.padding;
      ix0[j] = int (pix % p.wo * p.stride) - p.padding;
    }
  uint w_row[TO];
  for (uint i = 0; i < TO; i++)
    w_row[i] = min (o0 + i, p.o - 1) * p.c * taps;

  float acc[TO][TP];
  for (uint i = 0; i < TO; i++)
    for (uint j = 0; j < TP; j++)
      acc[i][j] = 0.0;

  for (uint ky = 0; ky < p.ksize; ky++)
    for (uint kx = 0; kx < p.ksize; kx++)
      {
        /* offset within a channel plane, and 1 or 0 for padding taps */
        uint off[TP];
        float inside[TP];
        bool any = false;
        for (uint j = 0; j < TP; j++)
          {
            const int iy = iy0[j] + int (ky);
            const int ix = ix0[j] + int (kx);
            const bool ok = iy >= 0 && iy < int (p.h) && ix >= 0 && ix < int (p.w);
            off[j] = ok ? uint (iy) * p.w + uint (ix) : 0u;
            inside[j] = ok ? 1.0 : 0.0;
            any = any || ok;
          }
        /* a tap in the padding for every pixel of the tile adds nothing:
         * at a 1×1 image, 8 of the 9 taps of a 3×3 kernel */
        if (!any)
          continue;
        const uint tap = ky * p.ksize + kx;
        for (uint c = 0; c < p.c; c++)
          {
            float xv[TP];
            float wv[TO];
            for (uint j = 0; j < TP; j++)
              xv[j] = inside[j] * float (x[x_base + c * plane + off[j]]);
            for (uint i = 0; i < TO; i++)
              wv[i] = float (w[w_row[i] + c * taps + tap]);
            for (uint i = 0; i < TO; i++)
              for (uint j = 0; j < TP; j++)
                acc[i][j] = fma (wv[i], xv[j], acc[i][j]);
          }
      }

  for (uint i = 0; i < TO; i++)
    {
      const uint o = o0 + i;
      if (o >= p.o)
        break;
      const float add = p.has_bias != 0 ? float (bias[o]) : 0.0;
      for (uint j = 0; j < TP; j++)
        {
          const uint pix = pix0 + j;
          if (pix < npix)
            store_y ((img * p.o + o) * npix + pix, acc[i][j] + add);
        }
    }
}

#endif
