package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
)

// ConfigError is a failure to load the kubeconfig (or the in-cluster config).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string {
	if errors.Is(e.Err, ErrTLSVerificationOff) {
		return e.Err.Error()
	}
	if clientcmd.IsEmptyConfig(e.Err) {
		return "no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster"
	}
	return "cannot load kubeconfig: " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// CallError says which API call on pods failed ("list" or "watch"), so that
// the message can name it: a 403 on the watch must say "cannot watch pods".
type CallError struct {
	Verb string
	Err  error
}

func (e *CallError) Error() string { return fmt.Sprintf("cannot %s pods: %v", e.Verb, e.Err) }

func (e *CallError) Unwrap() error { return e.Err }

// Describe turns an error into the single line that the contract prints on
// stderr. host is the API server's URL and namespace the one the program
// works in ("" for all namespaces).
func Describe(err error, host, namespace string) string {
	return "error: " + oneLine(describe(err, host, namespace))
}

func describe(err error, host, namespace string) string {
	var (
		configErr *ConfigError
		call      *CallError
		status    apierrors.APIStatus
		netErr    net.Error
	)
	switch {
	case errors.As(err, &configErr):
		return configErr.Error()
	case errors.As(err, &call) && errors.As(call.Err, &status):
		// The server answered with an error status (401, 403, 500, ...).
		s := status.Status()
		return fmt.Sprintf("%s: cannot %s pods %s: %s", statusLabel(s.Code), call.Verb, scope(namespace), s.Message)
	case IsTLSFailure(err):
		return fmt.Sprintf("TLS handshake with the API server at %s failed: %v", host, cause(err))
	case errors.As(err, &netErr):
		// net/http wraps every transport failure (refused, reset, DNS,
		// timeout) in a *url.Error, which is a net.Error.
		return fmt.Sprintf("cannot reach the API server at %s: %v", host, cause(err))
	}
	return err.Error()
}

// statusLabel names an HTTP status the way the contract's messages do.
func statusLabel(code int32) string {
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		return fmt.Sprintf("%d %s", code, http.StatusText(int(code))) // "403 Forbidden"
	}
	return fmt.Sprintf("HTTP %d", code)
}

func scope(namespace string) string {
	if namespace == "" {
		return "in all namespaces"
	}
	return fmt.Sprintf("in namespace %q", namespace)
}

// IsTLSFailure recognises a failed TLS handshake: our check of the server's
// certificate failed, or the server rejected ours ("remote error: tls: ...").
func IsTLSFailure(err error) bool {
	var (
		verification *tls.CertificateVerificationError
		opErr        *net.OpError
	)
	return errors.As(err, &verification) || (errors.As(err, &opErr) && opErr.Op == "remote error")
}

// cause drops the *url.Error wrapper ("Get https://host/api/v1/...: ") that
// only repeats the host already named in the message.
func cause(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// oneLine keeps the contract's promise of exactly one line on stderr, even
// when a server or library message spans several.
func oneLine(message string) string {
	return strings.Join(strings.FieldsFunc(message, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}
