package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// FailureInput picks how GoFailureWorkflow fails.
type FailureInput struct {
	// Kind is one of:
	//   activity  the activity's OutOfStock error is returned as it is: the workflow fails
	//             with ActivityError -> ApplicationError(OutOfStock, details {sku, ...})
	//   wrapped   the same, wrapped by fmt.Errorf("charging failed: %w", err): the workflow's
	//             failure is an ApplicationError of type "wrapError" (the Go type's name)
	//             whose cause is the ActivityError, whose cause is OutOfStock
	//   plain     errors.New(...): an ApplicationError with an empty type (the SDK leaves the
	//             type empty for errors.errorString)
	//   declined  temporal.NewApplicationError("payment declined", "PaymentDeclined",
	//             PaymentDetails{...}, "card ending 4242"): two details
	//   panic     a panic in workflow code: the workflow TASK fails, again and again, and the
	//             workflow stays RUNNING (the worker's default BlockWorkflow panic policy)
	//   none      no failure: returns "no failure"
	Kind string `json:"kind"`
	SKU  string `json:"sku,omitempty"`
}

// PaymentDetails is the first detail of a PaymentDeclined failure.
type PaymentDetails struct {
	Reason      string `json:"reason"`
	AmountCents int64  `json:"amount_cents"`
}

// GoFailureWorkflow fails in the way its input asks for: each kind is one shape of failure a
// Go workflow can produce, for the gateway to report.
func GoFailureWorkflow(ctx workflow.Context, in FailureInput) (string, error) {
	sku := in.SKU
	if sku == "" {
		sku = "APPLE-1"
	}
	reserve := func() error {
		actx := workflow.WithActivityOptions(ctx, activityOptions())
		return workflow.ExecuteActivity(actx, GoReserveStock, StockRequest{SKU: sku, Quantity: 1}).Get(ctx, nil)
	}
	switch in.Kind {
	case "activity":
		if err := reserve(); err != nil {
			return "", err
		}
		return "reserved", nil
	case "wrapped":
		if err := reserve(); err != nil {
			return "", fmt.Errorf("charging failed: %w", err)
		}
		return "reserved", nil
	case "plain":
		return "", errors.New("the warehouse robot is stuck")
	case "declined":
		return "", temporal.NewApplicationError("payment declined", "PaymentDeclined",
			PaymentDetails{Reason: "insufficient funds", AmountCents: 4200}, "card ending 4242")
	case "panic":
		panic("GoFailureWorkflow: a bug in workflow code (kind=panic)")
	case "none":
		return "no failure", nil
	}
	return "", temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("unknown kind %q", in.Kind), "InvalidKind", nil)
}
