package advanced

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func deploymentWith(generation, observed int64, replicas, updated, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: generation},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated, ReadyReplicas: ready,
		},
	}
}

func TestRolloutVerdict(t *testing.T) {
	site := &StaticSite{Spec: StaticSiteSpec{Replicas: 2}}
	cases := []struct {
		name       string
		deployment *appsv1.Deployment
		want       Verdict
	}{
		{"no Deployment", nil, Verdict{metav1.ConditionFalse, ReasonProgressing, "0/2 replicas ready"}},
		{"rolled out", deploymentWith(3, 3, 2, 2, 2), Verdict{metav1.ConditionTrue, ReasonAvailable, "2/2 replicas ready"}},
		{"spec not seen yet", deploymentWith(4, 3, 2, 2, 2), Verdict{metav1.ConditionFalse, ReasonProgressing, "2/2 replicas ready"}},
		{"old pods left", deploymentWith(3, 3, 3, 2, 2), Verdict{metav1.ConditionFalse, ReasonProgressing, "2/2 replicas ready"}},
		{"not updated", deploymentWith(3, 3, 2, 1, 2), Verdict{metav1.ConditionFalse, ReasonProgressing, "2/2 replicas ready"}},
		{"not ready", deploymentWith(3, 3, 2, 2, 1), Verdict{metav1.ConditionFalse, ReasonProgressing, "1/2 replicas ready"}},
	}
	for _, c := range cases {
		if got := rolloutVerdict(site, c.deployment); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	idle := &StaticSite{Spec: StaticSiteSpec{Replicas: 0}}
	if got := rolloutVerdict(idle, deploymentWith(1, 1, 0, 0, 0)); got.Reason != ReasonAvailable || got.Message != "0/0 replicas ready" {
		t.Errorf("replicas 0: %+v", got)
	}
}

func TestProblemMessages(t *testing.T) {
	if got := conflictVerdict(KindDeployment, "web").Message; got != "Deployment web exists and is not controlled by this StaticSite" {
		t.Errorf("conflict message %q", got)
	}
	want := "name 1st-site cannot be a Service name: it must be a DNS-1035 label (lowercase letters, digits and '-', " +
		"starting with a letter, at most 63 characters)"
	if got := invalidNameVerdict("1st-site").Message; got != want {
		t.Errorf("invalid name message %q", got)
	}
}

func TestDesiredStatusKeepsTransitionTimeUnlessStatusFlips(t *testing.T) {
	first := metav1.NewTime(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	later := metav1.NewTime(first.Add(time.Minute))
	site := &StaticSite{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 2}}

	status, changed := desiredStatus(site, Verdict{metav1.ConditionFalse, ReasonProgressing, "0/1 replicas ready"}, 0, first)
	if !changed || status.URL != "http://web.ns.svc.cluster.local" || status.ObservedGeneration != 2 ||
		len(status.Conditions) != 1 || !status.Conditions[0].LastTransitionTime.Equal(&first) ||
		status.Conditions[0].ObservedGeneration != 2 {
		t.Fatalf("first status: %+v (changed %v)", status, changed)
	}
	site.Status = status

	// Same verdict: nothing to write.
	if _, changed := desiredStatus(site, Verdict{metav1.ConditionFalse, ReasonProgressing, "0/1 replicas ready"}, 0, later); changed {
		t.Error("an unchanged status is written again")
	}
	// New reason and message, same status: the time stays.
	status, changed = desiredStatus(site, conflictVerdict(KindService, "web"), 0, later)
	if !changed || !status.Conditions[0].LastTransitionTime.Equal(&first) || status.Conditions[0].Reason != ReasonChildConflict {
		t.Errorf("same status, new reason: %+v (changed %v)", status.Conditions[0], changed)
	}
	// The status flips: the time moves.
	status, _ = desiredStatus(site, Verdict{metav1.ConditionTrue, ReasonAvailable, "1/1 replicas ready"}, 1, later)
	if !status.Conditions[0].LastTransitionTime.Equal(&later) || status.ReadyReplicas != 1 {
		t.Errorf("flipped status: %+v", status)
	}
	// The site's own status was not touched (it may be the cache's).
	if site.Status.Conditions[0].Reason != ReasonProgressing {
		t.Error("desiredStatus modified the site")
	}
}
