# Sourced by the interop scripts (dpop-, grants-, authcode-interop.sh): the one way
# they get a Python with third-party OAuth/JOSE libraries from PyPI.
#
#   python_venv DIR IMPORTS SPEC...
#
# makes (or reuses) the venv DIR, installs SPECs with pip unless `import IMPORTS`
# already works there, and sets PYTHON to its interpreter. Installs python3-venv
# (Debian) when the system Python cannot make venvs.
python_venv() {
    local dir=$1 imports=$2; shift 2
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        local sudo_cmd=()
        if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >/dev/null
    fi
    [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
    "$dir/bin/python" -c "import $imports" 2>/dev/null || "$dir/bin/pip" install -q "$@"
    PYTHON="$dir/bin/python"
}
