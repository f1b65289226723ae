#!/usr/bin/env bash
# The R packages of requirements/r-packages.tsv: check the Debian route's versions, or install the
# CRAN fallback's explicit versions.
#   scripts/r-packages.sh check-debian   one line per package whose installed r-cran-* differs from the table
#   scripts/r-packages.sh install-cran   remotes::install_version() of each package not at its listed version
set -euo pipefail
table="$(dirname "$0")/../requirements/r-packages.tsv"
rows() { grep -v '^#' "$table" | tail -n +2; }
case "${1:-}" in
  check-debian)
    n=0
    while IFS=$'\t' read -r pkg deb cran; do
      have=$(dpkg-query -W -f='${Version}' "r-cran-${pkg,,}" 2>/dev/null || echo missing)
      if [ "$have" != "$deb" ]; then echo "  r-cran-${pkg,,}: $have installed, requirements/r-packages.tsv: $deb"; n=$((n+1)); fi
    done < <(rows)
    if [ "$n" = 0 ]; then echo "R: Debian route, r-cran-* versions as in requirements/r-packages.tsv";
    else echo "R: Debian route, $n package version(s) differ from requirements/r-packages.tsv (another Debian release?)"; fi ;;
  install-cran)
    echo "R: CRAN route, explicit versions from requirements/r-packages.tsv (remotes::install_version)"
    args=$(rows | awk -F'\t' '{printf "%s\"%s\"=\"%s\"", (NR>1?",":""), $1, $3}')
    Rscript -e "want <- c($args); repos <- 'https://cloud.r-project.org'
      if (!requireNamespace('remotes', quietly = TRUE)) install.packages('remotes', repos = repos)
      for (p in names(want)) {
        have <- tryCatch(as.character(packageVersion(p)), error = function(e) NA)
        if (is.na(have) || package_version(have) != package_version(gsub('-', '.', want[[p]])))
          remotes::install_version(p, version = want[[p]], repos = repos, upgrade = 'never')
      }" ;;
  *) echo "usage: $0 check-debian|install-cran" >&2; exit 2 ;;
esac
