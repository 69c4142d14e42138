/* gemm_shared.glsl — the GPU main loop of matmul.comp and conv2d.comp:
 * one workgroup computes a BM × BN tile of C = A · B with A [M, K] and
 * B [K, N] (either may be computed on the fly), K consumed in slices of
 * BK staged in shared memory between barriers.
 *
 * The includer defines, before including this file:
 *   WG_X, WG_Y       workgroup size (specialization constants 0, 1)
 *   TM, TN           rows and columns of C per invocation
 *   BK               K per slice
 *   float gemm_load_a (uint m, uint k)  — 0 outside A
 *   float gemm_load_b (uint k, uint n)  — 0 outside B
 *   GEMM_A_K_FAST    1 when consecutive k of A are adjacent in memory
 *   GEMM_B_K_FAST    1 when consecutive k of B are adjacent in memory
 * and then calls gemm_tile (m0, n0, K), which leaves C[m0 + ty + WG_Y·i,
 * n0 + tx + WG_X·j] in gemm_acc[i][j].  Rows and columns of an invocation
 * are strided by the workgroup size, so neighbouring invocations read
 * neighbouring shared-memory words.  Every invocation must call
 * gemm_tile (barriers); loads outside A or B read 0.
 *
 * Shared memory: BK · (BM + BN) floats, 8 KiB at 64 × 64 with BK = 16. */
#ifndef DF_GEMM_SHARED_GLSL
#define DF_GEMM_SHARED_GLSL

const uint BM = WG_Y * TM;
const uint BN = WG_X * TN;
const uint WG_N = WG_X * WG_Y;

shared float gemm_as[BK * BM]; /* [k][m] */
shared float gemm_bs[BK * BN]; /* [k][n] */

float gemm_acc[TM][TN];

void
gemm_tile (uint m0, uint n0, uint K)
{
  const uint tx = gl_LocalInvocationID.x;
  const uint ty = gl_LocalInvocationID.y;
  const uint tid = ty * WG_X + tx;

  for (uint i = 0; i < TM; i++)
    for (uint j = 0; j < TN; j++)
      gemm_acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < K; k0 += BK)
    {
      /* stage the slices; consecutive invocations read consecutive
       * addresses (along k or along m/n, whichever is contiguous) */
      for (uint e = tid; e < BK * BM; e += WG_N)
        {
          const uint kk = GEMM_A_K_FAST != 0 ? e % BK : e / BM;
          const uint mm = GEMM_A_K_FAST != 0 ? e / BK : e % BM;
          gemm_as[kk * BM + mm] = gemm_load_a (m0 + mm, k0 + kk);
        }
      for (uint e = tid; e < BK * BN; e += WG_N)
        {
          const uint kk = GEMM_B_K_FAST != 0 ? e % BK : e / BN;
          const uint nn = GEMM_B_K_FAST != 0 ? e / BK : e % BN;
          gemm_bs[kk * BN + nn] = gemm_load_b (k0 + kk, n0 + nn);
        }
      barrier ();

      for (uint kk = 0; kk < BK; kk++)
        {
          float av[TM];
          float bv[TN];
          for (uint i = 0; i < TM; i++)
            av[i] = gemm_as[kk * BM + ty + WG_Y * i];
          for (uint j = 0; j < TN; j++)
            bv[j] = gemm_bs[kk * BN + tx + WG_X * j];
          for (uint i = 0; i < TM; i++)
            for (uint j = 0; j < TN; j++)
              gemm_acc[i][j] = fma (av[i], bv[j], gemm_acc[i][j]);
        }
      barrier ();
    }
}

#endif /* DF_GEMM_SHARED_GLSL */
