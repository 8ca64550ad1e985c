#!/usr/bin/env bash
# Runs the legs of the test command side by side, at most CHAT_TEST_JOBS (default 3) at a time, in the order
# given (longest first pays off). Each leg's output is kept whole and printed as one block when the leg ends,
# followed by a status line; the last line is a summary naming any failed leg, and the exit code is 1 if one
# failed. Usage: run-legs.sh 'name: command' ...
set -euo pipefail

jobs=${CHAT_TEST_JOBS:-3}
logs=$(mktemp -d)
names=()
commands=()
for leg in "$@"; do
  names+=("${leg%%: *}")
  commands+=("${leg#*: }")
done

declare -A leg_of=() started_at=()
results=()
failed=()
begin=$SECONDS

# Each leg in its own process group (job control), so an interrupted run stops every leg's whole tree.
set -m
stop_all() {
  set +m
  for pid in "${!leg_of[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  rm -rf "$logs"
}
trap 'stop_all; printf "test: interrupted after %d s\n" $((SECONDS - begin)); exit 130' INT TERM
trap 'rm -rf "$logs"' EXIT

start_leg() {
  local i=$1
  bash -c "set -euo pipefail; ${commands[i]}" >"$logs/$i.log" 2>&1 </dev/null &
  leg_of[$!]=$i
  started_at[$i]=$SECONDS
  printf 'legs: started %s\n' "${names[i]}"
}

finish_leg() {
  local i=$1 rc=$2 took=$((SECONDS - started_at[$1])) status
  if ((rc == 0)); then status=passed; else status="FAILED (exit $rc)"; failed+=("${names[i]}"); fi
  results+=("${names[i]} ${took}s")
  printf '\n==== %s: output ====\n' "${names[i]}"
  cat "$logs/$i.log"
  printf '==== %s: %s in %d s ====\n\n' "${names[i]}" "$status" "$took"
}

next=0
while ((next < ${#names[@]} || ${#leg_of[@]} > 0)); do
  while ((next < ${#names[@]} && ${#leg_of[@]} < jobs)); do
    start_leg "$next"
    next=$((next + 1))
  done
  rc=0
  wait -n -p done_pid "${!leg_of[@]}" || rc=$?
  i=${leg_of[$done_pid]}
  unset "leg_of[$done_pid]"
  finish_leg "$i" "$rc"
done

took=$((SECONDS - begin))
if ((${#failed[@]})); then
  printf 'test: FAILED %s (%d of %d legs failed) in %d s; legs: %s\n' "${failed[*]}" "${#failed[@]}" \
    "${#names[@]}" "$took" "$(IFS=,; echo "${results[*]}" | sed 's/,/, /g')"
  exit 1
fi
printf 'test: passed, %d legs in %d s; legs: %s\n' "${#names[@]}" "$took" \
  "$(IFS=,; echo "${results[*]}" | sed 's/,/, /g')"
