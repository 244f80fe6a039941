#!/bin/sh
# Install what tools/train_family.py needs (idempotent: apt-get skips what is installed).
#
#   python3-torch, python3-numpy  Debian's torch and numpy, used by /usr/bin/python3
#   libopenblas0-openmp           fast BLAS; without it Debian's torch falls back to the
#                                 reference BLAS and trains more than 10x slower
#   r-base-core, r-cran-janeaustenr  Jane Austen's novels (extracted with Rscript)
#   python3.11-doc                Python's reST documentation sources
#   libc6-dev, linux-libc-dev     C headers under /usr/include
#   bible-kjv, bible-kjv-text     King James Bible (text + the `bible` reader program)
#
# Then run the training with Debian's own interpreter (not a python3 earlier on PATH):
#   /usr/bin/python3 tools/train_family.py --help
set -eu

PKGS="python3 python3-torch python3-numpy libopenblas0-openmp \
r-base-core r-cran-janeaustenr python3.11-doc libc6-dev linux-libc-dev \
bible-kjv bible-kjv-text"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "installing:$missing"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
else
    echo "all training dependencies are installed"
fi

/usr/bin/python3 -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'
