#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test: installs prerequisites, restores, builds, runs each test
# project, then prints the totals as the last line: "N passed, N failed".
# Kernel tests need root; with TOA_REQUIRE_KERNEL_TESTS=1 they fail rather than skip.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
results="$root/artifacts/test-results"
rm -rf "$results" "$root/artifacts/packages"
mkdir -p "$results"

"$root/scripts/prerequisites.sh" || { echo "0 passed, 1 failed"; exit 1; }

if ! dotnet build toa.slnx -c Release --nologo -v quiet -clp:ErrorsOnly; then
  echo "the build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test toa.slnx -c Release --no-build --nologo "$@" 2>&1 | tee "$results/console.txt"
status=${PIPESTATUS[0]}

# Totals from each test assembly's summary line:
# "Passed!  - Failed:     0, Passed:    10, Skipped:     0, Total:    10, ... - X.Tests.dll (net10.0)"
passed=0; failed=0; skipped=0; reports=0
while read -r f p s; do
  reports=$((reports + 1)); failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
done < <(grep -E '^(Passed|Failed)! ' "$results/console.txt" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\1 \2 \3/')
projects=$(ls -d tests/*.Tests | wc -l)
if [ "$reports" -lt "$projects" ]; then
  echo "only $reports of $projects test projects reported results"
  failed=$((failed + projects - reports))
fi
# The packages (library, ASP.NET Core integration, the CLI as a .NET tool) must build.
if dotnet pack toa.slnx -c Release --no-build --nologo -v quiet -o "$root/artifacts/packages" >"$results/pack.txt" 2>&1 \
   && [ "$(ls "$root"/artifacts/packages/*.nupkg | wc -l)" -ge 3 ]; then
  passed=$((passed + 1))
else
  echo "dotnet pack failed:"; cat "$results/pack.txt"
  failed=$((failed + 1))
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
