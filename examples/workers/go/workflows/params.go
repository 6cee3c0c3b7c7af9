package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// ShipResult is what GoShipWorkflow returns.
type ShipResult struct {
	Customer string `json:"customer"`
	Count    int    `json:"count"`
	Express  bool   `json:"express"`
	Summary  string `json:"summary"`
}

// GoShipWorkflow takes three positional arguments, as Go workflows often do: a caller must
// send three payloads (a string, an integer, a boolean), not one object. With fewer payloads
// the missing arguments are their zero values; a payload that does not decode into its
// argument's type (one JSON object for customer) fails the workflow at once: FAILED, with
// "payload item 0: unable to decode: json: cannot unmarshal object into Go value of type
// string".
func GoShipWorkflow(ctx workflow.Context, customer string, count int, express bool) (ShipResult, error) {
	speed := "standard"
	if express {
		speed = "express"
	}
	return ShipResult{
		Customer: customer, Count: count, Express: express,
		Summary: fmt.Sprintf("%d parcels for %s, %s", count, customer, speed),
	}, nil
}
