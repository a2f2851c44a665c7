package advanced

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A site's status: what the controller observed, computed from the site and
// its Deployment. It has plain fields (observedGeneration, readyReplicas,
// url) and one condition, Ready, a metav1.Condition: a status, a
// machine-readable reason (one of the constants below), a message for
// people, and lastTransitionTime, the moment the status last flipped, which
// is why a condition is computed from the previous one
// (meta.SetStatusCondition keeps the time unless the status changes).

// Verdict is what the Ready condition says, before it gets a time and a generation.
type Verdict struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// rolloutVerdict is Available once the Deployment has rolled out
// spec.replicas up-to-date ready pods, else Progressing. "Rolled out" is what
// `kubectl rollout status` checks: the Deployment controller has seen the
// latest spec (observedGeneration), and every pod is of the current template
// (updatedReplicas) and ready, with no old pod left over (replicas).
func rolloutVerdict(site *StaticSite, deployment *appsv1.Deployment) Verdict {
	wanted := site.Spec.Replicas
	ready := readyReplicas(deployment)
	message := fmt.Sprintf("%d/%d replicas ready", ready, wanted)
	if deployment != nil && rolledOut(deployment, wanted) {
		return Verdict{metav1.ConditionTrue, ReasonAvailable, message}
	}
	return Verdict{metav1.ConditionFalse, ReasonProgressing, message}
}

func rolledOut(deployment *appsv1.Deployment, wanted int32) bool {
	status := deployment.Status
	return status.ObservedGeneration >= deployment.Generation &&
		status.Replicas == wanted && status.UpdatedReplicas == wanted && status.ReadyReplicas == wanted
}

func conflictVerdict(kind, name string) Verdict {
	return Verdict{
		metav1.ConditionFalse,
		ReasonChildConflict,
		fmt.Sprintf("%s %s exists and is not controlled by this StaticSite", kind, name),
	}
}

func invalidNameVerdict(name string) Verdict {
	return Verdict{
		metav1.ConditionFalse,
		ReasonInvalidSpec,
		fmt.Sprintf("name %s cannot be a Service name: it must be a DNS-1035 label (lowercase letters, "+
			"digits and '-', starting with a letter, at most 63 characters)", name),
	}
}

func tooLargeVerdict(size int) Verdict {
	return Verdict{
		metav1.ConditionFalse,
		ReasonInvalidSpec,
		fmt.Sprintf("content is %d bytes: a ConfigMap holds at most %d bytes (1 MiB) of file names and bodies",
			size, ConfigMapMaxBytes),
	}
}

// refusedChildVerdict: the API server refused to write a child as invalid
// (422); reason is its message.
func refusedChildVerdict(kind, name, reason string) Verdict {
	return Verdict{metav1.ConditionFalse, ReasonInvalidSpec, fmt.Sprintf("%s %s cannot be written: %s", kind, name, reason)}
}

// readyReplicas is the Deployment's status.readyReplicas, 0 without a Deployment.
func readyReplicas(deployment *appsv1.Deployment) int32 {
	if deployment == nil {
		return 0
	}
	return deployment.Status.ReadyReplicas
}

// desiredStatus is the whole status the controller wants the site to have,
// and whether it differs from the site's current status. now is the
// transition time used if the condition is new or its status flips.
func desiredStatus(site *StaticSite, verdict Verdict, ready int32, now metav1.Time) (StaticSiteStatus, bool) {
	status := *site.Status.DeepCopy()
	status.ObservedGeneration = site.Generation
	status.ReadyReplicas = ready
	status.URL = siteURL(site.Namespace, site.Name)
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               ConditionReady,
		Status:             verdict.Status,
		Reason:             verdict.Reason,
		Message:            verdict.Message,
		ObservedGeneration: site.Generation,
		LastTransitionTime: now,
	})
	return status, !equality.Semantic.DeepEqual(status, site.Status)
}

// DeepCopy copies a status; the conditions are the only part that is shared
// otherwise. (The one deep copy this package needs: see StaticSite.)
func (s *StaticSiteStatus) DeepCopy() *StaticSiteStatus {
	out := *s
	if s.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(s.Conditions))
		for i := range s.Conditions {
			s.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
	return &out
}
