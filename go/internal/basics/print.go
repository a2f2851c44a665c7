package basics

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// NewJSONEncoder writes one compact JSON object per line. HTML escaping is
// off so that "<", ">" and "&" stay as they are, as Python's json and jq
// print them (Go would write \u003c).
func NewJSONEncoder(w io.Writer) *json.Encoder {
	encoder := json.NewEncoder(w)
	encoder.SetEscapeHTML(false)
	return encoder
}

// WriteJSON prints one JSON line per record.
func WriteJSON(w io.Writer, records []PodRecord) error {
	encoder := NewJSONEncoder(w)
	for _, record := range records {
		if err := encoder.Encode(record); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable prints the records like `kubectl get pods`, with a NAMESPACE
// column first under -A. now is the time the AGE column counts up to.
func WriteTable(w io.Writer, records []PodRecord, allNamespaces bool, now time.Time) error {
	// kubectl's own tabwriter settings: minimum width 6, tab width 4,
	// padding 3. Cells end with a tab except the last one of a line, so the
	// last column is not padded: no trailing spaces.
	table := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	header := []string{"NAME", "READY", "STATUS", "RESTARTS", "NODE", "AGE"}
	if allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	writeRow(table, header)
	for _, record := range records {
		row := []string{record.Name, record.Ready, record.Phase, fmt.Sprint(record.Restarts), nodeCell(record.Node), ageCell(record.Created, now)}
		if allNamespaces {
			row = append([]string{record.Namespace}, row...)
		}
		writeRow(table, row)
	}
	return table.Flush()
}

func writeRow(table io.Writer, cells []string) {
	fmt.Fprintln(table, strings.Join(cells, "\t"))
}

func nodeCell(node string) string {
	if node == "" {
		return "<none>" // not scheduled yet
	}
	return node
}

// ageCell is kubectl's AGE: apimachinery's HumanDuration ("45s", "3m20s",
// "5h2m", "2d3h"), or "<unknown>" without a creation time, as kubectl does.
func ageCell(created, now time.Time) string {
	if created.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(created))
}

// NoResourcesMessage is kubectl's line (on stderr) when there is no pod.
func NoResourcesMessage(namespace string) string {
	if namespace == "" {
		return "No resources found"
	}
	return fmt.Sprintf("No resources found in %s namespace.", namespace)
}
