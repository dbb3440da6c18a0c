#!/usr/bin/env bash
# Install what rnnrepro needs into the current Python environment; safe to run again.
#   bash workflow/scripts/setup.sh          Python packages + TeX (for paper/main.pdf)
# PyTorch: an installed release >= 2.4 is kept (a cluster's CUDA build stays as it is); only
# where there is none is torch==2.13.0 (the tested release) installed first, so that the
# package's range (>=2.4) never pulls a different build.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
TORCH_MIN=2.4
TEX_PACKAGES=(latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra
              texlive-fonts-recommended poppler-utils)

if ! TORCH_VERSION=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null); then
    echo "setup: no PyTorch found; installing torch==2.13.0"
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
elif ! "$PYTHON" - "$TORCH_MIN" <<'PY'
import sys
import torch
major_minor = lambda text: tuple(int(part) for part in text.split("+")[0].split(".")[:2])
sys.exit(major_minor(torch.__version__) < major_minor(sys.argv[1]))
PY
then
    echo "setup: PyTorch $TORCH_VERSION is older than rnnrepro needs ($TORCH_MIN or newer:" \
         "fused Adam on the CPU); upgrade it (pip install 'torch>=$TORCH_MIN', or your" \
         "cluster's module of a newer release) or use a fresh environment" >&2
    exit 1
else
    echo "setup: keeping the installed PyTorch $TORCH_VERSION"
fi
echo "setup: installing rnnrepro (editable) with test tools"
# The build runs in this environment (no isolated build env to download): a new venv's
# setuptools (65 with Python 3.11) is older than pyproject.toml's build requirement.
"$PYTHON" -m pip install --quiet "setuptools>=68"
"$PYTHON" -m pip install --quiet --no-build-isolation -e ".[dev]" 2>&1 \
    | grep -v "Running pip as the 'root' user" || true
"$PYTHON" -c 'import rnnrepro, torch, snakemake' || { echo "setup: install failed" >&2; exit 1; }

# TeX, for paper/main.pdf only: installed from Debian's packages where we are root with apt-get;
# elsewhere (a cluster login node) the pipeline builds everything but the PDF and says how to
# get it (`snakemake --sdm conda paper/main.pdf`, or TeX Live from the system's packages).
if command -v tectonic >/dev/null 2>&1 \
        || { command -v latexmk && kpsewhich booktabs.sty; } >/dev/null 2>&1; then
    :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing TeX for paper/main.pdf: ${TEX_PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${TEX_PACKAGES[@]}" >/dev/null
else
    echo "setup: no TeX (latexmk) found and cannot install it here (not root, or no apt-get):" \
         "the pipeline builds every table and figure but not paper/main.pdf. For the PDF," \
         "install ${TEX_PACKAGES[*]} (Debian/Ubuntu) or use snakemake --sdm conda" \
         "paper/main.pdf (envs/tex.yaml)." >&2
fi
echo "setup: done"
