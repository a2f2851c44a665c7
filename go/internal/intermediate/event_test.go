package intermediate

import (
	"bytes"
	"strings"
	"testing"
)

func TestJSONPrinter(t *testing.T) {
	var out bytes.Buffer
	print, err := NewPrinter(&out, "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := print(Event{"MODIFIED", "demo", "web-0", "Running", "1234"}); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"MODIFIED","namespace":"demo","name":"web-0","phase":"Running","resourceVersion":"1234"}` + "\n"
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}
}

func TestTablePrinter(t *testing.T) {
	var out bytes.Buffer
	print, err := NewPrinter(&out, "table")
	if err != nil {
		t.Fatal(err)
	}
	longName := strings.Repeat("n", 45)
	for _, event := range []Event{
		{"ADDED", "demo", "web-0", "Pending", "1"},
		{"DELETED", "a-rather-long-namespace", longName, "", "2"}, // long cells push the rest right
	} {
		if err := print(event); err != nil {
			t.Fatal(err)
		}
	}
	want := "" +
		"EVENT     NAMESPACE            NAME                                     PHASE\n" +
		"ADDED     demo                 web-0                                    Pending\n" +
		"DELETED   a-rather-long-namespace " + longName + " \n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}
