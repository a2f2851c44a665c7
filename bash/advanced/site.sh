# shellcheck shell=bash
# The StaticSite API as the controller sees it (Python: site.py, Go: site.go): the names every part of the
# controller uses, in one place. site.jq holds the same vocabulary for the jq programs (jq reads no shell
# variables); the two lists are twins, kept side by side.

# shellcheck disable=SC2034 # read by the other files
SITE_GROUP=sites.example.com
# shellcheck disable=SC2034 # read by the other files
SITE_VERSION=v1alpha1
# shellcheck disable=SC2034 # read by the other files
SITE_RESOURCE=staticsites
# shellcheck disable=SC2034 # read by the other files
SITE_FINALIZER=sites.example.com/registry
# The field manager of every write, the managed-by label of every child, the events' source component.
# shellcheck disable=SC2034 # read by the other files
SITE_MANAGER=staticsite-controller
# shellcheck disable=SC2034 # read by the other files
SITE_MANAGED_SELECTOR=app.kubernetes.io/managed-by=$SITE_MANAGER
# shellcheck disable=SC2034 # read by the other files
REGISTRY_NAME=staticsite-registry
# A namespace, a DNS-1123 label, before it becomes a path: the informers check names; this is the last gate.
NAMESPACE_PATTERN='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'

# is_dns_1035_label NAME: true when NAME can name a Service (Python: site.py's is_dns_1035_label): only such
# a site gets a registry key and children; another stops at InvalidSpec. The regular expression
# ^[a-z]([-a-z0-9]*[a-z0-9])?$ as patterns, which Bash matches some three times faster (it compiles a
# regular expression at every =~, and the dispatcher asks for every site of a namespace at a registry
# change); the letters are spelled out, so no locale's collation can add any.
is_dns_1035_label() {
  local lower=abcdefghijklmnopqrstuvwxyz
  [[ ${#1} -le 63 && $1 == ["$lower"]* && $1 != *[!-"$lower"0123456789]* && $1 != *- ]]
}
