#!/usr/bin/env bash
# ansible-test must run from inside ansible_collections/<ns>/<name> and resolves symlinks,
# so sanity runs on a copy of the files git knows (tracked + untracked-not-ignored).
set -euo pipefail
dest=${1:?usage: sync-sanity-tree.sh DEST}
top=$(git rev-parse --show-toplevel)
mkdir -p "$dest"
cd "$top"
git ls-files -z --cached --others --exclude-standard \
  | rsync -a --from0 --files-from=- --ignore-missing-args ./ "$dest/"
# remove copies of files that git no longer lists
comm -13 <(git ls-files --cached --others --exclude-standard | sort) \
         <(cd "$dest" && find . -type f ! -path './tests/output/*' ! -path './.git/*' | sed 's|^\./||' | sort) \
  | (cd "$dest" && xargs -r rm -f --)
# the copy lives under this repository's ignored build/: give it a repository of its own,
# or ansible-test asks the outer one which files exist and finds none
[ -d "$dest/.git" ] || git -C "$dest" init -q
