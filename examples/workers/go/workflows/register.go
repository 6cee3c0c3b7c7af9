// Package workflows holds the Go example worker's workflows and activities: one family per
// file, every one registered under its Go name (the workflowType routes use).
package workflows

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"
)

// Registry is what a worker registers; satisfied by worker.Worker.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers every workflow and activity by explicit name, so renaming a Go function
// cannot silently change a workflowType that routes depend on.
func Register(r Registry) {
	for name, wf := range map[string]any{
		"GoOrderWorkflow":        GoOrderWorkflow,
		"GoFailureWorkflow":      GoFailureWorkflow,
		"GoReceiptWorkflow":      GoReceiptWorkflow,
		"GoStructWorkflow":       GoStructWorkflow,
		"GoReceiptInputWorkflow": GoReceiptInputWorkflow,
		"GoShipWorkflow":         GoShipWorkflow,
		"GoIntegerWorkflow":      GoIntegerWorkflow,
	} {
		r.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: name})
	}
	for name, act := range map[string]any{
		"GoChargeOrder":  GoChargeOrder,
		"GoReserveStock": GoReserveStock,
	} {
		r.RegisterActivityWithOptions(act, activity.RegisterOptions{Name: name})
	}
}
