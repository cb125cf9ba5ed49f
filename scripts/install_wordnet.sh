#!/usr/bin/env bash
# Install WordNet 3.0 for NLTK offline (METEOR's synonym stage needs it).
#
#   scripts/install_wordnet.sh [NLTK_DATA_DIR]      (default: $NLTK_DATA, else ~/nltk_data)
#
# Source: Debian's wordnet-base + wordnet-sense-index (WordNet 3.0 under /usr/share/wordnet;
# installed with apt-get when missing and we are root), or WORDNET_SRC=<dir with data.noun ...>.
# Debian leaves out `lexnames`; we write it from the lexnames(5WN) man page (45 rows:
# number, lexicographer file, syntactic category 1 noun 2 verb 3 adj 4 adv).
# NLTK only reads corpora inside its data dirs, so the files are copied to
# <DIR>/corpora/wordnet. Afterwards: export NLTK_DATA=<DIR> (unneeded for ~/nltk_data).
# Idempotent. With network instead: python -m nltk.downloader wordnet
set -euo pipefail

target="${1:-${NLTK_DATA:-$HOME/nltk_data}}"
src="${WORDNET_SRC:-/usr/share/wordnet}"
dest="$target/corpora/wordnet"

if [[ ! -f "$src/data.noun" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "install_wordnet: installing Debian packages wordnet-base wordnet-sense-index" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wordnet-base wordnet-sense-index >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wordnet-base wordnet-sense-index >&2; }
  fi
fi
if [[ ! -f "$src/data.noun" ]]; then
  echo "install_wordnet: no WordNet 3.0 database in $src." >&2
  echo "  Debian/Ubuntu: sudo apt-get install wordnet-base wordnet-sense-index" >&2
  echo "  or set WORDNET_SRC=<dir with data.noun, index.noun, ...>" >&2
  echo "  or, with network: python -m nltk.downloader -d $target wordnet" >&2
  exit 1
fi

mkdir -p "$dest"
for f in "$src"/*; do
  [[ -f "$f" ]] && cp -f "$f" "$dest/"
done

if [[ ! -f "$dest/lexnames" ]]; then
  i=0
  {
    for entry in "adj.all 3" "adj.pert 3" "adv.all 4" \
      "noun.Tops 1" "noun.act 1" "noun.animal 1" "noun.artifact 1" "noun.attribute 1" \
      "noun.body 1" "noun.cognition 1" "noun.communication 1" "noun.event 1" "noun.feeling 1" \
      "noun.food 1" "noun.group 1" "noun.location 1" "noun.motive 1" "noun.object 1" \
      "noun.person 1" "noun.phenomenon 1" "noun.plant 1" "noun.possession 1" "noun.process 1" \
      "noun.quantity 1" "noun.relation 1" "noun.shape 1" "noun.state 1" "noun.substance 1" \
      "noun.time 1" "verb.body 2" "verb.change 2" "verb.cognition 2" "verb.communication 2" \
      "verb.competition 2" "verb.consumption 2" "verb.contact 2" "verb.creation 2" \
      "verb.emotion 2" "verb.motion 2" "verb.perception 2" "verb.possession 2" "verb.social 2" \
      "verb.stative 2" "verb.weather 2" "adj.ppl 3"; do
      set -- $entry
      printf '%02d\t%s\t%s\n' "$i" "$1" "$2"
      i=$((i + 1))
    done
  } > "$dest/lexnames"
fi

rows=$(wc -l < "$dest/lexnames")
if [[ "$rows" -ne 45 ]]; then
  echo "install_wordnet: $dest/lexnames has $rows rows, expected 45" >&2
  exit 1
fi
echo "install_wordnet: WordNet 3.0 installed in $dest; use: export NLTK_DATA=$target" >&2
