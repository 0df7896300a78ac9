# Shared by scripts/run and scripts/test (sourced from the repository root).
# Needs only Python 3.10+ and PyPI. VENV=path picks another virtualenv (default .venv).

find_python() {
    local c
    for c in ${PYTHON:-} python3.13 python3.12 python3.11 python3.10 python3 python; do
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            echo "$c"
            return
        fi
    done
    echo "scripts/$(basename "$0"): needs Python 3.10 or newer (set PYTHON=/path/to/python3)" >&2
    exit 1
}

# ensure_venv EXTRAS: create $VENV if needed and pip install -e ".[EXTRAS]" when
# pyproject.toml changed since the last install of those extras.
ensure_venv() {
    VENV="${VENV:-.venv}"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "[scripts] creating virtualenv $VENV" >&2
        "$(find_python)" -m venv "$VENV"
    fi
    PY="$VENV/bin/python"
    local stamp="$VENV/.tap-klaviyo-installed-$1"
    local want
    want="$("$PY" -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "[scripts] pip install -e '.[$1]' into $VENV" >&2
        "$PY" -m pip install --quiet --disable-pip-version-check -e ".[$1]"
        echo "$want" >"$stamp"
    fi
    export PATH="$PWD/$VENV/bin:$PATH"
}

export MELTANO_SEND_ANONYMOUS_USAGE_STATS="${MELTANO_SEND_ANONYMOUS_USAGE_STATS:-false}"
export MELTANO_CLI_DISABLE_VERSION_CHECK="${MELTANO_CLI_DISABLE_VERSION_CHECK:-true}"
