#!/usr/bin/env bats
# parse_args (lib/args.sh): the contract's options, good and bad.

setup() {
  load test_helper
  load_libs
}

# parsed PROGRAM ARGS...: parse, then print the resulting settings on one line.
# shellcheck disable=SC2153 # parse_args sets them
parsed() {
  parse_args "$@"
  echo "ns=$NAMESPACE all=$ALL_NAMESPACES sel=$SELECTOR out=$OUTPUT kc=$KUBECONFIG_PATH ctx=$CONTEXT timeout=$TIMEOUT"
}

# usage_error_for PROGRAM ARGS...: parse_args must exit 2 with nothing on stdout and, on stderr, an "error: "
# line and the usage hint.
usage_error_for() {
  run --separate-stderr parse_args "$@"
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "error: "* ]]
  [[ ${stderr_lines[1]} == "Run '$1 --help' for usage." ]]
}

@test "defaults" {
  run parsed list-pods
  [ "$status" -eq 0 ]
  [ "$output" = "ns= all=false sel= out=table kc= ctx= timeout=" ]
}

@test "every option, in its separate-value form" {
  run parsed watch-pods -n demo -l app=web -o json --kubeconfig /tmp/kc --context dev --timeout 30
  [ "$status" -eq 0 ]
  [ "$output" = "ns=demo all=false sel=app=web out=json kc=/tmp/kc ctx=dev timeout=30" ]
}

@test "long options and the = forms" {
  run parsed list-pods --namespace=demo --selector=tier!=db,app=web --output=json --kubeconfig=/k --context=c
  [ "$status" -eq 0 ]
  [ "$output" = "ns=demo all=false sel=tier!=db,app=web out=json kc=/k ctx=c timeout=" ]
}

@test "short options with = or attached values" {
  run parsed list-pods -n=demo -oJSON
  [ "$status" -eq 2 ] # -oJSON parses, but JSON is not a format: values are case-sensitive
  run parsed list-pods -n=demo -ojson -lapp=web
  [ "$status" -eq 0 ]
  [ "$output" = "ns=demo all=false sel=app=web out=json kc= ctx= timeout=" ]
}

@test "-A and --all-namespaces" {
  run parsed list-pods -A
  [ "$output" = "ns= all=true sel= out=table kc= ctx= timeout=" ]
  run parsed list-pods --all-namespaces -o json
  [ "$output" = "ns= all=true sel= out=json kc= ctx= timeout=" ]
}

@test "--timeout is read as a decimal number" {
  run parsed watch-pods --timeout=08
  [ "$status" -eq 0 ]
  [[ $output == *"timeout=8" ]]
}

@test "--timeout: up to 2^31-1 seconds, leading zeros allowed" {
  run parsed watch-pods --timeout 2147483647
  [ "$status" -eq 0 ]
  [[ $output == *"timeout=2147483647" ]]
  run parsed watch-pods --timeout 000000000000005
  [ "$status" -eq 0 ]
  [[ $output == *"timeout=5" ]]
}

@test "-h prints the usage on stdout and exits 0" {
  run --separate-stderr parse_args list-pods -h
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == "Usage: list-pods [options]" ]]
  [[ $output != *--timeout* ]]
  [ -z "$stderr" ]
  run --separate-stderr parse_args watch-pods --help
  [[ $output == *"--timeout SECONDS"* ]]
}

@test "usage error: -n with -A" {
  usage_error_for list-pods -n x -A
  [[ ${stderr_lines[0]} == *"cannot be used together"* ]]
  usage_error_for list-pods -A --namespace=x
}

@test "usage error: bad -o" {
  usage_error_for list-pods -o yaml
  [ "${stderr_lines[0]}" = 'error: invalid output format "yaml": use table or json' ]
}

@test "usage error: unknown flag" {
  usage_error_for list-pods --no-such-flag
  [ "${stderr_lines[0]}" = "error: unknown flag: --no-such-flag" ]
  usage_error_for list-pods -x
}

@test "usage error: extra argument" {
  usage_error_for list-pods extra
  [ "${stderr_lines[0]}" = "error: unexpected argument: extra" ]
}

@test "usage error: a flag without its value" {
  usage_error_for list-pods -n
  [ "${stderr_lines[0]}" = "error: flag needs an argument: -n" ]
  usage_error_for list-pods -n ""
}

@test "usage error: --timeout is watch-pods only" {
  usage_error_for list-pods --timeout 5
  usage_error_for list-pods --timeout=5
}

@test "usage error: bad --timeout" {
  for bad in 0 -1 1.5 abc "" 00 +5 " 5"; do
    usage_error_for watch-pods --timeout "$bad"
  done
}

@test "usage error: --timeout beyond 2^31-1 (Bash's integers would wrap it around)" {
  for big in 2147483648 9999999999 10000000000 9223372036854775807 9223372036854775808 18446744073709551617; do
    usage_error_for watch-pods --timeout "$big"
    usage_error_for watch-pods "--timeout=$big"
  done
}

@test "usage error: an empty namespace, in every form" {
  usage_error_for list-pods -n ""
  usage_error_for list-pods --namespace ""
  usage_error_for list-pods --namespace=
  usage_error_for list-pods -n=
  usage_error_for watch-pods --namespace ""
}

@test "usage error: a value for a flag that takes none" {
  usage_error_for list-pods --all-namespaces=true
}
