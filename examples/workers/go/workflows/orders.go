package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The order workflow and its messages. Every handler is registered by name with a
// description, so Temporal's built-in __temporal_workflow_metadata query lists them (the
// gateway can compare that list with a route's declared signals, queries and updates).
const (
	SignalApprove       = "approve"
	QueryStatus         = "status"
	QueryQuantityOf     = "quantity_of"
	UpdateAddItem       = "add_item"
	UpdateRemoveItem    = "remove_item"
	UpdateSetQuantity   = "set_quantity"
	maxItemQuantity     = 100
	stateAwaiting       = "awaiting-approval"
	stateCharging       = "charging"
	stateCompleted      = "completed"
	stateCancelled      = "cancelled"
	errTypeInvalidItem  = "InvalidItem"
	errTypeNotOpen      = "OrderNotOpen"
	errTypeItemNotFound = "ItemNotFound"
)

// Item is one line of an order.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// OrderInput is GoOrderWorkflow's one argument (the gateway's request body).
type OrderInput struct {
	Customer string `json:"customer"`
	Items    []Item `json:"items"`
}

// Approval is the argument of the approve signal.
type Approval struct {
	Approver string `json:"approver"`
}

// SKUArg is the argument of the quantity_of query and the remove_item update.
type SKUArg struct {
	SKU string `json:"sku"`
}

// Quantity answers quantity_of.
type Quantity struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// OrderStatus answers the status query and every update.
type OrderStatus struct {
	State      string `json:"state"`
	Customer   string `json:"customer"`
	Items      []Item `json:"items"`
	Units      int    `json:"units"`
	ApprovedBy string `json:"approved_by,omitempty"`
}

// OrderResult is what a completed order returns.
type OrderResult struct {
	Customer   string `json:"customer"`
	Items      []Item `json:"items"`
	Units      int    `json:"units"`
	ApprovedBy string `json:"approved_by"`
	Charge     string `json:"charge"`
}

type order struct {
	status OrderStatus
}

func (o *order) snapshot() OrderStatus {
	s := o.status
	s.Items = append([]Item{}, o.status.Items...) // a copy: the answer must not change later
	s.Units = 0
	for _, it := range s.Items {
		s.Units += it.Quantity
	}
	return s
}

func (o *order) checkOpen() error {
	if o.status.State != stateAwaiting || o.status.ApprovedBy != "" {
		return temporal.NewApplicationError(
			"the order is approved or closed: items can only change while it awaits approval",
			errTypeNotOpen)
	}
	return nil
}

func checkItem(sku string, quantity int) error {
	if sku == "" {
		return temporal.NewApplicationError("sku must not be empty", errTypeInvalidItem)
	}
	if quantity < 1 || quantity > maxItemQuantity {
		return temporal.NewApplicationError(
			fmt.Sprintf("quantity must be 1 to %d, got %d", maxItemQuantity, quantity),
			errTypeInvalidItem, Quantity{SKU: sku, Quantity: quantity})
	}
	return nil
}

func (o *order) index(sku string) int {
	for i, it := range o.status.Items {
		if it.SKU == sku {
			return i
		}
	}
	return -1
}

