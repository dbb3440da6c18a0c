#!/usr/bin/env bash
# Install what rnnrepro needs into the current Python environment; safe to run again.
#   bash workflow/scripts/setup.sh          Python packages + TeX (for paper/main.pdf)
# PyTorch: an existing 2.13 install is kept; otherwise torch==2.13.0 is installed first, so the
# package's range (>=2.13,<2.14) never pulls a different build.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
TEX_PACKAGES=(latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra
              texlive-fonts-recommended poppler-utils)

if ! "$PYTHON" -c 'import torch, sys; sys.exit(not torch.__version__.startswith("2.13."))' \
        2>/dev/null; then
    echo "setup: installing torch==2.13.0"
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi
echo "setup: installing rnnrepro (editable) with test tools"
"$PYTHON" -m pip install --quiet --no-build-isolation -e ".[dev]" 2>&1 \
    | grep -v "Running pip as the 'root' user" || true
"$PYTHON" -c 'import rnnrepro, torch, snakemake' || { echo "setup: install failed" >&2; exit 1; }

if ! { command -v latexmk && kpsewhich booktabs.sty; } >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing TeX for paper/main.pdf: ${TEX_PACKAGES[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${TEX_PACKAGES[@]}" >/dev/null
    else
        echo "setup: latexmk not found; install TeX Live (Debian/Ubuntu: sudo apt-get install" \
             "${TEX_PACKAGES[*]}) to build paper/main.pdf" >&2
        exit 1
    fi
fi
echo "setup: done"
