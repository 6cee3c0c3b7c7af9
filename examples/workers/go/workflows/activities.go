package workflows

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// ChargeRequest is GoChargeOrder's argument.
type ChargeRequest struct {
	Customer string `json:"customer"`
	Units    int    `json:"units"`
}

// GoChargeOrder pretends to charge a customer; it returns a receipt line.
func GoChargeOrder(ctx context.Context, req ChargeRequest) (string, error) {
	activity.GetLogger(ctx).Info("charging", "customer", req.Customer, "units", req.Units)
	return fmt.Sprintf("charged %s for %d units", req.Customer, req.Units), nil
}

// StockRequest is GoReserveStock's argument.
type StockRequest struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// StockDetails are the details of an OutOfStock failure, for a caller that decodes them.
type StockDetails struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
}

// GoReserveStock always finds the shelf empty: it fails with a non-retryable
// ApplicationError of type OutOfStock whose details name the sku, so the workflow that called
// it fails with an ActivityError wrapping that ApplicationError.
func GoReserveStock(ctx context.Context, req StockRequest) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("sku %s is out of stock", req.SKU), "OutOfStock", nil,
		StockDetails{SKU: req.SKU, Requested: req.Quantity, Available: 0})
}
