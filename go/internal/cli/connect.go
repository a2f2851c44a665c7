package cli

import (
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// RequestTimeout bounds every request but a watch, from dialling to the
// last byte of the answer (rest.Config.Timeout, what kubectl's
// --request-timeout sets). Without it, a server that accepts the connection
// and never answers would hang the program forever.
const RequestTimeout = 30 * time.Second

// WatchTimeoutSeconds is how long the server may keep one watch open: like
// client-go's reflector, we ask it to end each watch after a while, because
// a request that lives for hours can outlive a proxy's patience without
// either end noticing. An ended watch is resumed like a dropped one.
const WatchTimeoutSeconds int64 = 300

// WatchRequestTimeout is our own bound on a watch request: a little longer
// than WatchTimeoutSeconds, so the server normally ends the watch first, but
// a server or path gone silent cannot hold us forever. RequestTimeout would
// cut every healthy watch after 30 s, hence a client of its own.
const WatchRequestTimeout = time.Duration(WatchTimeoutSeconds+30) * time.Second

// ErrTLSVerificationOff is why a kubeconfig with insecure-skip-tls-verify is
// refused: the contract says TLS is always verified.
var ErrTLSVerificationOff = errors.New("TLS verification is turned off in the kubeconfig (insecure-skip-tls-verify: true); refusing to connect without it")

// Connection is what a program needs to talk to the API server.
type Connection struct {
	Client      kubernetes.Interface // every request bounded by RequestTimeout
	WatchClient kubernetes.Interface // for watches: bounded by WatchRequestTimeout
	Host        string               // the API server's URL, for error messages
	Namespace   string               // the namespace to work in; metav1.NamespaceAll ("") under -A
}

// Connect finds the cluster the way kubectl does. client-go's clientcmd
// package implements kubectl's whole resolution, so nothing is written by hand:
//
//   - the default loading rules read $KUBECONFIG (a ":"-separated list of files,
//     merged) or else ~/.kube/config; --kubeconfig, the explicit path, wins over both;
//   - the overrides apply --context and -n, exactly like kubectl's flags;
//   - the "deferred loading" client config falls back to the in-cluster service
//     account (rest.InClusterConfig) when no kubeconfig is found.
//
// "Non-interactive" means it never prompts for a password.
func Connect(opts Options) (Connection, error) {
	config := ClientConfig(opts.Kubeconfig, opts.Context, opts.Namespace)
	restConfig, err := config.ClientConfig()
	if err != nil {
		return Connection{}, &ConfigError{Err: err}
	}
	// -n, else the context's namespace, else the service account's in a pod, else "default".
	namespace, _, err := config.Namespace()
	if err != nil {
		return Connection{}, &ConfigError{Err: err}
	}
	if opts.AllNamespaces {
		namespace = metav1.NamespaceAll
	}
	client, err := clientWithTimeout(restConfig, RequestTimeout)
	if err != nil { // e.g. a certificate file named in the kubeconfig cannot be read
		return Connection{}, &ConfigError{Err: err}
	}
	watchClient, err := clientWithTimeout(restConfig, WatchRequestTimeout)
	if err != nil {
		return Connection{}, &ConfigError{Err: err}
	}
	return Connection{Client: client, WatchClient: watchClient, Host: restConfig.Host, Namespace: namespace}, nil
}

func clientWithTimeout(config *rest.Config, timeout time.Duration) (kubernetes.Interface, error) {
	config = rest.CopyConfig(config)
	config.Timeout = timeout
	return kubernetes.NewForConfig(config)
}

// ClientConfig is the resolution Connect describes, for a program that needs
// the rest.Config itself (staticsite-controller tunes it before making its
// clients). kubeconfig, context and namespace are the flags; "" means unset.
// Its ClientConfig method refuses a configuration that turns TLS
// verification off (ErrTLSVerificationOff), for every program.
func ClientConfig(kubeconfig, context, namespace string) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	overrides := &clientcmd.ConfigOverrides{
		CurrentContext: context,
		Context:        clientcmdapi.Context{Namespace: namespace},
	}
	return verifiedClientConfig{clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)}
}

// verifiedClientConfig is a clientcmd.ClientConfig that refuses
// insecure-skip-tls-verify. client-go honours it (rest.Config.Insecure) and
// would then hand our credentials to whoever answers at the server's address.
type verifiedClientConfig struct{ loaded clientcmd.ClientConfig }

func (c verifiedClientConfig) ClientConfig() (*rest.Config, error) {
	config, err := c.loaded.ClientConfig()
	if err == nil && config.Insecure {
		return nil, ErrTLSVerificationOff
	}
	return config, err
}

// The other methods of clientcmd.ClientConfig, as they are.

func (c verifiedClientConfig) RawConfig() (clientcmdapi.Config, error) { return c.loaded.RawConfig() }

func (c verifiedClientConfig) Namespace() (string, bool, error) { return c.loaded.Namespace() }

func (c verifiedClientConfig) ConfigAccess() clientcmd.ConfigAccess { return c.loaded.ConfigAccess() }
