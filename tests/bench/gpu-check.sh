#!/bin/sh
# GPU check: the test suite on a real GPU's Vulkan driver, the op
# benchmark, and `diffuse-cli bench --synthetic sd15` at 512×512.
#
# The GPU machine has no package registry and no build tools of ours, so
# the work is split in two:
#
#   sh tests/bench/gpu-check.sh prepare   # here (Debian 12): build _build-gpu
#                                         # and fetch runtime libraries into .gpu/
#   sh tests/bench/gpu-check.sh run       # there: prints every figure
#
# With the workplace's device tool: run `prepare` here, then one device run
# with carry [".gpu", "_build-gpu"] and the command
#   sh tests/bench/gpu-check.sh run 2>&1 | tee $OUT/gpu-check.log
# QUICK=1 makes `run` use tiny sizes and skip the shared-memory-kernel
# benchmarks (to try it on lavapipe); GPU_RUN_WRAPPER=PROGRAM runs our
# programs through PROGRAM (to try it on another driver, e.g. the `run` of
# tests/bench/newer-toolchain.py lavapipe, whose lavapipe has KHR
# cooperative matrices).
set -eu
cd "$(dirname "$0")/../.."
mode=${1:-run}
build=${GPU_BUILD:-_build-gpu}
libs=.gpu

if [ "$mode" = prepare ]; then
  sh .ci/deps
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  # the VK_KHR_cooperative_matrix kernels need glslang 13 or later: Debian
  # 13's, fetched beside (without it the build has the NV kernels only)
  native=""
  if python3 tests/bench/newer-toolchain.py glslang /tmp/diffuse-glslang >/dev/null; then
    native="--native-file /tmp/diffuse-glslang/native.ini"
  else
    echo "no newer glslang: the GPU build has the NV cooperative-matrix kernels only" >&2
  fi
  # shellcheck disable=SC2086
  if [ -f $build/build.ninja ]; then meson setup --wipe $build -Dbuildtype=release $native >/dev/null
  else meson setup $build -Dbuildtype=release $native >/dev/null; fi
  ninja -C $build
  rm -rf $libs && mkdir -p $libs/debs /tmp/diffuse-apt/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/diffuse-apt'
  # shellcheck disable=SC2086
  apt-get $o update -q >/dev/null
  # the Vulkan loader, and the libraries diffuse-cli and the tests link
  # (kept apart from the system's: only our programs see them)
  (cd $libs/debs && apt-get $o download -q libvulkan1 libglib2.0-0 libjson-glib-1.0-0 \
     libpng16-16 libffi8 libpcre2-8-0 libmount1 libselinux1 libblkid1 >/dev/null)
  du -sh $build $libs
  exit 0
fi

[ "$mode" = run ] || { echo "usage: $0 prepare|run" >&2; exit 2; }
[ -x $build/app/diffuse-cli ] || { echo "no $build: run '$0 prepare' first" >&2; exit 1; }

