package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
