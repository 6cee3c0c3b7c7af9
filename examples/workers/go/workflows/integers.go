package workflows

import (
	"strconv"

	"go.temporal.io/sdk/workflow"
)

// IntegerInput carries one int64.
type IntegerInput struct {
	Value int64 `json:"value"`
}

// IntegerResult echoes it, as a JSON number and as a decimal string (so a reader whose JSON
// numbers are doubles can still see the exact value), with its successor.
type IntegerResult struct {
	Value   int64  `json:"value"`
	Text    string `json:"text"`
	Next    int64  `json:"next"`
	NextStr string `json:"next_text"`
}

// GoIntegerWorkflow echoes an int64: exact for every int64 (encoding/json decodes integers
// into int64 exactly); a number beyond the int64 range or with a fraction does not decode,
// and the workflow fails at once ("cannot unmarshal number … of type int64"). Next wraps
// around at 2^63−1, as Go's int64 does.
func GoIntegerWorkflow(ctx workflow.Context, in IntegerInput) (IntegerResult, error) {
	next := in.Value + 1
	return IntegerResult{
		Value: in.Value, Text: strconv.FormatInt(in.Value, 10),
		Next: next, NextStr: strconv.FormatInt(next, 10),
	}, nil
}
