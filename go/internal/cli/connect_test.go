package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// writeKubeconfig writes a kubeconfig with two contexts: "main" (current,
// namespace "from-context") and "other" (no namespace).
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	config := `apiVersion: v1
kind: Config
clusters:
- {name: main, cluster: {server: "https://127.0.0.1:6443"}}
- {name: other, cluster: {server: "https://127.0.0.2:6443"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: main, context: {cluster: main, user: u, namespace: from-context}}
- {name: other, context: {cluster: other, user: u}}
current-context: main
`
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// noClusterAround makes sure that neither the machine's kubeconfig nor an
// in-cluster service account can be found.
func noClusterAround(t *testing.T) {
	t.Setenv(clientcmd.RecommendedConfigPathEnvVar, filepath.Join(t.TempDir(), "missing"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
}

func TestConnectResolvesHostAndNamespace(t *testing.T) {
	noClusterAround(t)
	path := writeKubeconfig(t)
	tests := []struct {
		name          string
		opts          Options
		wantHost      string
		wantNamespace string
	}{
		{"the context's namespace", Options{Kubeconfig: path}, "https://127.0.0.1:6443", "from-context"},
		{"-n wins", Options{Kubeconfig: path, Namespace: "demo"}, "https://127.0.0.1:6443", "demo"},
		{"-A means all", Options{Kubeconfig: path, AllNamespaces: true}, "https://127.0.0.1:6443", ""},
		{"--context, default namespace", Options{Kubeconfig: path, Context: "other"}, "https://127.0.0.2:6443", "default"},
	}
	for _, test := range tests {
		conn, err := Connect(test.opts)
		if err != nil {
			t.Errorf("%s: %v", test.name, err)
			continue
		}
		if conn.Host != test.wantHost || conn.Namespace != test.wantNamespace {
			t.Errorf("%s: got %s, %q; want %s, %q", test.name, conn.Host, conn.Namespace, test.wantHost, test.wantNamespace)
		}
	}
}

func TestConnectReadsKUBECONFIG(t *testing.T) {
	noClusterAround(t)
	missing := filepath.Join(t.TempDir(), "missing")
	// A ":"-separated list; files that do not exist are skipped, as by kubectl.
	t.Setenv(clientcmd.RecommendedConfigPathEnvVar, missing+string(os.PathListSeparator)+writeKubeconfig(t))
	conn, err := Connect(Options{})
	if err != nil || conn.Namespace != "from-context" {
		t.Fatalf("got %+v, %v", conn, err)
	}
}

func TestConnectErrorsNameTheKubeconfig(t *testing.T) {
	noClusterAround(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"nothing found", Options{}},
		{"--kubeconfig missing", Options{Kubeconfig: filepath.Join(t.TempDir(), "missing")}},
		{"unknown --context", Options{Kubeconfig: writeKubeconfig(t), Context: "nope"}},
	}
	for _, test := range tests {
		_, err := Connect(test.opts)
		if message := Describe(err, "", ""); !strings.HasPrefix(message, "error: ") || !strings.Contains(message, "kubeconfig") {
			t.Errorf("%s: got %q", test.name, message)
		}
	}
}

// timeoutOf is the HTTP client timeout of a clientset's requests.
func timeoutOf(t *testing.T, client kubernetes.Interface) time.Duration {
	t.Helper()
	restClient, ok := client.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok || restClient.Client == nil {
		t.Fatalf("unexpected REST client %T", client.CoreV1().RESTClient())
	}
	return restClient.Client.Timeout
}

func TestConnectBoundsEveryRequest(t *testing.T) {
	noClusterAround(t)
	conn, err := Connect(Options{Kubeconfig: writeKubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := timeoutOf(t, conn.Client); got != 30*time.Second {
		t.Errorf("request timeout %v, want 30s", got)
	}
	// A watch must outlive the 300 s the server is asked to keep it open,
	// but not by much.
	if got := timeoutOf(t, conn.WatchClient); got != 330*time.Second || WatchTimeoutSeconds != 300 {
		t.Errorf("watch timeout %v (timeoutSeconds %d), want 330s (300)", got, WatchTimeoutSeconds)
	}
}

func TestConnectRefusesToSkipTLSVerification(t *testing.T) {
	noClusterAround(t)
	path := filepath.Join(t.TempDir(), "config")
	config := `apiVersion: v1
kind: Config
clusters:
- {name: main, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: main, context: {cluster: main, user: u}}
current-context: main
`
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Connect(Options{Kubeconfig: path})
	want := "error: TLS verification is turned off in the kubeconfig (insecure-skip-tls-verify: true); refusing to connect without it"
	if got := Describe(err, "", ""); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// staticsite-controller loads its configuration through ClientConfig: refused there too.
	if _, err := ClientConfig(path, "", "").ClientConfig(); !errors.Is(err, ErrTLSVerificationOff) {
		t.Errorf("ClientConfig: got %v", err)
	}
}
