#!/usr/bin/env bash
# Compile paper/main.tex into paper/main.pdf (rule paper_pdf): latexmk where TeX Live is
# installed, else tectonic (envs/tex.yaml, used with `snakemake --sdm conda`). LaTeX's own files
# (main.log, .aux, ...) go to a build folder, so paper/ holds only the sources and what users
# read. Undefined references or citations fail the build, so a PDF with "??" in it is never
# left behind.
#   bash workflow/scripts/build-pdf.sh paper/main.tex results/<preset>/paper/latex paper/main.pdf
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: build-pdf.sh <main.tex> <build folder> <output pdf>" >&2
    exit 2
fi
tex=$1
build=$(realpath -m "$2")
output=$3
name=$(basename "$tex" .tex)
mkdir -p "$build"
rm -f "$output"

# Log lines unwrapped (TeX Live wraps them at 79 characters), so each table's
# "rnnrepro table ..." line of the build folder's main.log reads as one line.
export max_print_line=10000

if command -v latexmk >/dev/null 2>&1; then
    # -g: always recompile (Snakemake removed the old PDF already); -Werror: undefined
    # references make latexmk exit non-zero.
    latexmk -pdf -g -cd -outdir="$build" -interaction=nonstopmode -halt-on-error -Werror "$tex"
elif command -v tectonic >/dev/null 2>&1; then
    tectonic --keep-logs --keep-intermediates --outdir "$build" "$tex"
    if grep -E "LaTeX Warning: (Reference|Citation).*undefined" "$build/$name.log"; then
        rm -f "$build/$name.pdf"
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
cp "$build/$name.pdf" "$output.partial"
mv "$output.partial" "$output"
