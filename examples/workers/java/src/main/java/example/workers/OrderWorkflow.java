package example.workers;

import example.workers.Types.Approval;
import example.workers.Types.ChargeRequest;
import example.workers.Types.Item;
import example.workers.Types.OrderInput;
import example.workers.Types.OrderResult;
import example.workers.Types.OrderStatus;
import example.workers.Types.Quantity;
import example.workers.Types.SkuArg;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.UpdateValidatorMethod;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInit;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * An order held until it is approved (signal approve) or the workflow is cancelled, then charged
 * in an activity. Every handler has an explicit name and a description, so the built-in
 * __temporal_workflow_metadata query lists them. add_item's and set_quantity's validators refuse
 * a bad line or a closed order with an ApplicationFailure (InvalidItem, OrderNotOpen);
 * remove_item fails as an accepted update (ApplicationFailure ItemNotFound: in Java, as in
 * TypeScript, only a TemporalFailure fails an update; another exception fails the workflow task).
 */
@WorkflowInterface
public interface OrderWorkflow {
  @WorkflowMethod(name = "JavaOrderWorkflow")
  OrderResult run(OrderInput input);

  @SignalMethod(
      name = "approve",
      description = "Approve the order so it is charged; only the first approval counts.")
  void approve(Approval approval);

  @QueryMethod(name = "status", description = "The order: state, customer, items, units, approver.")
  OrderStatus status();

  @QueryMethod(
      name = "quantity_of",
      description = "How many of one sku the order holds; fails (ItemNotFound) if it holds none.")
  Quantity quantityOf(SkuArg arg);

  @UpdateMethod(
      name = "add_item",
      description = "Add a line (or more of a sku); refused for a bad line or a closed order.")
  OrderStatus addItem(Item item);

  @UpdateValidatorMethod(updateName = "add_item")
  void validateAddItem(Item item);

  @UpdateMethod(
      name = "remove_item",
      description = "Remove a sku's line; fails (ItemNotFound) if the order has none.")
  OrderStatus removeItem(SkuArg arg);

  /** Two positional arguments: a caller must send two payloads. */
  @UpdateMethod(
      name = "set_quantity",
      description = "Set one sku's quantity: two arguments, sku (string) and quantity (int).")
  OrderStatus setQuantity(String sku, int quantity);

  @UpdateValidatorMethod(updateName = "set_quantity")
  void validateSetQuantity(String sku, int quantity);

  class Impl implements OrderWorkflow {
    static final int MAX_QUANTITY = 100;

    private final ShopActivities activities =
        Workflow.newActivityStub(
            ShopActivities.class,
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofSeconds(10))
                .setRetryOptions(
                    RetryOptions.newBuilder()
                        .setInitialInterval(Duration.ofMillis(200))
                        .setMaximumAttempts(3)
                        .build())
                .build());
    private String state = "awaiting-approval";
    private final String customer;
    private final List<Item> items = new ArrayList<>();
    private String approvedBy;

    /**
     * The order's state comes from the input here, not in run: with update-with-start (or
     * signal-with-start) the handler runs before run does, and must see the input's items.
     */
    @WorkflowInit
    public Impl(OrderInput input) {
      customer = input.customer();
      if (input.items() != null) {
        items.addAll(input.items());
      }
    }

    @Override
    public OrderResult run(OrderInput input) {
      try {
        // Throws CanceledFailure once the workflow is asked to cancel: rethrown, the workflow
        // closes as CANCELED.
        Workflow.await(() -> approvedBy != null);
      } catch (RuntimeException e) {
        state = "cancelled";
        throw e;
      }
      state = "charging";
      OrderStatus s = status();
      String charge = activities.chargeOrder(new ChargeRequest(s.customer(), s.units()));
      state = "completed";
      return new OrderResult(s.customer(), s.items(), s.units(), s.approvedBy(), charge);
    }

    @Override
    public void approve(Approval approval) {
      if (approvedBy == null && approval.approver() != null && !approval.approver().isEmpty()) {
        approvedBy = approval.approver();
      }
    }

    @Override
    public OrderStatus status() {
      int units = items.stream().mapToInt(Item::quantity).sum();
      return new OrderStatus(state, customer, List.copyOf(items), units, approvedBy);
    }

    @Override
    public Quantity quantityOf(SkuArg arg) {
      int i = index(arg.sku());
      if (i < 0) {
        throw ApplicationFailure.newFailure("the order has no item " + arg.sku(), "ItemNotFound");
      }
      return new Quantity(arg.sku(), items.get(i).quantity());
    }

    @Override
    public OrderStatus addItem(Item item) {
      int i = index(item.sku());
      if (i >= 0) {
        items.set(i, new Item(item.sku(), items.get(i).quantity() + item.quantity()));
      } else {
        items.add(item);
      }
      return status();
    }

    @Override
    public void validateAddItem(Item item) {
      checkOpen();
      checkItem(item.sku(), item.quantity());
    }

    @Override
    public OrderStatus removeItem(SkuArg arg) {
      int i = index(arg.sku());
      if (i < 0) {
        throw ApplicationFailure.newFailure("the order has no item " + arg.sku(), "ItemNotFound");
      }
      items.remove(i);
      return status();
    }

    @Override
    public OrderStatus setQuantity(String sku, int quantity) {
      int i = index(sku);
      if (i >= 0) {
        items.set(i, new Item(sku, quantity));
      } else {
        items.add(new Item(sku, quantity));
      }
      return status();
    }

    @Override
    public void validateSetQuantity(String sku, int quantity) {
      checkOpen();
      checkItem(sku, quantity);
    }

    private int index(String sku) {
      for (int i = 0; i < items.size(); i++) {
        if (items.get(i).sku().equals(sku)) {
          return i;
        }
      }
      return -1;
    }

    private void checkOpen() {
      if (!state.equals("awaiting-approval") || approvedBy != null) {
        throw ApplicationFailure.newFailure(
            "the order is approved or closed: items can only change while it awaits approval",
            "OrderNotOpen");
      }
    }

    private static void checkItem(String sku, int quantity) {
      if (sku == null || sku.isEmpty()) {
        throw ApplicationFailure.newFailure("sku must not be empty", "InvalidItem");
      }
      if (quantity < 1 || quantity > MAX_QUANTITY) {
        throw ApplicationFailure.newFailure(
            "quantity must be 1 to " + MAX_QUANTITY + ", got " + quantity,
            "InvalidItem",
            new Quantity(sku, quantity));
      }
    }
  }
}
