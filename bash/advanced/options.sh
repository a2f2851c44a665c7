# shellcheck shell=bash
# The command line (Python: the manager's options, Go: options.go): SPEC.md's flags into globals the other
# files read (KUBECONFIG_PATH, CONTEXT, NAMESPACE, WORKERS, the leader election's, the endpoints' addresses).
# The names carry an options_ prefix: bash/lib/args.sh (the basics' and intermediate's) has parse_args.

USAGE="usage: staticsite-controller [--kubeconfig PATH] [--context NAME] [--namespace NS] [--workers N]
                             [--leader-elect] [--leader-election-namespace NS] [--leader-election-id NAME]
                             [--identity ID] [--lease-duration SECONDS] [--renew-deadline SECONDS]
                             [--retry-period SECONDS] [--health-addr HOST:PORT] [--metrics-addr HOST:PORT]"

# options_usage_error MESSAGE: exit 2.
options_usage_error() {
  printf 'error: %s\n%s\n' "$1" "$USAGE" >&2
  exit 2
}

# options_parse ARGS...: the options (SPEC.md) into globals; `--flag value` and `--flag=value` alike.
# shellcheck disable=SC2034 # the options are globals the other files read
options_parse() {
  KUBECONFIG_PATH="" CONTEXT="" NAMESPACE="" WORKERS=4
  LEADER_ELECT=false LEADER_ELECTION_NAMESPACE=staticsite-system LEADER_ELECTION_ID=staticsite-controller
  IDENTITY="${HOSTNAME:-$(uname -n)}_$$"
  LEASE_DURATION=15 RENEW_DEADLINE=10 RETRY_PERIOD=2
  HEALTH_ADDR=127.0.0.1:8081 METRICS_ADDR=127.0.0.1:8080
  local flag value has_value
  while (($# > 0)); do
    flag=${1%%=*}
    if [[ $1 == *=* ]]; then value=${1#*=} has_value=true; else value=${2-} has_value=false; fi
    case $flag in
      -h | --help)
        printf '%s\n' "$USAGE"
        exit 0
        ;;
      --leader-elect)
        case ${has_value}:$value in
          false:* | true:true) LEADER_ELECT=true ;;
          true:false) LEADER_ELECT=false ;;
          *) options_usage_error "--leader-elect takes true or false, not \"$value\"" ;;
        esac
        shift
        continue
        ;;
      --kubeconfig | --context | --namespace | --workers | --leader-election-namespace | --leader-election-id | \
        --identity | --lease-duration | --renew-deadline | --retry-period | --health-addr | --metrics-addr)
        if ! $has_value; then
          (($# >= 2)) || options_usage_error "$flag needs a value"
          shift
        fi
        ;;
      *) options_usage_error "unknown argument \"$1\"" ;;
    esac
    case $flag in
      --kubeconfig) KUBECONFIG_PATH=$value ;;
      --context) CONTEXT=$value ;;
      --namespace) NAMESPACE=$value ;;
      --workers) WORKERS=$value ;;
      --leader-election-namespace) LEADER_ELECTION_NAMESPACE=$value ;;
      --leader-election-id) LEADER_ELECTION_ID=$value ;;
      --identity) IDENTITY=$value ;;
      --lease-duration) LEASE_DURATION=$value ;;
      --renew-deadline) RENEW_DEADLINE=$value ;;
      --retry-period) RETRY_PERIOD=$value ;;
      --health-addr) HEALTH_ADDR=$value ;;
      --metrics-addr) METRICS_ADDR=$value ;;
    esac
    shift
  done
  if ! [[ $WORKERS =~ ^[0-9]+$ ]] || ((WORKERS < 1 || WORKERS > 64)); then
    options_usage_error "--workers must be a whole number from 1 to 64, not \"$WORKERS\""
  fi
  [[ -n $IDENTITY ]] || options_usage_error "--identity must not be empty"
  local name
  for name in LEASE_DURATION RENEW_DEADLINE RETRY_PERIOD; do
    duration_us "${!name}" || options_usage_error "--$(tr '_A-Z' '-a-z' <<<"$name") must be a positive number of seconds"
    printf -v "${name}_US" '%s' "$REPLY"
  done
  ((LEASE_DURATION_US > RENEW_DEADLINE_US)) || options_usage_error "--lease-duration must be greater than --renew-deadline"
  ((RENEW_DEADLINE_US * 10 > RETRY_PERIOD_US * 12)) ||
    options_usage_error "--renew-deadline must be greater than 1.2 x --retry-period" # client-go's jitter factor
  split_address "$HEALTH_ADDR" || options_usage_error "--health-addr must be HOST:PORT, not \"$HEALTH_ADDR\""
  split_address "$METRICS_ADDR" || options_usage_error "--metrics-addr must be HOST:PORT, not \"$METRICS_ADDR\""
}

# duration_us SECONDS: a positive number of seconds ("2", "0.5") in microseconds, in REPLY.
duration_us() {
  [[ $1 =~ ^([0-9]+)(\.([0-9]{1,6})[0-9]*)?$ ]] || return 1
  local fraction=${BASH_REMATCH[3]}000000
  REPLY=$((10#${BASH_REMATCH[1]} * 1000000 + 10#${fraction:0:6}))
  ((REPLY > 0))
}

# split_address HOST:PORT: HOST (empty: every interface; [v6] accepted) and PORT, in REPLY as "HOST PORT".
# HOST becomes part of socat's address, where a comma or a colon would add options: only the characters of
# an IP address or a host name pass.
split_address() {
  local host=${1%:*} port=${1##*:}
  [[ $1 == *:* && $port =~ ^[0-9]+$ ]] && ((port <= 65535)) || return 1
  host=${host#[}
  host=${host%]}
  [[ $host =~ ^[A-Za-z0-9.:-]*$ ]] || return 1
  REPLY="$host $port"
}
