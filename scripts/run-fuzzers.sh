#!/usr/bin/env bash
# Runs each fuzz target for a bounded time. Seeds come from the shared fixtures (read in
# place, never copied into the repository); crashes fail the run.
set -euo pipefail
build_dir=$1
seconds=${2:-60}
fixtures=${HEARTH_FIXTURES:-../shared/fixtures}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/gguf"
# Seeds: the vocabulary-only files whole, and the head of each model (header, metadata and
# tensor table) so that mutations reach the parser rather than the weights.
for f in "$fixtures"/tokenizer/*.gguf "$fixtures"/models/*.gguf; do
  head -c 65536 "$f" > "$work/gguf/$(basename "$f").head"
done
cp "$fixtures"/models/stories260K.gguf "$work/gguf/"

echo "fuzzing gguf_fuzz for ${seconds}s"
"$build_dir/fuzz/gguf_fuzz" -max_total_time="$seconds" -max_len=1048576 -rss_limit_mb=2048 \
  -print_final_stats=1 "$work/gguf" 2>&1 | tail -n 12
echo "fuzz: gguf_fuzz found no crash"

if [[ -x "$build_dir/fuzz/tokenizer_fuzz" ]]; then
  mkdir -p "$work/tokenizer"
  # Seeds: the tokenizer test texts, each behind an option byte ('0'..'9' picks one of the
  # fuzzer's vocabularies; the fuzzer mutates it like the rest).
  awk -v dir="$work/tokenizer" 'BEGIN { RS = "\n__ggml_vocab_test__\n" }
    { printf "%s%s", substr("0123456789", NR % 10 + 1, 1), $0 > (dir "/seed_" NR) }' \
    "$fixtures/tokenizer/vocab-qwen2.inp"
  echo "fuzzing tokenizer_fuzz for ${seconds}s"
  "$build_dir/fuzz/tokenizer_fuzz" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/tokenizer" 2>&1 | tail -n 12
  echo "fuzz: tokenizer_fuzz found no crash"
fi

if [[ -x "$build_dir/fuzz/template_fuzz" ]]; then
  # Seeds: the real chat templates.
  mkdir -p "$work/template"
  cp "$fixtures"/templates/*.jinja "$work/template/"
  echo "fuzzing template_fuzz for ${seconds}s"
  "$build_dir/fuzz/template_fuzz" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 "$work/template" 2>&1 | tail -n 12
  echo "fuzz: template_fuzz found no crash"
fi

if [[ -x "$build_dir/fuzz/http_request_fuzz" ]]; then
  # Seeds: well-formed requests of each framing, behind the split byte the fuzzer reads first.
  mkdir -p "$work/http"
  printf '\x07GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\n\r\n' > "$work/http/get"
  printf '\x03POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n{}' > "$work/http/post"
  printf '\x05POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nT: v\r\n\r\n' > "$work/http/chunked"
  printf '\x01GET http://h/a%%20b HTTP/1.0\nConnection: keep-alive\n\n' > "$work/http/http10"
  echo "fuzzing http_request_fuzz for ${seconds}s"
  "$build_dir/fuzz/http_request_fuzz" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/http" 2>&1 | tail -n 12
  echo "fuzz: http_request_fuzz found no crash"
fi
