package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	examplesv1 "example.com/temporal-gateway/examples/workers/go/gen/gateway/examples/v1"
)

// ReceiptRequest is GoReceiptWorkflow's and GoStructWorkflow's argument (plain JSON).
type ReceiptRequest struct {
	OrderID  string `json:"order_id"`
	Customer string `json:"customer"`
	// Units and UnitCents make one line; TotalCents is their product, an int64 that proto
	// JSON writes as a string.
	Units     int32 `json:"units"`
	UnitCents int64 `json:"unit_cents"`
}

func receipt(ctx workflow.Context, in ReceiptRequest) *examplesv1.Receipt {
	return &examplesv1.Receipt{
		OrderId:  in.OrderID,
		Customer: in.Customer,
		Lines: []*examplesv1.Line{
			{Sku: "APPLE-1", Quantity: in.Units, UnitCents: in.UnitCents},
		},
		TotalCents: int64(in.Units) * in.UnitCents,
		Status:     examplesv1.Status_STATUS_PAID,
		// workflow.Now, not time.Now: the same value on replay.
		IssuedAt: timestamppb.New(workflow.Now(ctx)),
	}
}

// GoReceiptWorkflow returns a protobuf message. The default converter writes it as
// json/protobuf (proto JSON: lowerCamelCase names, int64 as a string, enum names, RFC 3339
// time) with metadata messageType "gateway.examples.v1.Receipt"; under --binary-protobuf it
// goes as binary/protobuf.
func GoReceiptWorkflow(ctx workflow.Context, in ReceiptRequest) (*examplesv1.Receipt, error) {
	return receipt(ctx, in), nil
}

// GoStructWorkflow returns a google.protobuf.Struct (messageType "google.protobuf.Struct"),
// a well-known type every protobuf runtime knows.
func GoStructWorkflow(ctx workflow.Context, in ReceiptRequest) (*structpb.Struct, error) {
	return structpb.NewStruct(map[string]any{
		"order_id": in.OrderID,
		"customer": in.Customer,
		"total":    float64(int64(in.Units) * in.UnitCents),
		"tags":     []any{"struct", "protobuf"},
		"paid":     true,
	})
}

// ReceiptSummary is what GoReceiptInputWorkflow returns (plain JSON).
type ReceiptSummary struct {
	OrderID    string `json:"order_id"`
	Customer   string `json:"customer"`
	Lines      int    `json:"lines"`
	TotalCents int64  `json:"total_cents"`
	Status     string `json:"status"`
	IssuedAt   string `json:"issued_at"`
	Summary    string `json:"summary"`
}

// GoReceiptInputWorkflow takes a Receipt message as its argument. Sent as json/protobuf
// (proto JSON, e.g. {"orderId": "o-1", "totalCents": "1500", "status": "STATUS_PAID"}), it
// decodes with protojson. A json/plain payload goes through encoding/json into the generated
// struct instead, whose json tags are the snake_case proto names and which wants numbers for
// int64 and enums, and an object {"seconds": …} for the Timestamp.
func GoReceiptInputWorkflow(ctx workflow.Context, in *examplesv1.Receipt) (ReceiptSummary, error) {
	issued := ""
	if in.GetIssuedAt() != nil {
		issued = in.GetIssuedAt().AsTime().UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return ReceiptSummary{
		OrderID:    in.GetOrderId(),
		Customer:   in.GetCustomer(),
		Lines:      len(in.GetLines()),
		TotalCents: in.GetTotalCents(),
		Status:     in.GetStatus().String(),
		IssuedAt:   issued,
		Summary: fmt.Sprintf("receipt %s for %s: %d lines, %d cents, %s",
			in.GetOrderId(), in.GetCustomer(), len(in.GetLines()), in.GetTotalCents(), in.GetStatus()),
	}, nil
}