// GoOrderWorkflow holds an order until someone approves it (signal approve) or cancels the
// workflow, then charges it in an activity. Messages:
//
//   - signal approve(Approval): the first approval counts.
//   - query status(): the OrderStatus; query quantity_of(SKUArg): one line's quantity, or a
//     typed failure (ItemNotFound) for a sku the order lacks.
//   - update add_item(Item): its validator refuses a bad line or a closed order with a typed
//     ApplicationError (InvalidItem, OrderNotOpen), so the update is rejected before it is
//     written to the history.
//   - update remove_item(SKUArg): no validator; the handler fails with a plain errors.New for
//     an unknown sku (an accepted update that fails).
//   - update set_quantity(sku string, quantity int): two positional arguments.
func GoOrderWorkflow(ctx workflow.Context, in OrderInput) (OrderResult, error) {
	o := &order{status: OrderStatus{State: stateAwaiting, Customer: in.Customer, Items: in.Items}}
	if o.status.Items == nil {
		o.status.Items = []Item{}
	}

	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus,
		func() (OrderStatus, error) { return o.snapshot(), nil },
		workflow.QueryHandlerOptions{Description: "The order: state, customer, items, units, approver."},
	); err != nil {
		return OrderResult{}, err
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryQuantityOf,
		func(arg SKUArg) (Quantity, error) {
			if i := o.index(arg.SKU); i >= 0 {
				return Quantity{SKU: arg.SKU, Quantity: o.status.Items[i].Quantity}, nil
			}
			// A typed failure: the gateway answers 500 query-failed with this type.
			return Quantity{}, temporal.NewApplicationError(
				fmt.Sprintf("the order has no item %s", arg.SKU), errTypeItemNotFound)
		},
		workflow.QueryHandlerOptions{Description: "How many of one sku the order holds; fails (ItemNotFound) if it holds none."},
	); err != nil {
		return OrderResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAddItem,
		func(ctx workflow.Context, it Item) (OrderStatus, error) {
			if i := o.index(it.SKU); i >= 0 {
				o.status.Items[i].Quantity += it.Quantity
			} else {
				o.status.Items = append(o.status.Items, it)
			}
			return o.snapshot(), nil
		},
		workflow.UpdateHandlerOptions{
			Description: "Add a line (or more of a sku); refused for a bad line or a closed order.",
			Validator: func(ctx workflow.Context, it Item) error {
				if err := o.checkOpen(); err != nil {
					return err
				}
				return checkItem(it.SKU, it.Quantity)
			},
		},
	); err != nil {
		return OrderResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRemoveItem,
		func(ctx workflow.Context, arg SKUArg) (OrderStatus, error) {
			i := o.index(arg.SKU)
			if i < 0 {
				// Deliberately a plain Go error, not an ApplicationError: the update fails
				// with the SDK's generic error type.
				return OrderStatus{}, errors.New("the order has no item " + arg.SKU)
			}
			o.status.Items = append(o.status.Items[:i], o.status.Items[i+1:]...)
			return o.snapshot(), nil
		},
		workflow.UpdateHandlerOptions{Description: "Remove a sku's line; fails if the order has none."},
	); err != nil {
		return OrderResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSetQuantity,
		// Two positional arguments: a caller must send two payloads.
		func(ctx workflow.Context, sku string, quantity int) (OrderStatus, error) {
			if i := o.index(sku); i >= 0 {
				o.status.Items[i].Quantity = quantity
			} else {
				o.status.Items = append(o.status.Items, Item{SKU: sku, Quantity: quantity})
			}
			return o.snapshot(), nil
		},
		workflow.UpdateHandlerOptions{
			Description: "Set one sku's quantity: two arguments, sku (string) and quantity (int).",
			Validator: func(ctx workflow.Context, sku string, quantity int) error {
				if err := o.checkOpen(); err != nil {
					return err
				}
				return checkItem(sku, quantity)
			},
		},
	); err != nil {
		return OrderResult{}, err
	}

	approvals := workflow.GetSignalChannelWithOptions(ctx, SignalApprove, workflow.SignalChannelOptions{
		Description: "Approve the order so it is charged; only the first approval counts.",
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var a Approval
			if !approvals.Receive(ctx, &a) {
				return
			}
			if o.status.ApprovedBy == "" && a.Approver != "" {
				o.status.ApprovedBy = a.Approver
			}
		}
	})

	// Await returns ErrCanceled once the workflow is asked to cancel; returning it closes
	// the workflow as CANCELED rather than FAILED.
	if err := workflow.Await(ctx, func() bool { return o.status.ApprovedBy != "" }); err != nil {
		o.status.State = stateCancelled
		return OrderResult{}, err
	}
	o.status.State = stateCharging
	s := o.snapshot()
	var charge string
	actx := workflow.WithActivityOptions(ctx, activityOptions())
	if err := workflow.ExecuteActivity(actx, GoChargeOrder, ChargeRequest{Customer: s.Customer, Units: s.Units}).
		Get(ctx, &charge); err != nil {
		return OrderResult{}, err
	}
	o.status.State = stateCompleted
	return OrderResult{Customer: s.Customer, Items: s.Items, Units: s.Units, ApprovedBy: s.ApprovedBy, Charge: charge}, nil
}

func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond,
			MaximumAttempts: 3,
		},
	}
}
