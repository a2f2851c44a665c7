package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
)

const host = "https://127.0.0.1:6443"

var pods = schema.GroupResource{Resource: "pods"}

// transportError wraps err the way net/http reports a failed request.
func transportError(err error) error {
	return &url.Error{Op: "Get", URL: host + "/api/v1/namespaces/demo/pods?limit=500", Err: err}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		namespace string
		want      string
	}{{
		name:      "403 on the list",
		err:       &CallError{Verb: "list", Err: apierrors.NewForbidden(pods, "", errors.New(`User "u" cannot list resource "pods"`))},
		namespace: "demo",
		want:      `error: 403 Forbidden: cannot list pods in namespace "demo": pods is forbidden: User "u" cannot list resource "pods"`,
	}, {
		name: "403 on the watch, all namespaces",
		err:  &CallError{Verb: "watch", Err: apierrors.NewForbidden(pods, "", errors.New("no"))},
		want: `error: 403 Forbidden: cannot watch pods in all namespaces: pods is forbidden: no`,
	}, {
		name:      "401",
		err:       &CallError{Verb: "list", Err: apierrors.NewUnauthorized("Unauthorized")},
		namespace: "demo",
		want:      `error: 401 Unauthorized: cannot list pods in namespace "demo": Unauthorized`,
	}, {
		name:      "another status",
		err:       &CallError{Verb: "list", Err: apierrors.NewInternalError(errors.New("etcd is down"))},
		namespace: "demo",
		want:      `error: HTTP 500: cannot list pods in namespace "demo": Internal error occurred: etcd is down`,
	}, {
		name: "connection refused",
		err:  &CallError{Verb: "list", Err: transportError(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})},
		want: "error: cannot reach the API server at " + host + ": dial tcp: connection refused",
	}, {
		name: "DNS",
		err:  transportError(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}),
		want: "error: cannot reach the API server at " + host + ": dial tcp: lookup nowhere.invalid: no such host",
	}, {
		name: "server certificate not trusted",
		err:  transportError(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
		want: "error: TLS handshake with the API server at " + host + " failed: tls: failed to verify certificate: x509: certificate signed by unknown authority",
	}, {
		name: "our certificate rejected",
		err:  transportError(&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}),
		want: "error: TLS handshake with the API server at " + host + " failed: remote error: tls: bad certificate",
	}, {
		name: "no kubeconfig at all",
		err:  &ConfigError{Err: clientcmd.ErrEmptyConfig},
		want: "error: no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster",
	}, {
		name: "bad kubeconfig, on one line",
		err:  &ConfigError{Err: errors.New("yaml: line 1:\n  bad")},
		want: "error: cannot load kubeconfig: yaml: line 1:   bad",
	}}
	for _, test := range tests {
		if got := Describe(test.err, host, test.namespace); got != test.want {
			t.Errorf("%s:\n got %s\nwant %s", test.name, got, test.want)
		}
	}
}
