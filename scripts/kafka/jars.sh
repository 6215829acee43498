# Shared by start-kafka.sh and start-debezium.sh (sourced, not run).
# Copies Maven artifacts described by a pom into a cache folder, once per version.
# Cache root: $CDC_CACHE_DIR, else ~/.cache/cdc-invalidator.

KAFKA_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CDC_CACHE_DIR="${CDC_CACHE_DIR:-$HOME/.cache/cdc-invalidator}"

# fetch_jars <pom> <dest-dir> [extra mvn args...]
# Prints nothing on success; the dest dir holds the jars. A marker file makes reruns instant.
fetch_jars() {
  local pom="$1" dest="$2"
  shift 2
  if [ -f "$dest/.complete" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || { echo "mvn not found: install maven (apt-get install maven)" >&2; return 1; }
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  echo "fetching jars for $(basename "$dest") from Maven Central (once)..." >&2
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" "$@" >&2; then
    rm -rf "$tmp"
    echo "maven could not resolve $(basename "$dest")" >&2
    return 1
  fi
  touch "$tmp/.complete"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

# A free TCP port on loopback, from the kernel.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# The newest JDK whose major version is at least $1 (java on PATH first).
java_at_least() {
  local want="$1" candidate major
  for candidate in "${JAVA_HOME:-}/bin/java" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [ -x "$candidate" ] || continue
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)"
    if [ -n "$major" ] && [ "${major%%.*}" -ge "$want" ] 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "no JDK >= $want found (set JAVA_HOME)" >&2
  return 1
}
