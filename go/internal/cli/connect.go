package cli

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Connection is what a program needs to talk to the API server.
type Connection struct {
	Client    kubernetes.Interface
	Host      string // the API server's URL, for error messages
	Namespace string // the namespace to work in; metav1.NamespaceAll ("") under -A
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
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil { // e.g. a certificate file named in the kubeconfig cannot be read
		return Connection{}, &ConfigError{Err: err}
	}
	return Connection{Client: client, Host: restConfig.Host, Namespace: namespace}, nil
}

// ClientConfig is the resolution Connect describes, for a program that needs
// the rest.Config itself (staticsite-controller tunes it before making its
// clients). kubeconfig, context and namespace are the flags; "" means unset.
func ClientConfig(kubeconfig, context, namespace string) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	overrides := &clientcmd.ConfigOverrides{
		CurrentContext: context,
		Context:        clientcmdapi.Context{Namespace: namespace},
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}
