# shellcheck shell=bash
# Command-line parsing shared by list-pods and watch-pods (see conformance/CONTRACT.md, "Options").
#
# parse_args PROGRAM ARGS... sets these globals:
#   NAMESPACE        -n value ("" when not given; kube.sh fills in the context's namespace)
#   ALL_NAMESPACES   true with -A, else false
#   SELECTOR         -l value ("" for no selector)
#   OUTPUT           table or json
#   KUBECONFIG_PATH  --kubeconfig value ("" lets kubectl find its configuration)
#   CONTEXT          --context value ("" for the current context)
#   TIMEOUT          --timeout seconds, watch-pods only ("" to watch until stopped)
# Usage errors print one "error: ..." line and a hint to stderr and exit 2.

# The largest --timeout, in seconds (2^31-1, about 68 years): the same bound in every language, which every
# timer we use (sleep, Python's signal.alarm, Go's time.Duration) can hold.
TIMEOUT_MAX=2147483647

# usage PROGRAM: the help text, on stdout.
usage() {
  local program=$1 summary timeout_option=""
  if [[ $program == watch-pods ]]; then
    summary="Print pod events (ADDED, MODIFIED, DELETED): first the existing pods, then changes as they happen."
    timeout_option=$'\n'"      --timeout SECONDS      stop after SECONDS (1 to 2147483647; default: never)"
  else
    summary="List pods, page by page, like 'kubectl get pods'."
  fi
  cat <<EOF
Usage: $program [options]

$summary

Options:
  -n, --namespace NAMESPACE  the namespace (default: the context's namespace, else "default")
  -A, --all-namespaces       every namespace
  -l, --selector SELECTOR    a label selector, e.g. app=web,tier!=db
  -o, --output FORMAT        table (default) or json
      --kubeconfig PATH      the kubeconfig file (default: kubectl's: \$KUBECONFIG, ~/.kube/config, in-cluster)
      --context NAME         the kubeconfig context (default: the current context)$timeout_option
  -h, --help                 show this help
EOF
}

# usage_error PROGRAM MESSAGE: the contract's usage error, exit 2.
usage_error() {
  printf 'error: %s\n' "$2" >&2
  printf "Run '%s --help' for usage.\n" "$1" >&2
  exit 2
}

parse_args() {
  local program=$1
  shift
  NAMESPACE="" ALL_NAMESPACES=false SELECTOR="" OUTPUT=table KUBECONFIG_PATH="" CONTEXT="" TIMEOUT=""
  while (($# > 0)); do
    case $1 in
      -h | --help)
        usage "$program"
        exit 0
        ;;
      -A | --all-namespaces) ALL_NAMESPACES=true ;;
      -n | --namespace | -l | --selector | -o | --output | --kubeconfig | --context | --timeout)
        (($# >= 2)) || usage_error "$program" "flag needs an argument: $1"
        set_option "$program" "$1" "$2"
        shift
        ;;
      --*=*) set_option "$program" "${1%%=*}" "${1#*=}" ;; # --namespace=x
      -[nlo]=*) set_option "$program" "${1:0:2}" "${1:3}" ;; # -n=x
      -[nlo]?*) set_option "$program" "${1:0:2}" "${1:2}" ;; # -nx, as kubectl, argparse and pflag allow
      -*) usage_error "$program" "unknown flag: $1" ;;
      *) usage_error "$program" "unexpected argument: $1" ;;
    esac
    shift
  done
  if [[ -n $NAMESPACE && $ALL_NAMESPACES == true ]]; then
    usage_error "$program" "-n/--namespace and -A/--all-namespaces cannot be used together"
  fi
}

# set_option PROGRAM FLAG VALUE: checks and stores the value of a flag that takes one.
# shellcheck disable=SC2034 # the options are read by the scripts and the other libraries
set_option() {
  local program=$1 flag=$2 value=$3
  case $flag in
    -n | --namespace)
      # Refused here so that, later, a non-empty NAMESPACE means "-n was given".
      [[ -n $value ]] || usage_error "$program" "$flag needs a non-empty namespace"
      NAMESPACE=$value
      ;;
    -l | --selector) SELECTOR=$value ;;
    -o | --output)
      [[ $value == table || $value == json ]] ||
        usage_error "$program" "invalid output format \"$value\": use table or json"
      OUTPUT=$value
      ;;
    --kubeconfig) KUBECONFIG_PATH=$value ;;
    --context) CONTEXT=$value ;;
    --timeout)
      [[ $program == watch-pods ]] || usage_error "$program" "unknown flag: $flag"
      # Only up to ten significant digits are read as a number: Bash's integers wrap around silently, so
      # 9223372036854775808 would become negative. 10# reads "08" as eight, not as a bad octal number.
      if ! [[ $value =~ ^0*([0-9]{1,10})$ ]] || ((10#${BASH_REMATCH[1]} == 0 || 10#${BASH_REMATCH[1]} > TIMEOUT_MAX)); then
        usage_error "$program" "invalid --timeout \"$value\": use a whole number of seconds from 1 to $TIMEOUT_MAX"
      fi
      TIMEOUT=$((10#${BASH_REMATCH[1]}))
      ;;
    -A | --all-namespaces) usage_error "$program" "$flag does not take a value" ;;
    *) usage_error "$program" "unknown flag: $flag" ;;
  esac
}
