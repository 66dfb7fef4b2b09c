# Helpers for .ci/run and .ci/wheel_check (sourced, not run).

step() {  # a visible heading per CI step, with the UTC time (the whole run must stay under 15 min)
  echo
  echo "== ci: $* ($(date -u +%H:%M:%S))"
}

die() {
  echo "ci: FATAL: $*" >&2
  exit 1
}

# find_python 3.13 -> prints the path of a working Python 3.13, or fails the run.
# Looks at $CI_PYTHON_3_13 (e.g. CI_PYTHON_3_13=/opt/py/bin/python3.13), python3.13 on PATH (a pyenv
# shim that is not enabled does not run, so each candidate is asked its version), then pyenv's
# versions ($PYENV_ROOT or ~/.pyenv), newest patch release first.
find_python() {
  local want=$1 var cand
  var="CI_PYTHON_${want//./_}"
  local -a cands=()
  [ -n "${!var:-}" ] && cands+=("${!var}")
  cands+=("python$want")
  local root=${PYENV_ROOT:-$HOME/.pyenv}
  if [ -d "$root/versions" ]; then
    while IFS= read -r cand; do cands+=("$cand"); done < <(
      ls -d "$root/versions/$want".*/bin/"python$want" 2>/dev/null | sort -t. -k3,3nr)
  fi
  for cand in "${cands[@]}"; do
    if "$cand" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" \
        >/dev/null 2>&1; then
      command -v "$cand" 2>/dev/null || echo "$cand"
      return 0
    fi
  done
  die "Python $want not found (tried: ${cands[*]}); install it (e.g. pyenv install $want) or set $var"
}

# make_venv DIR PYTHON X.Y: a venv at DIR on that Python (recreated if it is on another version).
make_venv() {
  local dir=$1 py=$2 want=$3
  if [ -x "$dir/bin/python" ] && ! "$dir/bin/python" -c \
      "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; then
    echo "ci: $dir is not a Python $want venv; recreating it"
    rm -rf "$dir"
  fi
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  echo "ci: $dir: $("$dir/bin/python" --version)"
}
