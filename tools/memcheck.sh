#!/usr/bin/env bash
# Run the compiled core under valgrind memcheck (outside .ci/run: it takes minutes).
#
#   bash tools/memcheck.sh [pytest args...]     default: the LRU, Buffer and lock tests
#
# Builds a -O0 -g copy of the extension in a temporary copy of the tree (the
# working tree's build is left alone), then runs pytest under memcheck with
# PYTHONMALLOC=malloc so every Python allocation is checked too. Invalid reads or
# writes, uses of uninitialised values and invalid frees make it exit non-zero.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="$(python -c 'import sys; print(sys.executable)')"
work="$(mktemp -d)"
log="${MEMCHECK_LOG:-$here/memcheck.log}"
trap 'rm -rf "$work"' EXIT
git -C "$here" ls-files -z | (cd "$here" && xargs -0 cp --parents -t "$work")
cd "$work"
ZICT_CORE_DEBUG=1 "$py" setup.py -q build_ext --inplace >/dev/null
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    tests=(tests/test_lru.py tests/test_buffer.py tests/test_buffer_faults.py tests/test_lock.py tests/test_compiled.py)
fi
export PYTHONMALLOC=malloc ZICT_CORE_STRESS_SECONDS=1
valgrind --tool=memcheck --error-exitcode=99 --errors-for-leak-kinds=none \
    --leak-check=no --track-origins=yes --num-callers=30 \
    --suppressions=<(printf '{\n pyinit\n Memcheck:Cond\n ...\n fun:PyInit_*\n}\n') \
    "$py" -m pytest -q -p no:cacheprovider -x "${tests[@]}" >"$log" 2>&1 || true
# Only errors whose stack passes through zict_core's own code count: CPython
# itself trips memcheck in places that its own suppression file covers.
ours=$(awk '/^==[0-9]+== [A-Z]/{block=$0; next} /^==[0-9]+==    (at|by)/{block=block"\n"$0; next} /^==[0-9]+== $/{if (block ~ /(_lru|_buffer|_base)\.c|zc_[a-z]+\.h/) n++; block=""} END{print n+0}' "$log")
grep -E "passed|failed|ERROR SUMMARY" "$log" | tail -3
echo "memcheck errors in zict_core code: $ours (full log: $log)"
[ "$ours" -eq 0 ] && grep -qE "[0-9]+ passed" "$log" && ! grep -qE "[0-9]+ failed" "$log"
