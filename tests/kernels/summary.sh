# Sourced by tests/kernels/run and tests/kernels/arm64/run: the one line per kernel that
# test.sh adds up, in dotnet test's form.
# summary KERNEL FAILED PASSED SKIPPED SECONDS WHAT
summary() {
  local word=Passed
  [ "$2" -eq 0 ] || word=Failed
  printf '%s!  - Failed: %5d, Passed: %5d, Skipped: %5d, Total: %5d, Duration: %d s - kernel %s (%s)\n' \
    "$word" "$2" "$3" "$4" $(($2 + $3 + $4)) "$5" "$1" "$6"
}
