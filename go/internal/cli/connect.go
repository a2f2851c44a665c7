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
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{
		CurrentContext: opts.Context,
		Context:        clientcmdapi.Context{Namespace: opts.Namespace},
	}
	config := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)

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
