#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test: installs prerequisites, restores, builds, runs each test project and
# the kernel matrix, then prints the totals as the last line: "N passed, N failed".
# Kernel tests need root; with TOA_REQUIRE_KERNEL_TESTS=1 they fail rather than skip.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
results="$root/artifacts/test-results"
rm -rf "$results" "$root/artifacts/packages" "$root/artifacts/deb"
mkdir -p "$results"

"$root/scripts/prerequisites.sh" || { echo "0 passed, 1 failed"; exit 1; }

if ! dotnet build toa.slnx -c Release --nologo -v quiet -clp:ErrorsOnly; then
  echo "the build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# The Debian package, which tests/Toa.EndToEnd.Tests/Package installs into a fresh Debian root:
# NativeAOT and lintian, about two minutes. A failure counts once; its tests then fail.
package_failed=0
if ! "$root/scripts/package" > "$results/package.txt" 2>&1; then
  echo "scripts/package failed:"; tail -n 30 "$results/package.txt"
  package_failed=1
fi

# The kernel matrix (the end-to-end tests inside Debian's 5.10, 6.1 and 6.12 under qemu) runs
# beside the host's tests: its guests spend most of their time waiting for processes they
# started. It prints one summary line per kernel in dotnet test's form.
# A guest takes about 10 minutes on a 2-core machine running the host tests beside it; the limit leaves room for a slower one.
# The guests run the package's executable when it was built (one NativeAOT publish, not two).
[ "$package_failed" = 0 ] && export TOA_KERNELS_TOA="$root/artifacts/deb-build/$(dpkg --print-architecture)/publish/toa"
TOA_KERNELS_TIMEOUT=${TOA_KERNELS_TIMEOUT:-2400} tests/kernels/run --no-build 5.10 6.1 6.12 > "$results/kernels.txt" 2> "$results/kernels-progress.txt" &
matrix=$!

# arm64, beside them: the package cross-built for arm64 (ARCH=arm64 scripts/package), its toa run
# in Debian's arm64 kernel under qemu-system-aarch64 on the receiver's core cases
# (tests/kernels/arm64/run). One summary line in dotnet test's form, as the matrix's.
(
  arch=$(dpkg --print-architecture)
  if ARCH=arm64 TOA_FOR_HOST="$root/artifacts/deb-build/$arch/publish/toa" "$root/scripts/package" >&2; then
    TOA_KERNELS_ARM64_DEB=$(ls "$root"/artifacts/deb/toa_*_arm64.deb) TOA_KERNELS_TIMEOUT=${TOA_KERNELS_TIMEOUT:-2400} tests/kernels/arm64/run
  else
    echo "Failed!  - Failed:     1, Passed:     0, Skipped:     0, Total:     1, Duration: 0 s - kernel arm64 (ARCH=arm64 scripts/package failed)"
  fi
) > "$results/arm64.txt" 2> "$results/arm64-progress.txt" &
arm64=$!

dotnet test toa.slnx -c Release --no-build --nologo "$@" 2>&1 | tee "$results/console.txt"
status=${PIPESTATUS[0]}

# Totals from each summary line:
# "Passed!  - Failed:     0, Passed:    10, Skipped:     0, Total:    10, ... - X.Tests.dll (net10.0)"
passed=0; failed=0; skipped=0; reports=0
count() {
  local f p s
  reports=0
  while read -r f p s; do
    reports=$((reports + 1)); failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
  done < <(grep -E '^(Passed|Failed)! ' "$1" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\1 \2 \3/')
}
count "$results/console.txt"
projects=$(ls -d tests/*.Tests | wc -l)
if [ "$reports" -lt "$projects" ]; then
  echo "only $reports of $projects test projects reported results"
  failed=$((failed + projects - reports))
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
failed=$((failed + package_failed))
# The packages (library, ASP.NET Core integration, the CLI as a .NET tool) must build.
if dotnet pack toa.slnx -c Release --no-build --nologo -v quiet -o "$root/artifacts/packages" >"$results/pack.txt" 2>&1 \
   && [ "$(ls "$root"/artifacts/packages/*.nupkg | wc -l)" -ge 3 ]; then
  passed=$((passed + 1))
else
  echo "dotnet pack failed:"; cat "$results/pack.txt"
  failed=$((failed + 1))
fi

echo "waiting for the kernel matrix (its progress: $results/kernels-progress.txt)"
wait $matrix
matrix_status=$?
cat "$results/kernels.txt"
count "$results/kernels.txt"
if [ "$reports" -eq 0 ]; then
  echo "the kernel matrix reported no results (exit $matrix_status):"
  tail -n 20 "$results/kernels-progress.txt"
  failed=$((failed + 1))
fi

echo "waiting for arm64 (its progress: $results/arm64-progress.txt)"
wait $arm64
arm64_status=$?
cat "$results/arm64.txt"
count "$results/arm64.txt"
if [ "$reports" -eq 0 ]; then
  echo "arm64 reported no results (exit $arm64_status):"
  tail -n 20 "$results/arm64-progress.txt"
  failed=$((failed + 1))
fi

[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
