# Step timing for the test scripts (sourced, not run): `step NAME` ends the previous step and
# starts the next; `steps_summary TITLE RC` prints each step's time and the total, so a slow
# step shows up in every run's last lines. `$TIMINGS`, when set, also receives the summary.

steps_start=$SECONDS
steps_last=$SECONDS
steps_current=""
steps_done=()

# Ends the running step (if any) and records its time.
steps_close() {
  if [ -n "$steps_current" ]; then
    steps_done+=("$(printf '%6ds  %s' $((SECONDS - steps_last)) "$steps_current")")
  fi
  steps_current=""
}

# Starts a step: `step "cargo test --workspace"`.
step() {
  steps_close
  steps_current="$*"
  steps_last=$SECONDS
  echo "== [$((SECONDS - steps_start))s] $*"
}

# Prints `== TITLE: passed in Ns` (or FAILED with the exit code) and one line per step.
steps_summary() {
  local title=$1 rc=$2
  steps_close
  {
    echo "== $title: $([ "$rc" = 0 ] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - steps_start))s"
    printf '%s\n' "${steps_done[@]}"
  } | tee ${TIMINGS:+"$TIMINGS"}
}
