/* gemm_coop.glsl — the cooperative-matrix main loop of matmul.comp and
 * conv2d.comp for fp16 tensors: C = A · B with A [M, K] and B [K, N]
 * (either may be computed on the fly), fp16 products accumulated in fp32
 * by the GPU's matrix units (VK_KHR_cooperative_matrix with DF_COOP_KHR,
 * else VK_NV_cooperative_matrix) on square fragments at subgroup scope:
 * 16 × 16 × 16, or DF_COOP_FRAG × … (8 for devices that offer only
 * 8 × 8 × 8, such as lavapipe).
 *
 * A workgroup is four subgroups and computes a 64 × 64 tile of C; each
 * subgroup owns a 32 × 32 quarter of it as 2 × 2 accumulator fragments
 * (4 × 4 of 8 × 8).
 * K is consumed in slices of 32: the workgroup stages the A slice
 * [64 m][32 k] and the B slice [32 k][64 n] in shared memory as fp16 (rows
 * padded by 8 elements, so fragment rows start 16 bytes apart from bank
 * to bank), then each subgroup loads its fragments from there and
 * multiplies.  At the end each fragment goes through a per-subgroup
 * shared scratch so the includer's store can add the bias and check the
 * bounds element by element.
 *
 * DF_COOP_EMULATE replaces the fragments by ordinary arithmetic with the
 * same staging, slices, offsets and barriers: the "subgroups" are the four
 * quarters of a 32-invocation workgroup, and their fragments live in
 * shared memory (16 KiB more), 32 elements of each per invocation.  Devices without the extension (lavapipe in the
 * tests) run it to check everything but the matrix instructions.
 *
 * Built with -DDF_COOP=1 (and -DDF_COOP_EMULATE=1 for the emulation).
 * The includer declares the workgroup layout (DF_WORKGROUP_LAYOUT; its
 * x size is 4 × the subgroup size, or 32 when emulated) and defines, before
 * including this file:
 *   float gemm_load_a (uint m, uint k)  — 0 outside A
 *   float gemm_load_b (uint k, uint n)  — 0 outside B
 *   void gemm_store (uint m, uint n, float v)  — ignores m, n outside C
 *   GEMM_A_K_FAST, GEMM_B_K_FAST  1 when consecutive k are adjacent
 * and calls gemm_coop (m0, n0, K) from every invocation (barriers).
 *
 * Shared memory: 5 KiB (A) + 4.5 KiB (B) + 4 KiB (scratch, for 16 × 16
 * fragments; 16 KiB of fragments when emulated). */
#ifndef DF_GEMM_COOP_GLSL
#define DF_GEMM_COOP_GLSL

#include "coop.glsl"

const uint GEMM_BM = 64;
const uint GEMM_BN = 64;
const uint GEMM_BK = 32;
const uint GEMM_FRAG = DF_COOP_FRAG;
const uint GEMM_QF = 32 / GEMM_FRAG; /* fragments along a quarter's side */
/* padded row strides of the staged slices, in elements */
const uint GEMM_AS = GEMM_BK + 8;
const uint GEMM_BS = GEMM_BN + 8;

shared float16_t gemm_as[GEMM_BM * GEMM_AS]; /* [m][k] */
shared float16_t gemm_bs[GEMM_BK * GEMM_BS]; /* [k][n] */

#if DF_COOP_EMULATE
/* each group's four accumulator fragments, in shared memory (arrays in
 * registers made lavapipe's compiler take a minute per kernel) */
const uint EMU_LANES = 8;
/* Loops run EMU_UNROLL elements per iteration: lavapipe (gallivm) stops
 * every loop of an invocation after 65535 iterations in all, so a K of
 * 23040 (SD's widest convolution) must take well under 91 per slice. */
const uint EMU_UNROLL = 8;
shared float emu_acc[4 * 32 * 32]; /* [group][i][j][element] */
#else
shared float gemm_cs[4 * GEMM_FRAG * GEMM_FRAG]; /* one fragment per subgroup */
#endif