# unpack our runtime libraries beside the tree; the loader goes where the
# system looks (only when the machine lacks one)
if [ -d $libs/debs ]; then
  mkdir -p /tmp/diffuse-root
  for f in $libs/debs/*.deb; do dpkg -x "$f" /tmp/diffuse-root; done
  export LD_LIBRARY_PATH="/tmp/diffuse-root/usr/lib/x86_64-linux-gnu:/tmp/diffuse-root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

wrap=${GPU_RUN_WRAPPER:-}
cli="$wrap $build/app/diffuse-cli"
echo "== devices"
$cli devices

echo "== tests on this device"
export DIFFUSE_TEST_DATA="$PWD/tests/data" DIFFUSE_CLI="$PWD/$build/app/diffuse-cli" GSETTINGS_BACKEND=memory
export XDG_CACHE_HOME=/tmp/diffuse-cache
passed=0; failed=0
# test [KERNELS [ARGS...]]: one test executable, with DIFFUSE_KERNELS set
# when KERNELS is not "-" (gpu: shared-memory kernels without cooperative
# matrices; coop: cooperative matrices, native here when the device has them
# — KHR where the build and the device have it; coop-nv: the NV ones)
run_test() {
  t=$1; kernels=${2:--}; shift; [ $# -gt 0 ] && shift
  [ -x $build/tests/test-$t ] || return 0
  log=/tmp/diffuse-test-$t-$kernels.log
  prefer=""; [ "$kernels" = coop-nv ] && prefer=nv
  if if [ "$kernels" = - ]; then $wrap $build/tests/test-$t "$@"
     else DIFFUSE_KERNELS=${kernels%-nv} DIFFUSE_COOP=$prefer $wrap $build/tests/test-$t "$@"
     fi > "$log" 2>&1; then
    passed=$((passed + 1)); echo "test-$t ($kernels): ok"
  else
    failed=$((failed + 1)); echo "test-$t ($kernels): FAILED"; tail -20 "$log"
  fi
}
for t in half context ops-elementwise ops-linalg replay networks fullsize pipeline engine; do
  run_test $t
done
run_test ops-linalg gpu
for kind in coop coop-nv; do
  run_test ops-linalg $kind -p /ops-linalg/linear/f16 -p /ops-linalg/matmul/f16 \
    -p /ops-linalg/conv2d/f16 -p /ops-linalg/attention/f16 -p /ops-linalg/kernels
  run_test networks $kind -p /networks/sd1/f16 -p /networks/sd1-inpaint/f16 -p /networks/sd2/f16
  run_test pipeline $kind
done
echo "tests: $passed passed, $failed failed"

if [ "${QUICK:-0}" = 1 ]; then size=64; steps=2; reps=1; only="linear"; attention="attention cross"
else size=512; steps=5; reps=5; only=""; attention="attention"; fi
quick() { [ "${QUICK:-0}" = 1 ]; }

if ! quick; then
  echo "== op benchmark, shared-memory kernels only (DIFFUSE_KERNELS=gpu)"
  DIFFUSE_KERNELS=gpu $wrap $build/tests/bench/bench-ops --reps $reps || true
fi
echo "== op benchmark, the device's default kernels (cooperative matrices for f16 where the device has them)"
$wrap $build/tests/bench/bench-ops --reps $reps --only "$only" || true

echo "== attention as matrix products with the scores in device memory (DIFFUSE_ATTENTION=products), to compare"
DIFFUSE_ATTENTION=products $wrap $build/tests/bench/bench-ops --reps $reps --only "$attention" || true

rm -f /tmp/diffuse-bench-shared.txt
if ! quick; then
  echo "== bench --synthetic sd15 ${size}x${size}, shared-memory kernels only (DIFFUSE_KERNELS=gpu)"
  DIFFUSE_KERNELS=gpu $cli bench --synthetic sd15 --width $size --height $size --steps $steps \
    | tee /tmp/diffuse-bench-shared.txt || true
fi

echo "== bench --synthetic sd15 ${size}x${size}, NV cooperative matrices where the device has both (DIFFUSE_COOP=nv)"
DIFFUSE_COOP=nv $cli bench --synthetic sd15 --width $size --height $size --steps $steps \
  | tee /tmp/diffuse-bench-nv.txt || true

echo "== bench --synthetic sd15 ${size}x${size}, the device's default kernels"
$cli bench --synthetic sd15 --width $size --height $size --steps $steps --profile \
  | tee /tmp/diffuse-bench.txt
$cli bench --synthetic sd15 --width $size --height $size --memory-only | grep -E "record|dispatches|barriers|peak" || true

[ -f /tmp/diffuse-bench-shared.txt ] && awk '/^unet_step_s:/ { s = $2 } END { if (s) printf "shared-memory kernels: %.2f ms per guided step\n", s * 1000 }' \
  /tmp/diffuse-bench-shared.txt
awk '/^unet_step_s:/ { s = $2 } END { if (s) printf "DIFFUSE_COOP=nv: %.2f ms per guided step\n", s * 1000 }' \
  /tmp/diffuse-bench-nv.txt
# the hardware bound: 1.61 TFLOP per guided step at 512×512; ~990 dense
# fp16 TFLOP/s on an H100 SXM (override with PEAK_TFLOPS)
awk -v peak="${PEAK_TFLOPS:-990}" -v size=$size '
  /^unet_step_s:/ {
    tflop = 1.61 * (size / 512) * (size / 512)
    printf "guided step: %.2f ms; %.1f TFLOP/s; %.2f%% of %g TFLOP/s\n", $2 * 1000, tflop / $2, 100 * tflop / $2 / peak, peak
  }' /tmp/diffuse-bench.txt
[ "$failed" -eq 0 ]
