#!/usr/bin/env bash
# Compile paper/main.tex into paper/main.pdf (rule paper_pdf): latexmk where TeX Live is
# installed, else tectonic (envs/tex.yaml, used with `snakemake --sdm conda`). Undefined
# references or citations fail the build, so a PDF with "??" in it is never left behind.
#   bash workflow/scripts/build-pdf.sh paper/main.tex
set -euo pipefail
tex=$1
dir=$(dirname "$tex")
name=$(basename "$tex" .tex)

# Log lines unwrapped (TeX Live wraps them at 79 characters), so each table's
# "rnnrepro table ..." line of paper/main.log reads as one line.
export max_print_line=10000

if command -v latexmk >/dev/null 2>&1; then
    # -g: always recompile (Snakemake removed the old PDF already); -Werror: undefined
    # references make latexmk exit non-zero.
    exec latexmk -pdf -g -cd -interaction=nonstopmode -halt-on-error -Werror "$tex"
elif command -v tectonic >/dev/null 2>&1; then
    tectonic --keep-logs --keep-intermediates --outdir "$dir" "$tex"
    if grep -E "LaTeX Warning: (Reference|Citation).*undefined" "$dir/$name.log"; then
        rm -f "$dir/$name.pdf"
        echo "build-pdf: undefined references in $tex (listed above)" >&2
        exit 1
    fi
else
    echo "build-pdf: no TeX found (neither latexmk nor tectonic on PATH). Install TeX Live" \
         "(Debian/Ubuntu: sudo apt-get install latexmk texlive-latex-base" \
         "texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended) or run" \
         "snakemake --sdm conda paper/main.pdf (envs/tex.yaml brings tectonic)." >&2
    exit 1
fi