void
gemm_coop (uint m0, uint n0, uint K)
{
  const uint tid = gl_LocalInvocationID.x;
  const uint wg_n = gl_WorkGroupSize.x;
#if DF_COOP_EMULATE
  const uint group = tid / EMU_LANES;
  const uint lane = tid % EMU_LANES;
#else
  const uint group = gl_SubgroupID;
  const uint lane = gl_SubgroupInvocationID;
#endif
  /* the subgroup's quarter: rows 32·qy…, columns 32·qx… of the tile */
  const uint qy = group / 2;
  const uint qx = group % 2;

#if DF_COOP_EMULATE
  const uint emu_base = group * 32 * 32;
  [[dont_unroll]] for (uint e0 = lane; e0 < 32 * 32; e0 += EMU_UNROLL * EMU_LANES)
    [[unroll]] for (uint u = 0; u < EMU_UNROLL; u++)
      emu_acc[emu_base + e0 + u * EMU_LANES] = 0.0;
#else
  COOP_ACC_T acc[GEMM_QF][GEMM_QF];
  for (uint i = 0; i < GEMM_QF; i++)
    for (uint j = 0; j < GEMM_QF; j++)
      acc[i][j] = COOP_ACC_T (0.0);
#endif

  for (uint k0 = 0; k0 < K; k0 += GEMM_BK)
    {
      /* stage the slices; consecutive invocations read consecutive
       * addresses (along k or along m/n, whichever is contiguous) */
      for (uint e0 = tid; e0 < GEMM_BM * GEMM_BK; e0 += 8 * wg_n)
        [[unroll]] for (uint u = 0; u < 8; u++)
          {
            const uint e = e0 + u * wg_n;
            const uint kk = GEMM_A_K_FAST != 0 ? e % GEMM_BK : e / GEMM_BM;
            const uint mm = GEMM_A_K_FAST != 0 ? e / GEMM_BK : e % GEMM_BM;
            if (e < GEMM_BM * GEMM_BK)
              gemm_as[mm * GEMM_AS + kk] = float16_t (gemm_load_a (m0 + mm, k0 + kk));
          }
      for (uint e0 = tid; e0 < GEMM_BK * GEMM_BN; e0 += 8 * wg_n)
        [[unroll]] for (uint u = 0; u < 8; u++)
          {
            const uint e = e0 + u * wg_n;
            const uint kk = GEMM_B_K_FAST != 0 ? e % GEMM_BK : e / GEMM_BN;
            const uint nn = GEMM_B_K_FAST != 0 ? e / GEMM_BK : e % GEMM_BN;
            if (e < GEMM_BK * GEMM_BN)
              gemm_bs[kk * GEMM_BS + nn] = float16_t (gemm_load_b (k0 + kk, n0 + nn));
          }
      barrier ();

      for (uint kf = 0; kf < GEMM_BK; kf += GEMM_FRAG)
        {
#if DF_COOP_EMULATE
          /* element e of fragment (i, j): row r, column c */
          [[dont_unroll]] for (uint e0 = lane; e0 < 32 * 32;
                               e0 += EMU_UNROLL * EMU_LANES)
            [[unroll]] for (uint u = 0; u < EMU_UNROLL; u++)
            {
              const uint e = e0 + u * EMU_LANES;
              const uint i = e / (GEMM_QF * GEMM_FRAG * GEMM_FRAG);
              const uint j = e / (GEMM_FRAG * GEMM_FRAG) % GEMM_QF;
              const uint r = e % (GEMM_FRAG * GEMM_FRAG) / GEMM_FRAG;
              const uint c = e % GEMM_FRAG;
              const uint a_row = (32 * qy + GEMM_FRAG * i + r) * GEMM_AS + kf;
              const uint b_col = kf * GEMM_BS + 32 * qx + GEMM_FRAG * j + c;
              float sum = emu_acc[emu_base + e];
              for (uint kk = 0; kk < GEMM_FRAG; kk++)
                sum = fma (float (gemm_as[a_row + kk]), float (gemm_bs[b_col + kk * GEMM_BS]), sum);
              emu_acc[emu_base + e] = sum;
            }
#else
          COOP_A_T fa[GEMM_QF];
          COOP_B_T fb;
          for (uint i = 0; i < GEMM_QF; i++)
            COOP_LOAD (fa[i], gemm_as, (32 * qy + GEMM_FRAG * i) * GEMM_AS + kf, GEMM_AS);
          for (uint j = 0; j < GEMM_QF; j++)
            {
              COOP_LOAD (fb, gemm_bs, kf * GEMM_BS + 32 * qx + GEMM_FRAG * j, GEMM_BS);
              for (uint i = 0; i < GEMM_QF; i++)
                acc[i][j] = COOP_MUL_ADD (fa[i], fb, acc[i][j]);
            }
#endif
        }
      barrier ();
    }

  for (uint i = 0; i < GEMM_QF; i++)
    for (uint j = 0; j < GEMM_QF; j++)
      {
        const uint fm = m0 + 32 * qy + GEMM_FRAG * i;
        const uint fn = n0 + 32 * qx + GEMM_FRAG * j;
#if DF_COOP_EMULATE
        const uint f = emu_base + (GEMM_QF * i + j) * GEMM_FRAG * GEMM_FRAG;
        [[dont_unroll]] for (uint i0 = lane; i0 < GEMM_FRAG * GEMM_FRAG; i0 += EMU_UNROLL * EMU_LANES)
          [[unroll]] for (uint u = 0; u < EMU_UNROLL; u++)
            {
              const uint idx = i0 + u * EMU_LANES;
              gemm_store (fm + idx / GEMM_FRAG, fn + idx % GEMM_FRAG, emu_acc[f + idx]);
            }
#else
        const uint base = group * GEMM_FRAG * GEMM_FRAG;
        COOP_STORE (acc[i][j], gemm_cs, base, GEMM_FRAG);
        subgroupBarrier ();
        for (uint idx = lane; idx < GEMM_FRAG * GEMM_FRAG; idx += gl_SubgroupSize)
          gemm_store (fm + idx / GEMM_FRAG, fn + idx % GEMM_FRAG, gemm_cs[base + idx]);
        subgroupBarrier ();
#endif
      }
}

#endif /* DF_GEMM_COOP_GLSL */
